"""Foreign checkpoint layouts: detection, key mapping, architecture inference, strict errors, convert."""
from __future__ import annotations

import re

import numpy as np
import pytest
import torch

import tanet
from tanet.checkpoint import CheckpointError, load_checkpoint_file
from tanet.interop import detect_format, infer_model_config, read_checkpoint

from .conftest import TINY, tiny_model, write_mmaction2_layout, write_official_layout

TOLERANCE = 1e-4


def _max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max())


def _save_official(model, path):
    # what the official main.py saves: epoch, arch, state_dict (DataParallel keys), best_prec1
    torch.save({"epoch": 100, "arch": "resnet50", "state_dict": write_official_layout(model.state_dict()),
                "best_prec1": 76.1}, path)


def _save_mmaction2(model, path, class_names=None):
    meta = {"seed": np.int64(0), "lr": np.float64(0.01), "mmcv_version": "1.3"}
    if class_names:
        meta["CLASSES"] = class_names
    torch.save({"meta": meta, "state_dict": write_mmaction2_layout(model.state_dict())}, path)


@pytest.mark.parametrize(
    "name,layout",
    [("tanet_r50", "official"), ("tanet_r50", "mmaction2"), ("tanet_r18", "mmaction2")],
)
def test_foreign_checkpoint_gives_the_writers_logits(tmp_path, clips, name, layout):
    source = tiny_model(name)
    path = tmp_path / f"{layout}.pth"
    (_save_official if layout == "official" else _save_mmaction2)(source, path)
    with torch.no_grad():
        expected = source(clips)
        fresh = tiny_model(name, seed=7)
        assert _max_diff(fresh(clips), expected) > 1e-2  # the check below can fail
        info = tanet.load_weights(fresh, path)
        assert info.source_format == layout
        assert _max_diff(fresh.eval()(clips), expected) <= TOLERANCE
        # create_model(checkpoint=...) reads the architecture off the file
        rebuilt = tanet.create_model(name, checkpoint=path).eval()
        assert rebuilt.num_classes == TINY["num_classes"] and rebuilt.num_segments == TINY["num_segments"]
        assert _max_diff(rebuilt(clips), expected) <= TOLERANCE


def test_detect_format_on_each_layout():
    state = tiny_model("tanet_r18").state_dict()
    assert detect_format(state) == "native"
    assert detect_format(write_official_layout(state)) == "official"
    assert detect_format(write_mmaction2_layout(state)) == "mmaction2"
    with pytest.raises(ValueError, match="no known layout"):
        detect_format({"encoder.weight": torch.zeros(1)})


@pytest.mark.parametrize(
    "name,options",
    [
        ("tanet_r50", {}),
        ("tanet_r50", {"tam_position": "a", "temporal_stages": [3, 4], "tam_beta": 2}),
        ("tanet_r18", {"tam_position": "a", "tam_alpha": 3}),
        ("tanet_r50", {"tam_position": "d"}),
        ("tanet_r18", {"num_segments": 6, "tam_kernel_size": 5}),
    ],
)
def test_architecture_is_read_off_the_weights(name, options):
    model = tanet.create_model(name, **{**TINY, **options})
    inferred = infer_model_config(model.state_dict())
    expected = {**model.model_config}
    for key, value in inferred.items():
        if key in expected:
            assert value == expected[key], key
    assert inferred["name"] == name
    assert inferred["num_segments"] == options.get("num_segments", TINY["num_segments"])
    assert inferred.get("tam_position", "b") == options.get("tam_position", "b")
    assert inferred.get("temporal_stages", [1, 2, 3, 4]) == options.get("temporal_stages", [1, 2, 3, 4])
    assert tanet.create_model(**inferred).state_dict().keys() == model.state_dict().keys()


def test_tsm_layout_is_recognised_by_its_shift_wrapper(tmp_path):
    source = tiny_model("tsm_r50")
    official = {}
    for key, value in write_official_layout(source.state_dict()).items():
        # TSM's TSN wrapper: plain blocks, conv1 wrapped by TemporalShift as conv1.net
        key = re.sub(r"(layer\d\.\d+)\.conv1\.weight$", r"\1.conv1.net.weight", key.replace(".net.", "."))
        official[key] = value
    path = tmp_path / "tsm.pth"
    torch.save({"state_dict": official}, path)
    loaded = read_checkpoint(path)
    assert loaded.model_config["name"] == "tsm_r50"
    model = tanet.create_model("tsm_r50", checkpoint=path, num_segments=4)
    clips = torch.randn(1, 3, 4, 32, 32)
    with torch.no_grad():
        assert _max_diff(model.eval()(clips), source(clips)) <= TOLERANCE


@pytest.mark.parametrize("damage", ["missing", "unexpected", "shape"])
def test_mismatched_checkpoint_lists_the_keys_and_names_the_file(tmp_path, damage):
    state = write_official_layout(tiny_model("tanet_r18").state_dict())
    key = "module.base_model.layer2.1.tam.G.0.weight"
    if damage == "missing":
        del state[key]
    elif damage == "unexpected":
        state["module.base_model.layer2.1.se.fc.weight"] = torch.zeros(3)
    else:
        state["module.new_fc.weight"] = torch.zeros(7, state["module.new_fc.weight"].shape[1])
    path = tmp_path / f"{damage}.pth"
    torch.save({"state_dict": state}, path)
    model = tiny_model("tanet_r18")
    with pytest.raises(CheckpointError) as error:
        tanet.load_weights(model, path)
    message = str(error.value)
    assert str(path) in message
    expected = {
        "missing": ["missing keys", "backbone.layer2.1.tam.G.0.weight"],
        "unexpected": ["unexpected keys", "layer2.1.se.fc.weight"],
        "shape": ["shape mismatch", "fc.weight", "(7, 64)"],
    }[damage]
    for fragment in expected:
        assert fragment in message


def test_convert_writes_a_checkpoint_that_the_engine_loads(tmp_path, clips):
    source = tiny_model("tanet_r50")
    foreign = tmp_path / "mm.pth"
    _save_mmaction2(source, foreign, class_names=[f"class {i}" for i in range(5)])
    out = tmp_path / "converted.pth"
    from tanet.cli import main

    assert main(["convert", str(foreign), str(out)]) == 0
    model, checkpoint = tanet.load_model(out)[0], load_checkpoint_file(out)
    assert checkpoint["model_config"]["name"] == "tanet_r50"
    assert checkpoint["class_names"] == [f"class {i}" for i in range(5)]
    assert checkpoint["converted_from"]["format"] == "mmaction2"
    with torch.no_grad():
        assert _max_diff(model(clips), source(clips)) <= TOLERANCE


def test_convert_class_name_override_and_error_exit(tmp_path, capsys):
    source = tiny_model("tanet_r18")
    foreign = tmp_path / "official.pth"
    _save_official(source, foreign)
    names = tmp_path / "names.txt"
    names.write_text("".join(f"action {i}\n" for i in range(5)))
    out = tmp_path / "out.pth"
    from tanet.cli import main

    assert main(["convert", str(foreign), str(out), "--class-names", str(names)]) == 0
    assert torch.load(out, weights_only=True)["class_names"][4] == "action 4"
    # the written file is never replaced unless asked, and the input never
    written = out.read_bytes()
    assert main(["convert", str(foreign), str(out)]) == 2
    assert f"OUT {out} exists" in capsys.readouterr().err and out.read_bytes() == written
    assert main(["convert", str(foreign), "--out", str(foreign), "--overwrite"]) == 2
    assert "is also an input" in capsys.readouterr().err
    # a wrong class count, and a file that is not a checkpoint: exit code 1 with a message
    assert main(["convert", str(foreign), str(out), "--class-names", "kinetics400", "--overwrite"]) == 1
    assert "400 class names" in capsys.readouterr().err
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint")
    assert main(["convert", str(garbage), "-o", str(out), "--overwrite"]) == 1
    assert str(garbage) in capsys.readouterr().err
    assert main(["convert", str(tmp_path / "missing.pth"), str(tmp_path / "new.pth")]) == 2  # a typo: usage
