"""The inference fast path: BatchNorm folded, channels_last, torch.compile: same logits as eager."""
from __future__ import annotations

import pytest
import torch
from torch import nn

import tanet
from tanet.errors import UsageError
from tanet.models import BasicBlock, Bottleneck
from tanet.models.inference import PointwiseConv2d, fold_batchnorm, inference_path, prepare_for_inference
from tanet.modules import TAM, TAMCapture

TINY = dict(num_classes=5, num_segments=4, width=0.125)
TOLERANCE = 1e-4


@pytest.fixture(autouse=True)
def one_compute_thread():
    """Tiny models run fastest on one thread; on a busy shared CPU, OpenMP threads that wait for each
    other make them tens of times slower (as in tests/engine/conftest.py)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def trained_looking(model: nn.Module, seed: int = 0) -> nn.Module:
    """BatchNorm statistics of real activations (cumulative train-mode passes), perturbed affine
    parameters and a classifier scaled to logits of about unit size: a fold that gets any term wrong
    moves the logits by far more than the tolerance. The last BatchNorm of each residual branch gets a
    small scale, as in trained ResNets: otherwise the residual stream of a random ResNet-101 grows until
    float32 rounding alone moves its logits by 3e-4."""
    generator = torch.Generator().manual_seed(seed)
    batchnorms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    branch_ends = {id(block.bn3 if hasattr(block, "bn3") else block.bn2) for block in model.modules()
                   if isinstance(block, (Bottleneck, BasicBlock))}
    with torch.no_grad():
        for bn in batchnorms:
            bn.momentum = None
            low, high = (0.1, 0.3) if id(bn) in branch_ends else (0.5, 1.5)
            bn.weight.copy_(low + (high - low) * torch.rand(bn.weight.shape, generator=generator))
            bn.bias.copy_(0.3 * torch.randn(bn.bias.shape, generator=generator))
        model.train()
        for _ in range(2):
            model(torch.randn(3, 3, model.num_segments, 32, 32, generator=generator))
        for bn in batchnorms:
            bn.momentum = 0.1
        model.eval()
        features = model.forward_head(model.forward_features(torch.randn(3, 3, model.num_segments, 32, 32)), True)
        scale = float(features.norm(dim=1).mean())
        model.fc.weight.copy_(torch.randn(model.fc.weight.shape, generator=generator) / scale)
    return model


def batchnorms(model: nn.Module) -> list[str]:
    return [name for name, m in model.named_modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


@pytest.mark.parametrize("name", tanet.list_models())
def test_fused_path_gives_the_eager_logits_for_every_family(name):
    torch.manual_seed(0)
    model = trained_looking(tanet.create_model(name, **TINY))
    clips = torch.randn(2, 3, 4, 32, 32)
    before = {key: value.clone() for key, value in model.state_dict().items()}
    with torch.no_grad():
        expected = model(clips)
        fused = prepare_for_inference(model, "fused")
        got = fused(clips)
    assert expected.abs().max() > 0.5  # logits of a useful scale, so the tolerance means something
    assert float((got - expected).abs().max()) <= TOLERANCE
    assert batchnorms(fused) == []  # every BatchNorm folded, TAM's branch BatchNorms included
    # every block runs the forward that adds the identity in place; the original keeps its own
    assert not any(type(m) in (Bottleneck, BasicBlock) for m in fused.modules())
    assert any(type(m) in (Bottleneck, BasicBlock) for m in model.modules())
    # the original is untouched: same keys, same values, same mode
    assert model.state_dict().keys() == before.keys()
    assert all(torch.equal(model.state_dict()[key], value) for key, value in before.items())
    assert batchnorms(model) and not model.training and inference_path(model) == "eager"
    assert inference_path(fused) == "fused"


def test_fold_batchnorm_of_one_conv_matches_the_formula():
    """conv (with bias) -> BN by hand: W' = W·γ/σ, b' = (b - μ)·γ/σ + β."""
    torch.manual_seed(0)
    model = tanet.create_model("tsn_r18", **TINY).eval()
    conv, bn = model.backbone.conv1, model.backbone.bn1
    with torch.no_grad():
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
        bn.weight.uniform_(0.5, 2)
        bn.bias.uniform_(-1, 1)
    sigma = (bn.running_var + bn.eps).sqrt()
    expected_weight = conv.weight * (bn.weight / sigma)[:, None, None, None]
    expected_bias = bn.bias - bn.running_mean * bn.weight / sigma
    folded = fold_batchnorm(model)
    assert folded == len(batchnorms(tanet.create_model("tsn_r18", **TINY)))
    torch.testing.assert_close(model.backbone.conv1.weight, expected_weight)
    torch.testing.assert_close(model.backbone.conv1.bias, expected_bias)
    assert isinstance(model.backbone.bn1, nn.Identity)


def test_fold_batchnorm_refuses_a_model_in_training_mode():
    model = tanet.create_model("tanet_r18", **TINY).train()
    with pytest.raises(ValueError, match="eval mode"):
        fold_batchnorm(model)


def test_tam_capture_sees_the_same_kernels_on_the_fused_model():
    """The kernel analysis reads V and Θ through TAMCapture; folding TAM's branch BatchNorms keeps them."""
    torch.manual_seed(0)
    model = trained_looking(tanet.create_model("tanet_r18", **TINY))
    fused = prepare_for_inference(model, "fused")
    clips = torch.randn(2, 3, 4, 32, 32)
    with torch.no_grad(), TAMCapture(model) as eager_capture, TAMCapture(fused) as fused_capture:
        model(clips)
        fused(clips)
    assert eager_capture.records.keys() == fused_capture.records.keys()
    for name in eager_capture.records:
        eager, fast = eager_capture.stacked(name), fused_capture.stacked(name)
        torch.testing.assert_close(fast.importance_map, eager.importance_map, atol=1e-5, rtol=0)
        torch.testing.assert_close(fast.adaptive_kernel, eager.adaptive_kernel, atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", ["tanet_r18", "i3d311_r18"])
def test_fused_path_is_channels_last_end_to_end(name):
    model = prepare_for_inference(trained_looking(tanet.create_model(name, **TINY)), "fused")
    kernels = [p for p in model.parameters() if p.dim() in (4, 5)]
    assert kernels and all(
        p.is_contiguous(memory_format=torch.channels_last if p.dim() == 4 else torch.channels_last_3d) for p in kernels
    )
    with torch.no_grad():
        features = model.forward_features(torch.randn(2, 3, 4, 64, 64))  # last stage 2x2: layouts differ
    assert features.is_contiguous(memory_format=torch.channels_last) and not features.is_contiguous()


def test_inplace_converts_the_model_itself_and_it_refuses_to_train():
    model = trained_looking(tanet.create_model("tanet_r18", **TINY))
    prepared = prepare_for_inference(model, "fused", inplace=True)
    assert prepared is model and batchnorms(model) == []
    model.train()
    with pytest.raises(RuntimeError, match="prepared for inference"):
        model(torch.randn(1, 3, 4, 32, 32))


def test_eager_mode_only_sets_eval_and_unknown_modes_are_usage_errors():
    model = tanet.create_model("tanet_r18", **TINY).train()
    eager = prepare_for_inference(model, "eager", inplace=True)
    assert eager is model and not model.training and batchnorms(model)
    with pytest.raises(UsageError, match="eager, fused, compiled"):
        prepare_for_inference(model, "fast")


def test_compiled_mode_compiles_the_fused_model_with_frozen_weights(monkeypatch):
    """Which compile call the compiled path makes (compiling a ResNet takes tens of seconds; the logits
    of a real compile are checked by benchmarks/bench_peers.py before it times anything)."""
    calls = []
    monkeypatch.setattr(nn.Module, "compile", lambda self, *args, **kwargs: calls.append((self, args, kwargs)))
    model = trained_looking(tanet.create_model("tanet_r18", **TINY))
    compiled = prepare_for_inference(model, "compiled")
    assert calls == [(compiled, (), {"dynamic": False, "options": {"freezing": True}})]
    # inductor fuses ReLUs and residual sums itself, from the plain convolutions
    assert not any(isinstance(m, PointwiseConv2d) for m in compiled.modules())
    assert batchnorms(compiled) == [] and inference_path(compiled) == "compiled"
    assert not any(p.requires_grad for p in compiled.parameters())  # freezing needs constant weights


def test_fused_tanet_traces_into_one_graph_without_breaks():
    """What torch.compile needs from TAM: the fused op (an autograd.Function with in-place taps) traces
    without a graph break, so inductor sees the whole network."""
    model = prepare_for_inference(trained_looking(tanet.create_model("tanet_r18", **TINY)), "fused")
    with torch.no_grad():
        explanation = torch._dynamo.explain(model)(torch.randn(2, 3, 4, 32, 32))
    assert explanation.graph_break_count == 0 and explanation.graph_count == 1
    assert any(isinstance(m, TAM) for m in model.modules())


needs_onednn = pytest.mark.skipif(not torch.backends.mkldnn.is_available(), reason="this torch has no oneDNN")


@needs_onednn
def test_fused_path_gives_each_block_its_relus_and_residual_sum_as_post_ops():
    model = prepare_for_inference(trained_looking(tanet.create_model("tanet_r26", **TINY)), "fused")
    blocks = [m for m in model.modules() if isinstance(m, Bottleneck)]
    assert blocks and all(isinstance(getattr(b, name), PointwiseConv2d) for b in blocks for name in ("conv1", "conv2", "conv3"))
    assert [b.conv3.relu for b in blocks] == [False] * len(blocks)  # conv3's ReLU comes after the sum (add_relu)
    assert model.backbone.conv1.relu and isinstance(model.backbone.relu, nn.Identity)  # the stem
    # kept as they were: a TAM before the residual sum (style d), an inflated conv1 (I3D), the export layout
    style_d = prepare_for_inference(trained_looking(tanet.create_model("tanet_r26", tam_position="d", **TINY)), "fused")
    i3d = prepare_for_inference(trained_looking(tanet.create_model("i3d311_r26", **TINY)), "fused")
    export = prepare_for_inference(trained_looking(tanet.create_model("tanet_r26", **TINY)), "fused", channels_last=False)
    for kept in (style_d, i3d, export):
        assert not any(isinstance(getattr(b, "conv3"), PointwiseConv2d) for b in kept.modules() if isinstance(b, Bottleneck))
    clips = torch.randn(2, 3, 4, 32, 32)
    with torch.no_grad():  # style d's logits (its blocks take the old path) still match
        eager = trained_looking(tanet.create_model("tanet_r26", tam_position="d", **TINY))
        fused = prepare_for_inference(eager, "fused")
        assert float((fused(clips) - eager(clips)).abs().max()) <= TOLERANCE


@needs_onednn
@pytest.mark.parametrize("stride", [1, 2])
def test_pointwise_conv_equals_conv_relu_and_conv_sum_relu(stride):
    """The oneDNN post-ops against the plain ops, and the same module's fallback (autograd) path."""
    torch.manual_seed(0)
    conv = nn.Conv2d(8, 16, 3, stride=stride, padding=1, bias=True).to(memory_format=torch.channels_last)
    x = torch.randn(4, 8, 9, 9).contiguous(memory_format=torch.channels_last)
    residual = torch.randn(4, 16, *conv(x).shape[2:])
    kept = residual.clone()
    expected_relu = torch.relu(conv(x)).detach()
    expected_sum = torch.relu(conv(x) + residual).detach()
    fused, plain = PointwiseConv2d(conv, relu=True), PointwiseConv2d(conv, relu=False)
    with torch.no_grad():
        torch.testing.assert_close(fused(x), expected_relu)
        torch.testing.assert_close(plain(x), conv(x))
        torch.testing.assert_close(plain.add_relu(x, residual), expected_sum)
    assert torch.equal(residual, kept)  # the residual is read, not written
    needs_grad = x.clone().requires_grad_(True)  # autograd: the ordinary ops, with gradients
    torch.testing.assert_close(plain.add_relu(needs_grad, residual), expected_sum)
    fused(needs_grad).sum().backward()
    assert needs_grad.grad is not None and torch.equal(residual, kept)
