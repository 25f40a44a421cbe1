"""Models built through the registry: contract, gradients, TA-Block positions, parameter count."""
import pytest
import torch

import tanet
from tanet.errors import UsageError
from tanet.interop import infer_model_config
from tanet.models import Bottleneck, resnet26
from tanet.models.blocks import BasicBlock, zero_init_last
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
    with pytest.raises(UsageError, match=r"ResNet-18 \(BasicBlock\) has no TA-Block style 'c' \(styles: a, b, d\).*"
                                         r"tanet_r26 or tanet_r50"):
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


@pytest.mark.parametrize("name, position", [(n, p) for n in ("tanet_r26", "tanet_r50") for p in "abcd"]
                         + [("tanet_r18", p) for p in "abd"])
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


def _shifted_blocks(model):
    return [[index for index, block in enumerate(getattr(model.backbone, f"layer{stage}")) if hasattr(block, "shift")]
            for stage in (1, 2, 3, 4)]


def test_tsm_r101_shifts_every_other_block_as_official_tsm():
    # mit-han-lab/temporal-shift-module ops/temporal_shift.py:120-137 (place 'blockres'):
    # n_round = 2 if len(layer3) >= 23 else 1; block i of every stage shifts iff i % n_round == 0.
    r101 = tanet.create_model("tsm_r101", **TINY)
    assert _shifted_blocks(r101) == [[0, 2], [0, 2], list(range(0, 23, 2)), [0, 2]]
    assert _shifted_blocks(tanet.create_model("tsm_r50", **TINY)) == [[0, 1, 2], [0, 1, 2, 3], list(range(6)), [0, 1, 2]]
    assert _shifted_blocks(tanet.create_model("tsm_r18", **TINY)) == [[0, 1]] * 4
    # ResNet-26's layer3 has 2 blocks (< 23): n_round = 1, every bottleneck shifts, as in tsm_r50
    assert _shifted_blocks(tanet.create_model("tsm_r26", **TINY)) == [[0, 1]] * 4


def test_i3d_names_say_what_is_inflated():
    names = tanet.list_models("i3d*")
    assert names == ["i3d311_r101", "i3d311_r26", "i3d311_r50", "i3d333_r18", "i3d333_r34"]  # no BasicBlock 311
    for name, count in (("i3d311_r50", 16), ("i3d311_r26", 8)):  # conv1 of every bottleneck, nothing else
        model = tanet.create_model(name, **TINY)
        blocks = [block for stage in (1, 2, 3, 4) for block in getattr(model.backbone, f"layer{stage}")]
        assert len(blocks) == count and all(block.conv1.weight.shape[2:] == (3, 1, 1) for block in blocks)
        five_d = sorted(key for key, value in model.state_dict().items() if value.dim() == 5)
        assert five_d == sorted(f"backbone.layer{s}.{b}.conv1.weight" for s in (1, 2, 3, 4)
                                for b in range(len(getattr(model.backbone, f"layer{s}"))))
    r18 = tanet.create_model("i3d333_r18", **TINY)
    assert r18.backbone.layer1[0].conv1.weight.shape[2:] == (3, 3, 3)
    # the earlier name still builds the same model, recorded under today's name
    old = tanet.create_model("i3d311_r18", **TINY)
    assert old.model_config["name"] == "i3d333_r18" and old.state_dict().keys() == r18.state_dict().keys()
    spread = tanet.create_model("i3d311_r50", inflate_init="spread", **TINY)
    assert spread.backbone.layer2[1].conv1.init == "spread" and spread.model_config["inflate_init"] == "spread"
    with pytest.raises(ValueError, match="inflate_init"):
        tanet.create_model("i3d311_r50", inflate_init="middle", **TINY)


# -- ResNet-26: the CPU-sized bottleneck family ------------------------------------------------------


def _bottleneck_resnet_parameters(layers, num_classes, base=64):
    """Parameters of a torchvision-layout bottleneck ResNet, counted by hand from its layer shapes."""
    total = 3 * base * 7 * 7 + 2 * base  # stem conv + bn
    inplanes = base
    for stage, blocks in enumerate(layers):
        planes = base * 2 ** stage
        for index in range(blocks):
            total += inplanes * planes + 2 * planes  # conv1 1x1 + bn1
            total += 9 * planes * planes + 2 * planes  # conv2 3x3 + bn2
            total += planes * 4 * planes + 2 * 4 * planes  # conv3 1x1 + bn3
            if index == 0:  # the projection shortcut (stride or channel change)
                total += inplanes * 4 * planes + 2 * 4 * planes
            inplanes = 4 * planes
    return total + inplanes * num_classes + num_classes


def test_resnet26_is_timms_layout_with_torchvision_keys():
    # timm's resnet26: block=Bottleneck, layers=(2, 2, 2, 2) (pytorch-image-models timm/models/resnet.py)
    model = resnet26(num_classes=1000)
    assert model.block is Bottleneck and model.layers == (2, 2, 2, 2)
    assert sum(p.numel() for p in model.parameters()) == _bottleneck_resnet_parameters((2, 2, 2, 2), 1000)
    assert round(sum(p.numel() for p in model.parameters()) / 1e6, 1) == 16.0  # timm's model card: 16.0 M
    keys = set(model.state_dict())
    assert {"conv1.weight", "layer1.0.conv3.weight", "layer1.0.downsample.0.weight", "layer4.1.bn3.running_var",
            "fc.weight"} <= keys and not any(key.startswith("layer4.2") for key in keys)
    # the width multiplier: every channel count scales with the 64 * width base channels
    quarter = resnet26(num_classes=0, width=0.25)
    assert quarter.conv1.out_channels == 16 and quarter.num_features == 4 * 16 * 8


def test_r26_family_registered_described_and_read_back_from_its_weights():
    assert tanet.list_models("*_r26") == ["i3d311_r26", "tanet_r26", "tsm_r26", "tsn_r26"]
    for name in tanet.list_models("*_r26"):
        doc = tanet.models.model_entrypoint(name).__doc__.strip().splitlines()
        assert "ResNet-26" in doc[0] and doc[0].endswith(".")  # `tanet models` prints the first line whole
    for name, options in (("tanet_r26", {}), ("tanet_r26", {"tam_position": "d", "temporal_stages": [3, 4]}),
                          ("tsn_r26", {}), ("i3d311_r26", {})):
        model = tanet.create_model(name, **{**TINY, **options})
        # a TSN's weights are a TSM's too: a layout without the shift wrapper says which (temporal_shift=False)
        inferred = infer_model_config(model.state_dict(), temporal_shift=False if name == "tsn_r26" else None)
        assert inferred["name"] == name and inferred["width"] == TINY["width"]
        assert inferred.get("tam_position", "b") == options.get("tam_position", "b")  # b/c: left open, not guessed
        rebuilt = tanet.create_model(**{"num_segments": TINY["num_segments"], **inferred})
        assert {k: v.shape for k, v in rebuilt.state_dict().items()} == {k: v.shape for k, v in model.state_dict().items()}
    # a state dict does not tell TSM from TSN (the shift has no parameters): the flag settles it
    tsm = tanet.create_model("tsm_r26", **TINY)
    assert infer_model_config(tsm.state_dict(), temporal_shift=True)["name"] == "tsm_r26"


# -- widths and styles that cannot work: one-line usage errors ------------------------------------------


@pytest.mark.parametrize("name, smallest", [("tsn_r18", 1 / 64), ("tsm_r26", 1 / 64), ("i3d311_r26", 1 / 64),
                                            ("tanet_r18", 4 / 64), ("tanet_r26", 4 / 64)])
def test_too_small_width_names_the_smallest_that_works(name, smallest):
    # base channels = round(64 * width); a TAM at style b of layer1.0 sees `base` channels and needs tam_beta = 4
    with pytest.raises(UsageError, match=f"smallest width that works for this model is {smallest:g}") as info:
        tanet.create_model(name, num_classes=3, num_segments=4, width=1e-6)
    assert "\n" not in str(info.value)
    clips = torch.randn(1, 3, 4, 16, 16)
    assert tanet.create_model(name, num_classes=3, num_segments=4, width=smallest)(clips).shape == (1, 3)
    below = smallest - 1 / 64
    if below > 0:  # one base channel fewer: refused too
        with pytest.raises(UsageError, match="fewer than tam_beta=4"):
            tanet.create_model(name, num_classes=3, num_segments=4, width=below)


def test_smallest_width_follows_the_style_and_the_stages():
    # style d of a bottleneck sees 4 * base channels: one base channel is enough for beta = 4
    assert tanet.create_model("tanet_r26", num_classes=2, num_segments=4, width=1 / 64, tam_position="d")
    # TAM in layer3-4 only: the smallest TAM (style b of layer3.0) sees 4 * base channels
    assert tanet.create_model("tanet_r18", num_classes=2, num_segments=4, width=1 / 64, temporal_stages=(3, 4))
    with pytest.raises(UsageError, match=r"layer1\.0 \(style a\) 1 channel.*is 0.0625"):
        tanet.create_model("tanet_r26", num_classes=2, num_segments=4, width=1 / 64, tam_position="a")
    with pytest.raises(UsageError, match="is 0.125 "):
        tanet.create_model("tanet_r26", num_classes=2, num_segments=4, width=1 / 64, tam_beta=8)
    for width in (0.0, -0.5, float("nan")):
        with pytest.raises(UsageError, match="positive number"):
            tanet.create_model("tsn_r18", num_classes=2, num_segments=4, width=width)



@pytest.mark.parametrize("name, position", [("tanet_r18", "b"), ("tanet_r26", "d"), ("tsm_r26", None),
                                            ("i3d311_r26", None)])
def test_zero_init_last_makes_every_block_its_shortcut(name, position):
    options = {"tam_position": position} if position else {}
    model = tanet.create_model(name, num_classes=3, num_segments=4, width=0.25, **options).eval()
    blocks = [(n, m) for n, m in model.named_modules() if isinstance(m, (BasicBlock, Bottleneck))]
    assert zero_init_last(model) == len(blocks) > 0
    with torch.no_grad():
        for block_name, block in blocks:
            if block.downsample is not None:
                continue  # its shortcut is a strided 1x1 conv; the residual branch is still zero
            channels = block.bn1.num_features if isinstance(block, BasicBlock) else block.conv1.in_channels
            x = torch.randn(2 * 4, channels, 6, 6)
            # shortcut + 0, through the final ReLU: every temporal module (shift, TAM, inflated conv) included
            torch.testing.assert_close(block(x), torch.relu(x), msg=block_name)
