"""Official parameter groups, partial BN, LR schedules and the linear scaling rule."""
from __future__ import annotations

import math
import re

import pytest
import torch
from torch import nn

import tanet
from tanet.engine.optim import (
    build_optimizer,
    build_param_groups,
    partial_bn_layers,
    scaled_lr,
    set_train_mode,
)
from tanet.engine.schedule import ScheduledLR, WarmupSchedule


@pytest.fixture(scope="module")
def model():
    return tanet.create_model("tanet_r18", num_classes=5, num_segments=4, width=0.125)


def _names(model, group):
    ids = {id(p): n for n, p in model.named_parameters()}
    return sorted(ids[id(p)] for p in group["params"])


def _by_name(model, **kwargs):
    return {g["name"]: _names(model, g) for g in build_param_groups(model, **kwargs)}


def test_official_groups_by_hand(model):
    # ResNet-18: stem conv1, 2 blocks x 4 stages with conv1+conv2, a downsample conv in
    # stages 2-4; each block has a TAM: Conv1d L.0/L.3 (no bias), Linear G.0/G.3 (no bias),
    # BatchNorm1d G.1/L.1. Classifier fc (weight + bias).
    params = dict(model.named_parameters())
    groups = _by_name(model, linear_policy="official")
    convs = [n for n in params if re.search(r"(conv\d|downsample\.0|tam\.L\.[03])\.weight$", n)]
    assert groups["first_conv_weight"] == ["backbone.conv1.weight"]
    assert groups["normal_weight"] == sorted(set(convs) - {"backbone.conv1.weight"})
    assert len(groups["normal_weight"]) == 8 * 2 + 3 + 8 * 2  # block convs, downsample, TAM
    lr5 = sorted(n for n in params if re.search(r"tam\.G\.[03]\.weight$", n)) + ["fc.weight"]
    assert groups["lr5_weight"] == sorted(lr5) and len(lr5) == 17
    assert groups["lr10_bias"] == ["fc.bias"]
    # BN: stem + 2 per block + 3 downsample BatchNorm2d, 2 BatchNorm1d per TAM; weight + bias.
    assert len(groups["bn"]) == 2 * (1 + 16 + 3 + 16)
    assert "normal_bias" not in groups and "first_conv_bias" not in groups  # no conv biases
    everything = sorted(n for names in groups.values() for n in names)
    assert everything == sorted(params)  # each parameter exactly once


def test_group_multipliers(model):
    spec = {g["name"]: (g["lr_mult"], g["decay_mult"]) for g in build_param_groups(model)}
    assert spec == {"first_conv_weight": (1, 1), "normal_weight": (1, 1), "bn": (1, 0),
                    "lr5_weight": (5, 1), "lr10_bias": (10, 0)}


def test_classifier_policy_boosts_only_the_classifier(model):
    groups = _by_name(model, linear_policy="classifier")
    assert groups["lr5_weight"] == ["fc.weight"] and groups["lr10_bias"] == ["fc.bias"]
    assert "backbone.layer1.0.tam.G.0.weight" in groups["normal_weight"]
    none = _by_name(model, linear_policy="none")
    assert "lr5_weight" not in none and none["normal_bias"] == ["fc.bias"]


def test_except_classifier_policy_boosts_tams_global_branch_and_not_the_classifier(model):
    params = dict(model.named_parameters())
    groups = _by_name(model, linear_policy="except_classifier")
    # 8 TAMs x 2 Linears (G.0, G.3, no bias) at x5; fc weight with the convs, its bias with the conv biases
    tam_linears = sorted(n for n in params if re.search(r"tam\.G\.[03]\.weight$", n))
    assert groups["lr5_weight"] == tam_linears and len(tam_linears) == 16
    assert "lr10_bias" not in groups
    assert "fc.weight" in groups["normal_weight"] and groups["normal_bias"] == ["fc.bias"]
    assert sorted(n for names in groups.values() for n in names) == sorted(params)


def test_partial_bn_keeps_only_the_first_bn_trainable():
    model = tanet.create_model("tanet_r18", num_classes=5, num_segments=4, width=0.125)
    set_train_mode(model, True, partial_bn=True)
    groups = _by_name(model, partial_bn=True)
    assert groups["bn"] == ["backbone.bn1.bias", "backbone.bn1.weight"]
    frozen = partial_bn_layers(model)
    bn2d = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert frozen == bn2d[1:] and all(not m.training for m in frozen)
    assert bn2d[0].training
    # TAM's BatchNorm1d keep updating statistics (train mode) but are not optimised.
    bn1d = [m for m in model.modules() if isinstance(m, nn.BatchNorm1d)]
    assert bn1d and all(m.training and not m.weight.requires_grad for m in bn1d)
    stats = frozen[0].running_mean.clone()
    model(torch.randn(2, 3, 4, 32, 32))
    assert torch.equal(frozen[0].running_mean, stats)


def test_sgd_step_applies_lr_and_decay_multipliers():
    # One step, no momentum: delta = -lr * lr_mult * (grad + wd * decay_mult * param).
    model = tanet.create_model("tsn_r18", num_classes=3, num_segments=2, width=0.125)
    groups = build_param_groups(model, linear_policy="official")
    optimizer = build_optimizer(groups, lr=0.1, momentum=0.0, weight_decay=0.01)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    for p in model.parameters():
        p.grad = torch.ones_like(p)
    optimizer.step()
    after = dict(model.named_parameters())

    def expected(name, lr_mult, decay_mult):
        return before[name] - 0.1 * lr_mult * (1 + 0.01 * decay_mult * before[name])

    cases = {"fc.bias": (10, 0), "fc.weight": (5, 1), "backbone.conv1.weight": (1, 1),
             "backbone.bn1.weight": (1, 0), "backbone.layer2.0.conv1.weight": (1, 1)}
    for name, (lr_mult, decay_mult) in cases.items():
        torch.testing.assert_close(after[name].detach(), expected(name, lr_mult, decay_mult))


def test_adamw_is_fused_on_cpu_and_its_first_step_matches_the_hand_computation():
    # First AdamW step from a zero state, gradient 1: the bias-corrected moments are g and g**2, so
    # p <- p * (1 - lr * lr_mult * wd * decay_mult) - lr * lr_mult * 1 / (1 + eps).
    model = tanet.create_model("tsn_r18", num_classes=3, num_segments=2, width=0.125)
    groups = build_param_groups(model, linear_policy="official")
    for name in ("adamw", "sgd"):
        assert build_optimizer(groups, lr=0.1, name=name).defaults["fused"] is True
    optimizer = build_optimizer(groups, lr=0.1, weight_decay=0.01, name="adamw")
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    for p in model.parameters():
        p.grad = torch.ones_like(p)
    optimizer.step()
    after = dict(model.named_parameters())
    for name, (lr_mult, decay_mult) in {"fc.bias": (10, 0), "fc.weight": (5, 1),
                                        "backbone.bn1.weight": (1, 0)}.items():
        lr = 0.1 * lr_mult
        expected = before[name] * (1 - lr * 0.01 * decay_mult) - lr / (1 + 1e-8)
        torch.testing.assert_close(after[name].detach(), expected)


def test_unknown_parameter_holder_is_an_error():
    class Scale(nn.Module):
        def __init__(self):
            super().__init__()
            self.gain = nn.Parameter(torch.ones(1))

    model = nn.Sequential(nn.Conv2d(3, 4, 3), Scale())
    with pytest.raises(ValueError, match="Scale"):
        build_param_groups(model)


def test_step_schedule_matches_official_epoch_decay():
    sched = WarmupSchedule("step", epochs=100, iters_per_epoch=10, milestones=[50, 75, 90])
    for epoch, factor in [(0, 1), (49, 1), (50, 0.1), (74, 0.1), (75, 0.01), (90, 0.001), (99, 0.001)]:
        assert sched.factor(epoch * 10) == pytest.approx(factor)
        assert sched.factor(epoch * 10 + 9) == pytest.approx(factor)


def test_cosine_schedule_with_warmup():
    sched = WarmupSchedule("cosine", epochs=10, iters_per_epoch=4, warmup_epochs=2,
                           warmup_start_factor=0.1)
    assert sched.factor(0) == pytest.approx(0.1)
    assert sched.factor(4) == pytest.approx(0.1 + 0.9 * 0.5)  # halfway through warm-up
    assert sched.factor(8) == pytest.approx(1.0)  # warm-up done, cosine starts at its peak
    assert sched.factor(8 + 16) == pytest.approx(0.5)  # half of the 32 cosine steps
    assert sched.factor(40) == pytest.approx(0.0, abs=1e-12)
    assert sched.factor(8 + 8) == pytest.approx(0.5 * (1 + math.cos(math.pi * 8 / 32)))


def test_scheduled_lr_sets_group_lrs_and_resumes():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Linear(4, 2))
    groups = build_param_groups(model)
    optimizer = build_optimizer(groups, lr=0.2)
    sched = ScheduledLR(optimizer, WarmupSchedule("step", 4, 2, milestones=[1]), base_lr=0.2)
    sched.step()
    sched.step()  # epoch 1: decayed by 10
    lrs = {g["name"]: g["lr"] for g in optimizer.param_groups}
    assert lrs["lr5_weight"] == pytest.approx(0.2 * 5 * 0.1)
    assert lrs["lr10_bias"] == pytest.approx(0.2 * 10 * 0.1)
    fresh = ScheduledLR(build_optimizer(groups, lr=0.2), WarmupSchedule("step", 4, 2, milestones=[1]), 0.2)
    fresh.load_state_dict(sched.state_dict())
    assert [g["lr"] for g in fresh.optimizer.param_groups] == [g["lr"] for g in optimizer.param_groups]


def test_linear_scaling_rule():
    assert scaled_lr(0.01, 64, 64) == pytest.approx(0.01)
    assert scaled_lr(0.01, 16, 64) == pytest.approx(0.0025)
    assert scaled_lr(0.02, 256, 128) == pytest.approx(0.04)
    assert scaled_lr(0.01, 7, None) == 0.01


@pytest.mark.parametrize("name", ["tsn_r18", "tsm_r18", "i3d311_r18", "tanet_r18"])
def test_every_parameter_of_every_family_lands_in_one_group(name):
    model = tanet.create_model(name, num_classes=3, num_segments=4, width=0.125)
    groups = _by_name(model)
    flat = [n for names in groups.values() for n in names]
    assert sorted(flat) == sorted(n for n, _ in model.named_parameters())
    # Every kernel of >= 3 dims but the stem is a normal weight (I3D's inflated 3x1x1 too).
    kernels = sorted(n for n, p in model.named_parameters() if p.dim() >= 3 and n != "backbone.conv1.weight")
    assert groups["normal_weight"] == kernels


@pytest.mark.parametrize("name", ["tanet_r18", "i3d311_r18"])
def test_channels_last_keeps_outputs(name):
    from tanet.models.inference import to_channels_last

    torch.manual_seed(0)
    model = tanet.create_model(name, num_classes=3, num_segments=4, width=0.125).eval()
    clips = torch.randn(2, 3, 4, 32, 32)
    expected = model(clips)
    to_channels_last(model)
    assert model.backbone.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(model(clips), expected, rtol=1e-4, atol=1e-5)
