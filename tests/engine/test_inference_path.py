"""The inference fast path through the evaluation seam (``load_for_eval``), as test/predict use it."""
from __future__ import annotations

import torch
from torch import nn

from analysis.conftest import save_tiny_checkpoint
from tanet.engine.builders import load_for_eval
from tanet.models.inference import inference_path


def test_load_for_eval_fused_gives_the_eager_logits(tmp_path):
    checkpoint = save_tiny_checkpoint(tmp_path / "tanet.pt", "tanet_r18", seed=0)
    eager = load_for_eval(checkpoint).model  # the default: the model as trained (the kernel analysis)
    fused = load_for_eval(checkpoint, inference="fused").model
    assert inference_path(eager) == "eager" and any(isinstance(m, nn.BatchNorm2d) for m in eager.modules())
    assert inference_path(fused) == "fused" and not any(isinstance(m, nn.BatchNorm2d) for m in fused.modules())
    clips = torch.randn(3, 3, 4, 32, 32)
    with torch.no_grad():
        assert float((fused(clips) - eager(clips)).abs().max()) <= 1e-4
