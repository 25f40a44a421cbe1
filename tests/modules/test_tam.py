"""TAM: the fused adaptive temporal conv against the official grouped-conv formulation, and the module."""
import pytest
import torch
import torch.nn.functional as F

from tanet import TAM, TAMCapture, adaptive_temporal_conv, adaptive_temporal_conv_reference
from tanet.modules.adaptive_conv import temporal_coefficients
from tanet.modules.tap_kernels import _AdaptiveTemporalConvThenConv2d


def _inputs(num_clips=2, num_segments=8, channels=16, size=(5, 6), kernel_size=3, dtype=torch.float32, seed=0):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(num_clips * num_segments, channels, *size, generator=generator, dtype=dtype)
    kernel = torch.softmax(torch.randn(num_clips, channels, kernel_size, generator=generator, dtype=dtype), -1)
    importance = torch.rand(num_clips, channels, num_segments, generator=generator, dtype=dtype)
    return x, kernel, importance


def _loop_reference(x, kernel, importance):
    """Θ ⊗ (V ⊙ X) by the definition, one output frame at a time (independent of both implementations)."""
    num_clips, channels, kernel_size = kernel.shape
    num_segments = x.shape[0] // num_clips
    frames = x.view(num_clips, num_segments, channels, *x.shape[2:])
    out = torch.zeros_like(frames)
    for n in range(num_clips):
        for t in range(num_segments):
            for k in range(kernel_size):
                source = t + k - kernel_size // 2
                if 0 <= source < num_segments:
                    weight = kernel[n, :, k] * importance[n, :, source]
                    out[n, t] += weight[:, None, None] * frames[n, source]
    return out.view_as(x)


def test_reference_matches_definition():
    x, kernel, importance = _inputs(dtype=torch.float64)
    torch.testing.assert_close(adaptive_temporal_conv_reference(x, kernel, importance), _loop_reference(x, kernel, importance))


@pytest.mark.parametrize("kernel_size", [1, 3, 5])
@pytest.mark.parametrize("num_segments", [1, 3, 8])
def test_fused_equals_reference_float32(kernel_size, num_segments):
    x, kernel, importance = _inputs(num_segments=num_segments, kernel_size=kernel_size, channels=32, size=(7, 7))
    fused = adaptive_temporal_conv(x, kernel, importance)
    reference = adaptive_temporal_conv_reference(x, kernel, importance)
    assert (fused - reference).abs().max().item() <= 1e-5


def test_fused_without_importance_is_global_branch_only():
    x, kernel, _ = _inputs()
    ones = torch.ones(kernel.shape[0], kernel.shape[1], x.shape[0] // kernel.shape[0])
    torch.testing.assert_close(adaptive_temporal_conv(x, kernel), _loop_reference(x, kernel, ones))


def test_tap_coefficients_by_hand():
    kernel = torch.tensor([[[0.2, 0.5, 0.3]]])  # one clip, one channel
    importance = torch.tensor([[[1.0, 2.0, 3.0, 4.0]]])
    coefficients = temporal_coefficients(kernel, importance, 4)[0, :, 0]  # (T, K)
    # output frame t: Θ0·V[t-1], Θ1·V[t], Θ2·V[t+1]; zero where t±1 leaves the clip
    expected = torch.tensor([[0, 0.5 * 1, 0.3 * 2], [0.2 * 1, 0.5 * 2, 0.3 * 3], [0.2 * 2, 0.5 * 3, 0.3 * 4], [0.2 * 3, 0.5 * 4, 0]])
    torch.testing.assert_close(coefficients, expected)


@pytest.mark.parametrize("channels_last", [False, True])
def test_fused_gradcheck_float64(channels_last):
    x, kernel, importance = _inputs(num_clips=2, num_segments=5, channels=3, size=(3, 2), dtype=torch.float64)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    for tensor in (x, kernel, importance):
        tensor.requires_grad_(True)
    assert torch.autograd.gradcheck(adaptive_temporal_conv, (x, kernel, importance))


def test_fused_gradients_equal_reference_gradients():
    x, kernel, importance = _inputs(channels=8)
    grads = []
    for op in (adaptive_temporal_conv, adaptive_temporal_conv_reference):
        inputs = [t.clone().requires_grad_(True) for t in (x, kernel, importance)]
        out = op(*inputs)
        (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum().backward()
        grads.append([t.grad for t in inputs])
    for fused, reference in zip(*grads):
        torch.testing.assert_close(fused, reference, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_fused_in_low_precision(dtype):
    x, kernel, importance = _inputs(channels=16)
    reference = adaptive_temporal_conv_reference(x, kernel, importance)
    out = adaptive_temporal_conv(x.to(dtype), kernel.to(dtype), importance.to(dtype))
    assert out.dtype == dtype
    torch.testing.assert_close(out.float(), reference, atol=0.05, rtol=0.05)


def test_tam_under_cpu_autocast_bfloat16():
    tam = TAM(16, num_segments=4)
    x = torch.randn(8, 16, 6, 6)
    expected = tam(x)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = tam(x.to(torch.bfloat16))
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out.float(), expected, atol=0.1, rtol=0.05)


def test_tam_state_dict_follows_official_layout():
    tam = TAM(32, num_segments=8, alpha=2, beta=4, kernel_size=3)
    shapes = {key: tuple(value.shape) for key, value in tam.state_dict().items() if "num_batches" not in key}
    assert shapes == {
        "G.0.weight": (16, 8),
        "G.1.weight": (16,), "G.1.bias": (16,), "G.1.running_mean": (16,), "G.1.running_var": (16,),
        "G.3.weight": (3, 16),
        "L.0.weight": (8, 32, 3),
        "L.1.weight": (8,), "L.1.bias": (8,), "L.1.running_mean": (8,), "L.1.running_var": (8,),
        "L.3.weight": (32, 8, 1),
    }


def _bn_eval(x, bn):
    return (x - bn.running_mean[None, :, None] if x.dim() == 3 else x - bn.running_mean) / torch.sqrt(
        (bn.running_var[None, :, None] if x.dim() == 3 else bn.running_var) + bn.eps
    ) * (bn.weight[None, :, None] if x.dim() == 3 else bn.weight) + (bn.bias[None, :, None] if x.dim() == 3 else bn.bias)


def test_capture_matches_hand_computation_from_weights():
    torch.manual_seed(0)
    tam = TAM(8, num_segments=4, alpha=2, beta=2, kernel_size=3)
    # non-trivial BN statistics, then eval mode
    for bn in (tam.G[1], tam.L[1]):
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.5, 2.0)
        bn.weight.data.uniform_(0.5, 1.5)
        bn.bias.data.uniform_(-0.2, 0.2)
    tam.eval()
    x = torch.randn(2 * 4, 8, 3, 3)
    with TAMCapture(tam) as capture, torch.no_grad():
        out = tam(x)
    record = capture.records[""][0]
    # by hand: pool, then each branch from its weights
    pooled = x.mean(dim=(2, 3)).view(2, 4, 8).permute(0, 2, 1)  # (N, C, T)
    hidden = F.conv1d(pooled, tam.L[0].weight, padding=1)
    importance = torch.sigmoid(F.conv1d(torch.relu(_bn_eval(hidden, tam.L[1])), tam.L[3].weight))
    flat = pooled.reshape(16, 4)
    kernel = torch.softmax(torch.relu(_bn_eval(flat @ tam.G[0].weight.T, tam.G[1])) @ tam.G[3].weight.T, -1)
    torch.testing.assert_close(record.importance_map, importance)
    torch.testing.assert_close(record.adaptive_kernel, kernel.view(2, 8, 3))
    torch.testing.assert_close(out, _loop_reference(x, kernel.view(2, 8, 3), importance))


def test_capture_costs_nothing_when_off_and_detaches():
    tam = TAM(8, num_segments=2)
    assert tam._capture_sink is None
    x = torch.randn(4, 8, 2, 2, requires_grad=True)
    with TAMCapture(tam) as capture:
        tam(x).sum().backward()
        tam(x)
    assert len(capture.records[""]) == 2 and not capture.records[""][0].adaptive_kernel.requires_grad
    assert tam._capture_sink is None
    assert capture.stacked("").adaptive_kernel.shape == (4, 8, 3)


def test_capture_rejects_unknown_names():
    with pytest.raises(KeyError, match="no TAM named"):
        TAMCapture(TAM(8, 2), names=["layer9.0.tam"])


@pytest.mark.parametrize("branches", ["local", "global"])
def test_single_branch_ablations(branches):
    tam = TAM(8, num_segments=4, branches=branches).eval()
    x = torch.randn(8, 8, 3, 3)
    importance, kernel = tam.branch_outputs(x)
    if branches == "local":
        assert kernel is None and not hasattr(tam, "G")
        expected = x * importance.permute(0, 2, 1).reshape(8, 8, 1, 1)
    else:
        assert importance is None and not hasattr(tam, "L")
        expected = _loop_reference(x, kernel, torch.ones(2, 8, 4))
    torch.testing.assert_close(tam(x), expected)


def test_tam_rejects_bad_frame_count_and_even_kernel():
    with pytest.raises(ValueError, match="num_segments=4"):
        TAM(8, num_segments=4)(torch.randn(6, 8, 2, 2))
    with pytest.raises(ValueError, match="odd"):
        TAM(8, num_segments=4, kernel_size=4)


def test_fused_under_torch_compile():
    tam = TAM(16, num_segments=4).eval()
    x = torch.randn(8, 16, 5, 5, requires_grad=True)
    eager = tam(x)
    compiled = torch.compile(tam, backend="aot_eager", fullgraph=True)
    out = compiled(x)
    torch.testing.assert_close(out, eager)
    out.sum().backward()
    eager_grad = torch.autograd.grad(tam(x).sum(), x)[0]
    torch.testing.assert_close(x.grad, eager_grad)


@pytest.mark.parametrize("channels_last", [False, True])
def test_tam_then_conv_equals_conv_of_tam_with_all_gradients(channels_last, monkeypatch):
    torch.manual_seed(0)
    tam = TAM(16, num_segments=4)
    conv = torch.nn.Conv2d(16, 8, 3, stride=2, padding=1, bias=False)
    x = torch.randn(8, 16, 9, 9, dtype=torch.float64)
    if channels_last:  # the channels_last training path (runtime.channels_last): taps on strided frames
        x = x.contiguous(memory_format=torch.channels_last)
        conv.to(memory_format=torch.channels_last)
    x.requires_grad_(True)
    tam.double(), conv.double()
    fused_calls = []
    apply = _AdaptiveTemporalConvThenConv2d.apply
    monkeypatch.setattr(_AdaptiveTemporalConvThenConv2d, "apply", lambda *a: fused_calls.append(1) or apply(*a))
    results = []
    for fused in (True, False):
        for parameter in (*tam.parameters(), *conv.parameters()):
            parameter.grad = None
        x.grad = None
        out = tam.forward_then_conv(x, conv) if fused else conv(tam(x))
        (out * torch.linspace(-1, 1, out.numel(), dtype=out.dtype).view_as(out)).sum().backward()
        results.append([out.detach(), x.grad.clone()] + [p.grad.clone() for p in (*tam.parameters(), *conv.parameters())])
    assert fused_calls == [1]  # the fused path ran (channels_last frames included)
    for fused, plain in zip(*results):
        torch.testing.assert_close(fused, plain)


def _saved_bytes(model, clips):
    """Bytes the autograd graph keeps for the backward (each storage counted once)."""
    storages = {}

    def pack(tensor):
        storages[tensor.untyped_storage().data_ptr()] = tensor.untyped_storage().nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        model(clips).sum()
    return sum(storages.values())


def test_tanet_keeps_no_more_activations_than_tsn_in_training():
    import tanet

    clips = torch.randn(2, 3, 4, 128, 128)
    saved = {}
    for name in ("tanet_r50", "tsn_r50"):
        torch.manual_seed(0)
        model = tanet.create_model(name, num_classes=5, num_segments=4, width=0.25).train()
        parameters = sum(p.numel() * p.element_size() for p in model.parameters())
        saved[name] = _saved_bytes(model, clips) - parameters  # weights are saved by reference too
    # TAM's branches keep only (N, C, T)-sized tensors; its output is recomputed in the backward.
    # (Keeping the output, as conv(tam(x)) does, measures 1.09 here.)
    assert saved["tanet_r50"] / saved["tsn_r50"] < 1.02


def test_capture_takes_block_names_as_well_as_module_names():
    import tanet

    model = tanet.create_model("tanet_r18", num_classes=3, num_segments=4, width=0.125).eval()
    clips = torch.randn(2, 3, 4, 32, 32)
    with TAMCapture(model, names=["layer4.1", "backbone.layer3.1.tam", "layer2.0.tam"]) as short, torch.no_grad():
        model(clips)
    with TAMCapture(model, names=["backbone.layer4.1.tam"]) as full, torch.no_grad():
        model(clips)
    assert short.full_names == {"layer4.1": "backbone.layer4.1.tam", "backbone.layer3.1.tam": "backbone.layer3.1.tam",
                                "layer2.0.tam": "backbone.layer2.0.tam"}
    torch.testing.assert_close(short.stacked("layer4.1").adaptive_kernel,
                               full.stacked("backbone.layer4.1.tam").adaptive_kernel)
    with pytest.raises(KeyError, match="ambiguous"):
        TAMCapture(model, names=["1.tam"])
    with pytest.raises(KeyError, match="no TAM named 'layer9.0'"):
        TAMCapture(model, names=["layer9.0"])


@pytest.mark.parametrize("then_conv", [False, True])
def test_backward_adds_the_squeeze_gradient_in_place(then_conv):
    """x feeds both the squeeze and the temporal op: their two gradients must be summed into the op's dX in
    place, not into a new tensor of the feature map's size (it was one per TAM and step)."""
    from torch.profiler import profile

    def new_feature_map_sums(backward) -> int:
        # the profiler, not a dispatch mode: a Python mode holds the gradients and so blocks the in-place add
        with profile(record_shapes=True) as recording:
            backward()
        return sum(event.count for event in recording.key_averages(group_by_input_shape=True)
                   if event.key == "aten::add" and event.input_shapes[:2] == [list(x.shape)] * 2)

    torch.manual_seed(0)
    tam = TAM(16, num_segments=4)
    conv = torch.nn.Conv2d(16, 8, 3, padding=1, bias=False)
    leaf = torch.randn(8, 16, 9, 9, requires_grad=True)
    upstream = torch.randn(8, 8 if then_conv else 16, 9, 9)
    x = torch.relu(leaf * 2)  # not a leaf: its two gradients meet in the autograd engine's input buffer
    out = tam.forward_then_conv(x, conv) if then_conv else tam(x)
    assert new_feature_map_sums(lambda: out.backward(upstream)) == 0
    # and the gradient is still the official formulation's
    fused_grad, leaf.grad = leaf.grad, None
    x = torch.relu(leaf * 2)
    importance_map, adaptive_kernel = tam.branch_outputs(x)
    mixed = adaptive_temporal_conv_reference(x, adaptive_kernel, importance_map)
    (conv(mixed) if then_conv else mixed).backward(upstream)
    torch.testing.assert_close(fused_grad, leaf.grad)
