"""Parameter and FLOP counts against the paper's published figures and hand counts."""
import torch
from torch import nn

import tanet
from tanet.analysis.flops import complexity, count_macs


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
