"""Parameter and FLOP counts against the paper's published figures and hand counts."""
import pytest
import torch
from torch import nn

import tanet
from tanet.analysis.flops import complexity, count_macs
from tanet.cli import main


def test_tanet_r50_published_complexity():
    model = tanet.create_model("tanet_r50", num_classes=400, num_segments=8)
    at_256 = complexity(model, num_segments=8, size=256)
    assert round(at_256.mparams, 1) == 25.6
    assert round(at_256.gflops) == 43
    assert round(complexity(model, num_segments=8, size=224).gflops) == 33


def test_mac_count_by_hand():
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, bias=False), nn.Flatten(), nn.Linear(4 * 5 * 5, 2))
    # conv: 4*5*5 outputs x 3*3*3 MACs; linear: 2 outputs x 100
    assert count_macs(model, torch.zeros(1, 3, 5, 5)) == 4 * 25 * 27 + 2 * 100


def test_r26_family_complexity():
    full = complexity(tanet.create_model("tsn_r26", num_classes=400, num_segments=8), num_segments=8, size=224)
    assert round(full.mparams, 1) == 14.8
    # timm's resnet26 model card gives 2.4 GMACs per 224 image; TSN's 8 frames are 8 images
    assert round(full.gflops / 8, 1) == pytest.approx(2.3, abs=0.1)
    i3d = complexity(tanet.create_model("i3d311_r26", num_classes=400, num_segments=8), num_segments=8, size=224)
    tsn = complexity(tanet.create_model("tsn_r26", num_classes=400, num_segments=8), num_segments=8, size=224)
    backbone = tanet.create_model("tsn_r26", num_classes=400, num_segments=8).backbone
    conv1_macs = 0  # I3D 3x1x1 triples the MACs of every bottleneck's conv1 (and its weights)
    # conv1 runs at its block's input resolution (the stride sits in conv2): 56 after the stem, halved per stage
    resolution = {"layer1.0": 56, "layer1.1": 56, "layer2.0": 56, "layer2.1": 28, "layer3.0": 28, "layer3.1": 14,
                  "layer4.0": 14, "layer4.1": 7}
    for name, size in resolution.items():
        stage, index = name.split(".")
        conv1 = getattr(backbone, stage)[int(index)].conv1
        conv1_macs += 8 * size * size * conv1.in_channels * conv1.out_channels
    assert i3d.macs - tsn.macs == 2 * conv1_macs


def test_flops_cli_prints_small_models_legibly(capsys):
    assert main(["flops", "tanet_r26", "i3d311_r26", "--width", "0.25", "--size", "56"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    gflops = {line.split()[0]: float(line.split()[2]) for line in lines[1:]}
    expected = complexity(tanet.create_model("tanet_r26", num_classes=400, num_segments=8, width=0.25), 8, 56)
    assert gflops["tanet_r26"] == pytest.approx(expected.gflops, rel=1e-2) and gflops["tanet_r26"] > 0


@pytest.mark.parametrize("arguments, message", [
    (["tanet_r18", "--tam-position", "c"], "ResNet-18 (BasicBlock) has no TA-Block style 'c'"),
    (["tanet_r18", "tsn_r18", "--width", "1e-6"], "smallest width that works for this model is 0.0625"),
])
def test_flops_cli_refuses_in_one_line(arguments, message, capsys):
    assert main(["flops", *arguments, "--size", "32"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.strip().splitlines()) == 1 and message in captured.err
