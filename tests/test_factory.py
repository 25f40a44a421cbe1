"""create_model's weight sources: a 2D ImageNet ResNet file for the 2D part of every video model."""
import pytest
import torch

import tanet
from tanet import load_pretrained_2d
from tanet.checkpoint import CheckpointError as PretrainedMismatchError
from tanet.models import resnet18, resnet50


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
    # inflate_init="spread": MMAction2's ResNet3d._inflate_conv_params, w2d.unsqueeze(2).expand_as(w3d) / t
    spread = tanet.create_model("i3d333_r18", num_classes=3, num_segments=2, pretrained=path, inflate_init="spread")
    expected_3d = state["layer2.0.conv1.weight"].unsqueeze(2).expand(-1, -1, 3, -1, -1) / 3
    torch.testing.assert_close(spread.backbone.layer2[0].conv1.weight, expected_3d)


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


def test_pretrained_true_says_where_the_file_must_be(tmp_path, monkeypatch):
    monkeypatch.setenv("TANET_HOME", str(tmp_path))
    # timm's form: the model's first published weights (the official release for tanet_r50)
    with pytest.raises(FileNotFoundError) as error:
        tanet.create_model("tanet_r50", pretrained=True)
    message = str(error.value)
    assert str(tmp_path / "weights" / "tam_k400_8f.pth.tar") in message and "weights_path=" in message
    with pytest.raises(ValueError, match="no published weights for 'tanet_r18'.*tanet_r50"):
        tanet.create_model("tanet_r18", pretrained=True)
