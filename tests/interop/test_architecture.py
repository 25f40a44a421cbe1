"""What weights say about their model, and what they leave open (never guessed): TSN or TSM, the frames
of a TSN/TSM/I3D, TAM positions whose channels coincide."""
from __future__ import annotations

import pytest
import torch

import tanet
from tanet.cli import main
from tanet.interop import (AmbiguousArchitectureError, infer_architecture, read_checkpoint, settle_architecture)

from .conftest import TINY, tiny_model, write_mmaction2_layout, write_official_layout


@pytest.mark.parametrize("name,options,open_positions", [
    ("tanet_r50", {}, ("b", "c")),  # after conv1 and after conv2 a bottleneck has the same channels
    ("tanet_r50", {"tam_position": "c"}, ("b", "c")),
    ("tanet_r50", {"tam_position": "a"}, None),  # the block's input channels: only a fits
    ("tanet_r50", {"tam_position": "d"}, None),
    ("tanet_r18", {}, ("b", "d")),  # a basic block's conv1 and conv2 both give `planes` channels
    ("tanet_r18", {"tam_position": "a"}, None),
])
def test_tam_positions_are_read_off_the_channels_or_left_open(name, options, open_positions):
    model = tanet.create_model(name, **{**TINY, **options})
    inferred = infer_architecture(model.state_dict())
    if open_positions is None:
        assert inferred.config["tam_position"] == options["tam_position"] and not inferred.undetermined
    else:
        assert inferred.undetermined == {"tam_position": open_positions} and "tam_position" not in inferred.config
    assert inferred.config["name"] == name and inferred.config["num_segments"] == TINY["num_segments"]


def test_a_bare_state_dict_of_tsn_or_tsm_leaves_the_family_and_the_frames_open(tmp_path):
    state = tanet.create_model("tsm_r18", **TINY).state_dict()
    assert state.keys() == tanet.create_model("tsn_r18", **TINY).state_dict().keys()  # why it is open
    inferred = infer_architecture(state)
    assert inferred.undetermined == {"name": ("tsn_r18", "tsm_r18"), "num_segments": ()}
    path = tmp_path / "bare.pt"
    torch.save(state, path)
    with pytest.raises(AmbiguousArchitectureError) as error:
        tanet.create_model(checkpoint=path)
    message = str(error.value)
    assert str(path) in message and "tsn_r18 or tsm_r18" in message
    assert "--model tsn_r18|tsm_r18" in message and "--segments T" in message
    model = tanet.create_model("tsm_r18", checkpoint=path, num_segments=6)
    assert model.model_config["name"] == "tsm_r18" and model.num_segments == 6
    with pytest.raises(AmbiguousArchitectureError, match="--segments T") as error:
        tanet.create_model("tsm_r18", checkpoint=path)
    assert "--model" not in str(error.value)  # only what is still open is asked for


def test_foreign_layouts_settle_what_their_code_fixes():
    source = tiny_model("tanet_r50")  # position b: where the official TAM code and MMAction2 put TAM
    for layout in (write_official_layout(source.state_dict()), write_mmaction2_layout(source.state_dict())):
        from tanet.interop.formats import to_native

        converted = to_native(layout)
        inferred = infer_architecture(converted.state_dict, temporal_shift=converted.temporal_shift, tam_position="b")
        assert inferred.config["tam_position"] == "b" and not inferred.undetermined
    tsm = tiny_model("tsm_r50")
    converted = to_native(write_mmaction2_layout(tsm.state_dict(), shift=True))
    inferred = infer_architecture(converted.state_dict, temporal_shift=converted.temporal_shift)
    assert inferred.config["name"] == "tsm_r50" and inferred.undetermined == {"num_segments": ()}


def test_mmaction2s_recorded_config_gives_the_frames(tmp_path):
    tsm = tiny_model("tsm_r50")
    path = tmp_path / "tsm.pth"
    config_text = "model = dict(type='Recognizer2D', backbone=dict(type='ResNetTSM', num_segments=4), " \
                  "cls_head=dict(type='TSMHead', num_segments=4))"
    torch.save({"meta": {"cfg": config_text}, "state_dict": write_mmaction2_layout(tsm.state_dict(), shift=True)}, path)
    loaded = read_checkpoint(path)
    assert loaded.model_config["num_segments"] == 4 and not loaded.undetermined
    assert settle_architecture(loaded) == ("tsm_r50", {k: v for k, v in loaded.model_config.items() if k != "name"})
    clips = torch.randn(1, 3, 4, 32, 32)
    with torch.no_grad():
        assert float((tanet.create_model(checkpoint=path).eval()(clips) - tsm(clips)).abs().max()) <= 1e-4


def test_a_native_checkpoint_records_its_architecture(tmp_path):
    from tanet.checkpoint import CHECKPOINT_FORMAT, CHECKPOINT_VERSION, save_checkpoint

    model = tanet.create_model("tsm_r18", **TINY)  # a TSM: its weights alone could be a TSN
    path = save_checkpoint(tmp_path / "tsm.pt", {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION,
                                                  "model": model.state_dict(), "model_config": model.model_config})
    rebuilt = tanet.create_model(checkpoint=path)  # no flag needed
    assert rebuilt.model_config == model.model_config


def test_convert_refuses_a_bare_state_dict_until_told(tmp_path, capsys):
    state = tanet.create_model("tanet_r50", **TINY).state_dict()
    path = tmp_path / "bare.pt"
    torch.save({"state_dict": state}, path)
    out = tmp_path / "out.pt"
    assert main(["convert", str(path), str(out)]) == 2
    error = capsys.readouterr().err
    assert "position b or c" in error and "--tam-position b|c" in error and not out.exists()
    assert main(["convert", str(path), str(out), "--tam-position", "c"]) == 0
    assert read_checkpoint(out).model_config["tam_position"] == "c"
