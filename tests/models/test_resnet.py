"""Models built through the registry: contract, gradients, TA-Block positions, parameter count."""
import pytest
import torch

import tanet
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


def test_i3d_names_say_what_is_inflated():
    names = tanet.list_models("i3d*")
    assert names == ["i3d311_r101", "i3d311_r50", "i3d333_r18", "i3d333_r34"]  # no BasicBlock model called 311
    r50 = tanet.create_model("i3d311_r50", **TINY)
    blocks = [block for stage in (1, 2, 3, 4) for block in getattr(r50.backbone, f"layer{stage}")]
    assert len(blocks) == 16 and all(block.conv1.weight.shape[2:] == (3, 1, 1) for block in blocks)
    r18 = tanet.create_model("i3d333_r18", **TINY)
    assert r18.backbone.layer1[0].conv1.weight.shape[2:] == (3, 3, 3)
    # the earlier name still builds the same model, recorded under today's name
    old = tanet.create_model("i3d311_r18", **TINY)
    assert old.model_config["name"] == "i3d333_r18" and old.state_dict().keys() == r18.state_dict().keys()
    spread = tanet.create_model("i3d311_r50", inflate_init="spread", **TINY)
    assert spread.backbone.layer2[1].conv1.init == "spread" and spread.model_config["inflate_init"] == "spread"
    with pytest.raises(ValueError, match="inflate_init"):
        tanet.create_model("i3d311_r50", inflate_init="middle", **TINY)
