"""torch.export and ONNX export: same logits as eager, dynamic batch dimension."""
from __future__ import annotations

import json

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


def _trained_checkpoint(path, size=32, name="tanet_r18"):
    """A native checkpoint as `tanet train` writes one: a recipe trained at ``size`` pixels, class names."""
    from tanet.checkpoint import CHECKPOINT_FORMAT, CHECKPOINT_VERSION, save_checkpoint
    from tanet.engine.config import TrainConfig

    model = tiny_model(name)
    config = TrainConfig()
    config.data.size = size
    save_checkpoint(path, {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, "model": model.state_dict(),
                           "model_config": model.model_config, "class_names": [f"action {i}" for i in range(5)],
                           "config": config.to_dict()})
    return model, path


def test_export_takes_the_trained_size_and_records_what_a_deployment_needs(tmp_path, capsys):
    onnx = pytest.importorskip("onnx")
    from tanet.cli import main
    from tanet.interop.export import onnx_metadata

    model, checkpoint = _trained_checkpoint(tmp_path / "run" / "best.pt", size=32)
    out = tmp_path / "exported" / "model.onnx"  # a folder that does not exist yet
    assert main(["export", "--checkpoint", str(checkpoint), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "input (N, 3, 4, 32, 32): 4 frames, 32 px (as trained)" in printed and ".data" not in printed
    assert sorted(p.name for p in out.parent.iterdir()) == ["model.onnx"]  # one file: no .onnx.data sidecar
    dims = onnx.load(str(out)).graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_value for d in dims[1:]] == [3, 4, 32, 32]
    metadata = onnx_metadata(out)
    assert json.loads(metadata["class_names"]) == [f"action {i}" for i in range(5)]
    assert json.loads(metadata["mean"]) == pytest.approx([0.485, 0.456, 0.406])
    assert json.loads(metadata["std"]) == pytest.approx([0.229, 0.224, 0.225])
    assert (metadata["num_segments"], metadata["size"], metadata["model"]) == ("4", "32", "tanet_r18")
    assert json.loads(metadata["model_config"]) == model.model_config
    assert main(["export", "--checkpoint", str(checkpoint), "--out", str(out), "--size", "48"]) == 2  # exists
    assert "--overwrite" in capsys.readouterr().err
    assert main(["export", "--checkpoint", str(checkpoint), "--out", str(out), "--size", "48", "--overwrite"]) == 0
    assert [d.dim_value for d in onnx.load(str(out)).graph.input[0].type.tensor_type.shape.dim[3:]] == [48, 48]


def test_torch_export_into_a_missing_folder_with_metadata(tmp_path, capsys):
    from tanet.cli import main

    model, checkpoint = _trained_checkpoint(tmp_path / "best.pt", size=32)
    out = tmp_path / "new" / "folder" / "model.pt2"
    assert main(["export", "--format", "torch-export", "--checkpoint", str(checkpoint), "--out", str(out)]) == 0
    extra = {"tanet_metadata.json": ""}
    program = torch.export.load(out, extra_files=extra)
    metadata = json.loads(extra["tanet_metadata.json"])
    assert metadata["size"] == "32" and json.loads(metadata["class_names"])[4] == "action 4"
    clips = torch.randn(3, 3, 4, 32, 32)
    with torch.no_grad():
        assert float((program.module()(clips) - model(clips)).abs().max()) <= TOLERANCE


def test_export_never_replaces_its_input(tmp_path, capsys):
    from tanet.cli import main

    _, checkpoint = _trained_checkpoint(tmp_path / "last.pt")
    before = checkpoint.read_bytes()
    for extra in ([], ["--overwrite"]):
        assert main(["export", "--checkpoint", str(checkpoint), "--out", str(checkpoint), *extra]) == 2
        assert "is also an input" in capsys.readouterr().err and checkpoint.read_bytes() == before
    assert main(["export", "--checkpoint", str(tmp_path / "typo.pt"), "--out", str(tmp_path / "x.onnx")]) == 2


def test_export_of_a_bare_state_dict_asks_for_the_architecture(tmp_path, capsys):
    from tanet.cli import main

    source = tiny_model("tsm_r18")
    bare = tmp_path / "weights.pth"
    torch.save(source.state_dict(), bare)
    out = tmp_path / "tsm.pt2"
    assert main(["export", "--format", "torch-export", "--checkpoint", str(bare), "--out", str(out)]) == 2
    error = capsys.readouterr().err
    assert "--model tsn_r18|tsm_r18" in error and "--segments T" in error and not out.exists()
    assert main(["export", "--format", "torch-export", "--checkpoint", str(bare), "--out", str(out),
                 "--model", "tsm_r18", "--segments", "4", "--size", "32"]) == 0
    clips = torch.randn(2, 3, 4, 32, 32)
    with torch.no_grad():
        assert float((torch.export.load(out).module()(clips) - source(clips)).abs().max()) <= TOLERANCE
