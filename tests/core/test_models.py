"""Models built through the registry: contract, gradients, TA-Block positions, 2D weights."""
import pytest
import torch
from torch import nn

import tanet
from tanet import load_pretrained_2d
from tanet.checkpoint import CheckpointError as PretrainedMismatchError
from tanet.models import resnet18, resnet50
from tanet.modules import TAM

TINY = dict(num_classes=5, num_segments=4, width=0.125)


@pytest.mark.parametrize("name", tanet.list_models())
def test_forward_backward_every_parameter_gets_a_gradient(name):
    torch.manual_seed(0)
    model = tanet.create_model(name, **TINY)
    clips = torch.randn(2, 3, 4, 32, 32)
    logits = model(clips)
    assert logits.shape == (2, 5) and torch.isfinite(logits).all()
    logits.logsumexp(dim=1).sum().backward()
    no_grad = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not no_grad, f"parameters without a finite gradient: {no_grad}"
    zero = [n for n, p in model.named_parameters() if p.grad.abs().sum() == 0]
    assert not zero, f"parameters with an all-zero gradient: {zero}"


@pytest.mark.parametrize("name", ["tanet_r18", "tsm_r50", "i3d311_r18"])
def test_model_contract(name):
    model = tanet.create_model(name, **TINY).eval()
    clips = torch.randn(3, 3, 4, 32, 32)
    features = model.forward_features(clips)
    assert features.shape[0] == 3 * 4 and features.dim() == 4
    torch.testing.assert_close(model.forward_head(features), model(clips))
    assert model.forward_head(features, pre_logits=True).shape == (3, model.num_features)
    model.reset_classifier(7)
    assert model(clips).shape == (3, 7) and model.num_classes == 7 and model.model_config["num_classes"] == 7
    rebuilt = tanet.create_model(**model.model_config)
    assert rebuilt.state_dict().keys() == model.state_dict().keys()


def test_logits_are_the_average_of_per_frame_logits():
    model = tanet.create_model("tsn_r18", **TINY).eval()
    clips = torch.randn(2, 3, 4, 32, 32)
    per_frame = []
    for t in range(4):
        frame = clips[:, :, t]
        features = model.backbone.forward_features(frame)
        per_frame.append(model.fc(torch.flatten(model.backbone.avgpool(features), 1)))
    torch.testing.assert_close(model(clips), torch.stack(per_frame, 1).mean(1))


def test_wrong_number_of_frames_raises():
    model = tanet.create_model("tanet_r18", **TINY)
    with pytest.raises(ValueError, match="num_segments=4"):
        model(torch.randn(1, 3, 8, 32, 32))
    with pytest.raises(ValueError, match=r"\(N, C, T, H, W\)"):
        model(torch.randn(4, 3, 32, 32))


def test_unknown_model_and_option_are_clear_errors():
    with pytest.raises(ValueError, match="unknown model 'tanet_r99'"):
        tanet.create_model("tanet_r99")
    with pytest.raises(TypeError, match="tam_positoin"):
        tanet.create_model("tanet_r18", tam_positoin="b")
    with pytest.raises(ValueError, match="no TAM position 'c'"):
        tanet.create_model("tanet_r18", tam_position="c", **TINY)


# -- TA-Block styles -------------------------------------------------------------------------------


def _expected_tam_input(block, position, block_input, captured):
    relu = torch.relu
    if position == "a":
        return block_input
    if position == "b":
        return relu(captured["bn1"])
    if position == "c":
        return relu(captured["bn2"])
    return captured["bn3"] if hasattr(block, "bn3") else captured["bn2"]


@pytest.mark.parametrize("name, position", [("tanet_r50", p) for p in "abcd"] + [("tanet_r18", p) for p in "abd"])
def test_tam_sits_where_the_style_says(name, position):
    model = tanet.create_model(name, tam_position=position, **TINY).eval()
    blocks = [m for m in model.modules() if hasattr(m, "conv2") and hasattr(m, "bn1")]
    assert len(blocks) == sum(model.backbone.layers) and all(isinstance(b.tam, TAM) for b in blocks)
    for block in blocks:
        width = block.conv1.out_channels if hasattr(block.conv1, "out_channels") else None
        expected_channels = {
            "a": block.conv1.in_channels,
            "b": width,
            "c": block.conv2.out_channels,
            "d": block.bn3.num_features if hasattr(block, "bn3") else block.bn2.num_features,
        }[position]
        assert block.tam.in_channels == expected_channels
    # check the actual tensor each TAM sees against the block's own intermediate outputs
    block = blocks[len(blocks) // 2]
    captured, seen = {}, {}
    hooks = [getattr(block, n).register_forward_hook(lambda m, i, o, n=n: captured.__setitem__(n, o.clone()))
             for n in ("bn1", "bn2", "bn3") if hasattr(block, n)]
    hooks.append(block.tam.register_forward_pre_hook(lambda m, i: seen.__setitem__("tam", i[0].clone())))
    hooks.append(block.register_forward_pre_hook(lambda m, i: seen.__setitem__("block", i[0].clone())))
    with torch.no_grad():
        model(torch.randn(1, 3, 4, 32, 32))
    for hook in hooks:
        hook.remove()
    torch.testing.assert_close(seen["tam"], _expected_tam_input(block, position, seen["block"], captured))


def test_temporal_stages_restrict_tam():
    model = tanet.create_model("tanet_r18", temporal_stages=(3, 4), **TINY)
    with_tam = sorted({name.split(".")[1] for name, m in model.named_modules() if isinstance(m, TAM)})
    assert with_tam == ["layer3", "layer4"]


def test_tanet_r50_published_parameter_count():
    model = tanet.create_model("tanet_r50", num_classes=400, num_segments=8)
    assert round(sum(p.numel() for p in model.parameters()) / 1e6, 1) == 25.6


# -- 2D ImageNet weights -------------------------------------------------------------------------


def torchvision_resnet_state_dict(depth, num_classes=1000, seed=0):
    """torchvision's ResNet key list and shapes, written out independently of tanet's code."""
    bottleneck = depth >= 50
    blocks = {18: [2, 2, 2, 2], 34: [3, 4, 6, 3], 50: [3, 4, 6, 3], 101: [3, 4, 23, 3]}[depth]
    generator = torch.Generator().manual_seed(seed)
    state = {}

    def bn(prefix, channels):
        state[f"{prefix}.weight"] = torch.rand(channels, generator=generator) + 0.5
        state[f"{prefix}.bias"] = torch.randn(channels, generator=generator) * 0.1
        state[f"{prefix}.running_mean"] = torch.randn(channels, generator=generator) * 0.1
        state[f"{prefix}.running_var"] = torch.rand(channels, generator=generator) + 0.5
        state[f"{prefix}.num_batches_tracked"] = torch.tensor(100)

    def conv(key, out_c, in_c, k):
        state[key] = torch.randn(out_c, in_c, k, k, generator=generator) * (2.0 / (in_c * k * k)) ** 0.5

    conv("conv1.weight", 64, 3, 7)
    bn("bn1", 64)
    inplanes = 64
    for stage, count in enumerate(blocks, start=1):
        planes = 64 * 2 ** (stage - 1)
        out_planes = planes * (4 if bottleneck else 1)
        for b in range(count):
            prefix = f"layer{stage}.{b}"
            if bottleneck:
                conv(f"{prefix}.conv1.weight", planes, inplanes, 1); bn(f"{prefix}.bn1", planes)
                conv(f"{prefix}.conv2.weight", planes, planes, 3); bn(f"{prefix}.bn2", planes)
                conv(f"{prefix}.conv3.weight", out_planes, planes, 1); bn(f"{prefix}.bn3", out_planes)
            else:
                conv(f"{prefix}.conv1.weight", planes, inplanes, 3); bn(f"{prefix}.bn1", planes)
                conv(f"{prefix}.conv2.weight", planes, planes, 3); bn(f"{prefix}.bn2", planes)
            if b == 0 and (stage > 1 or inplanes != out_planes):
                conv(f"{prefix}.downsample.0.weight", out_planes, inplanes, 1); bn(f"{prefix}.downsample.1", out_planes)
            inplanes = out_planes
    state["fc.weight"] = torch.randn(num_classes, inplanes, generator=generator) * 0.01
    state["fc.bias"] = torch.zeros(num_classes)
    return state


def test_torchvision_resnet50_state_dict_loads_strictly(tmp_path):
    state = torchvision_resnet_state_dict(50)
    model = resnet50()
    model.load_state_dict(state, strict=True)
    # and from a file, into the 2D part of TANet (only TAM keys left to their init)
    path = tmp_path / "resnet50_imagenet.pth"
    torch.save(state, path)
    video = tanet.create_model("tanet_r50", num_classes=10, num_segments=2, pretrained=path)
    left = load_pretrained_2d(video, path)
    assert left and all(".tam." in key for key in left)
    torch.testing.assert_close(video.backbone.layer3[4].conv2.weight, state["layer3.4.conv2.weight"])


def test_tsn_and_i3d_with_2d_weights_start_as_the_2d_network(tmp_path):
    state = torchvision_resnet_state_dict(18)
    path = tmp_path / "r18.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}}, path)  # wrapped + DataParallel prefix
    image_model = resnet18(num_classes=0).eval()
    image_model.load_state_dict({k: v for k, v in state.items() if not k.startswith("fc.")})
    clips = torch.randn(1, 3, 2, 64, 64)
    expected = torch.stack([image_model.forward_head(image_model.forward_features(clips[:, :, t]), pre_logits=True)
                            for t in range(2)], 1).mean(1)
    for name in ("tsn_r18", "i3d311_r18"):
        model = tanet.create_model(name, num_classes=3, num_segments=2, pretrained=path).eval()
        with torch.no_grad():
            pooled = model.forward_head(model.forward_features(clips), pre_logits=True)
        torch.testing.assert_close(pooled, expected, atol=1e-4, rtol=1e-4)
    inflated = tanet.create_model("i3d311_r18", num_classes=3, num_segments=2, pretrained=path)
    weight = inflated.backbone.layer2[0].conv1.weight
    assert weight.shape[2] == 3 and weight[:, :, 0].abs().sum() == 0 and weight[:, :, 2].abs().sum() == 0
    torch.testing.assert_close(weight[:, :, 1], state["layer2.0.conv1.weight"])


def test_mismatched_2d_checkpoint_names_file_and_keys(tmp_path):
    state = torchvision_resnet_state_dict(18)
    del state["layer1.0.bn1.running_mean"]
    state["layer9.extra"] = torch.zeros(1)
    path = tmp_path / "broken.pth"
    torch.save(state, path)
    with pytest.raises(PretrainedMismatchError, match="broken.pth") as error:
        tanet.create_model("tanet_r18", num_classes=3, num_segments=2, pretrained=path)
    assert "layer1.0.bn1.running_mean" in str(error.value) and "layer9.extra" in str(error.value)
    with pytest.raises(PretrainedMismatchError, match="shape"):
        tanet.create_model("tsn_r18", num_classes=3, num_segments=2, width=0.5, pretrained=tmp_path / "broken.pth")
    (tmp_path / "garbage.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(PretrainedMismatchError, match="garbage.pth"):
        tanet.create_model("tsn_r18", pretrained=tmp_path / "garbage.pth")
