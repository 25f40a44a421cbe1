"""torch.export and ONNX export: same logits as eager, dynamic batch dimension."""
from __future__ import annotations

import pytest
import torch

import tanet
from tanet.interop.export import export_onnx, export_program
from tanet.modules.tam import _export_friendly_temporal_conv

from .conftest import tiny_model

TOLERANCE = 1e-4


@pytest.mark.parametrize("with_importance", [True, False])
def test_export_branch_equals_the_reference_formulation(with_importance):
    generator = torch.Generator().manual_seed(0)
    num_clips, segments, channels, kernel_size = 3, 5, 4, 3
    x = torch.randn(num_clips * segments, channels, 6, 7, generator=generator)
    kernel = torch.softmax(torch.randn(num_clips, channels, kernel_size, generator=generator), -1)
    importance = torch.rand(num_clips, channels, segments, generator=generator) if with_importance else None
    expected = tanet.adaptive_temporal_conv_reference(x, kernel, importance)
    got = _export_friendly_temporal_conv(x, kernel, importance, segments)
    assert float((got - expected).abs().max()) < 1e-6


def test_torch_export_round_trip_with_dynamic_batch(tmp_path):
    model = tiny_model("tanet_r18")
    program = export_program(model, torch.randn(2, 3, 4, 32, 32))
    path = tmp_path / "tanet.pt2"
    torch.export.save(program, path)
    reloaded = torch.export.load(path).module()
    for batch in (1, 3):
        clips = torch.randn(batch, 3, 4, 32, 32)
        with torch.no_grad():
            difference = (reloaded(clips) - model(clips)).abs().max()
        assert float(difference) <= TOLERANCE


def test_onnx_export_matches_eager_under_onnxruntime(tmp_path):
    onnxruntime = pytest.importorskip("onnxruntime")
    model = tiny_model("tanet_r18")
    path = export_onnx(model, tmp_path / "tanet.onnx", torch.randn(2, 3, 4, 32, 32))
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].name == "clips"
    for batch in (1, 3):  # neither is the export batch: the batch dimension is dynamic
        clips = torch.randn(batch, 3, 4, 32, 32)
        (logits,) = session.run(["logits"], {"clips": clips.numpy()})
        with torch.no_grad():
            assert float((torch.from_numpy(logits) - model(clips)).abs().max()) <= TOLERANCE


def test_export_folds_batchnorm_by_default_and_leaves_the_model_as_it_is():
    model = tiny_model("tanet_r18")
    clips = torch.randn(2, 3, 4, 32, 32)

    def batchnorm_nodes(program):
        return [node for node in program.graph.nodes if "batch_norm" in str(node.target)]

    assert batchnorm_nodes(export_program(model, clips, inference="eager"))
    fused = export_program(model, clips)
    assert not batchnorm_nodes(fused)
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())  # the caller's model is unchanged
    with torch.no_grad():
        assert float((fused.module()(clips) - model(clips)).abs().max()) <= TOLERANCE
