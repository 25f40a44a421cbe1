"""MMAction2 checkpoints as MMAction2 1.2.0 writes them: its own key lists and logits, and a runner
``epoch_N.pth`` written by mmengine (fixtures in ``data/``, made by ``data/make_mmaction2_fixtures.py``)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import tanet
from tanet.checkpoint import CheckpointError, load_checkpoint_file, load_checkpoint_inert
from tanet.interop import AmbiguousArchitectureError, read_checkpoint, to_native

from .conftest import write_mmaction2_layout
from .reference_weights import random_input, random_state

DATA = Path(__file__).parent / "data"
EPOCH_FILE = DATA / "mmaction2_epoch_1.pth"


def _mmaction2_checkpoint(tmp_path, name):
    record = json.loads((DATA / f"mmaction2_{name}_r50_k400.json").read_text())
    state = random_state(record["keys"], record["weight_seed"])
    path = tmp_path / f"mmaction2_{name}.pth"
    torch.save({"meta": {"epoch": 50}, "state_dict": state}, path)
    clips = random_input(record["input_shape_ntchw"], record["input_seed"]).permute(0, 2, 1, 3, 4)
    return path, clips, torch.tensor(record["logits"])


@pytest.mark.parametrize("name,model_name", [("tsm", "tsm_r50"), ("tanet", "tanet_r50")])
def test_mmaction2_key_list_loads_with_mmaction2s_logits(tmp_path, name, model_name):
    path, clips, expected = _mmaction2_checkpoint(tmp_path, name)
    settle = {}
    if name == "tsm":  # TSM's weights do not record T, and this file's meta holds no config: say it
        with pytest.raises(AmbiguousArchitectureError, match="--segments T"):
            tanet.create_model(checkpoint=path)
        settle = {"num_segments": 8}
    model = tanet.create_model(checkpoint=path, **settle).eval()
    assert model.model_config["name"] == model_name
    assert (model.num_classes, model.num_segments) == (400, 8)
    with torch.no_grad():
        logits = model(clips)
    assert expected.std() > 0.5  # the weights make the logits differ between classes
    torch.testing.assert_close(logits, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name,model_name", [("tsm", "tsm_r50"), ("tanet", "tanet_r50")])
def test_the_tests_mmaction2_writer_gives_mmaction2s_own_keys(name, model_name):
    record = json.loads((DATA / f"mmaction2_{name}_r50_k400.json").read_text())
    own = tanet.create_model(model_name, num_classes=400, num_segments=8).state_dict()
    written = write_mmaction2_layout(own, shift=name == "tsm")
    expected = {key: shape for key, shape, _ in record["keys"]}
    assert {key: list(value.shape) for key, value in written.items()} == expected


def test_tsm_shift_wrapper_is_read_from_conv1_conv_net(tmp_path):
    # MMAction2's ResNetTSM wraps the conv inside conv1's ConvModule: conv1.conv.net.weight, conv1.bn.*
    record = json.loads((DATA / "mmaction2_tsm_r50_k400.json").read_text())
    keys = [key for key, _, _ in record["keys"]]
    assert "backbone.layer1.0.conv1.conv.net.weight" in keys and "backbone.layer1.0.conv1.bn.weight" in keys
    converted = to_native(random_state(record["keys"][:40]), "mmaction2")
    assert converted.temporal_shift and not converted.unrecognised
    assert "backbone.layer1.0.conv1.weight" in converted.state_dict
    assert "backbone.layer1.0.bn1.running_var" in converted.state_dict


def test_mmengine_runner_checkpoint_weights_are_read_without_running_its_objects():
    with pytest.raises(CheckpointError) as refused:
        load_checkpoint_file(EPOCH_FILE)
    message = str(refused.value)
    assert "mmengine.logging.history_buffer.HistoryBuffer" in message and "\x1b" not in message
    assert "\n" not in message

    data, ignored = load_checkpoint_inert(EPOCH_FILE)
    assert "mmengine.logging.history_buffer.HistoryBuffer" in ignored
    assert set(data) == {"meta", "state_dict", "message_hub", "optimizer", "param_schedulers"}
    assert data["meta"]["epoch"] == 1 and isinstance(data["meta"]["seed"], int)
    buffers = data["message_hub"]["log_scalars"]
    assert buffers["train/loss"] == "<not loaded: mmengine.logging.history_buffer.HistoryBuffer>"
    weights = data["state_dict"]
    assert weights and all(isinstance(value, torch.Tensor) for value in weights.values())

    # the weights are MMAction2's TSM layout: they map onto tanet's tsm_r18 keys with tanet's shapes
    native = to_native(weights).state_dict
    own = tanet.create_model("tsm_r18", num_classes=2).state_dict()
    backbone = {key: value for key, value in native.items() if key.startswith("backbone.")}
    first_stage = {key for key in own if key.startswith(("backbone.conv1", "backbone.bn1", "backbone.layer1."))}
    assert first_stage == set(backbone)
    assert all(own[key].shape == value.shape for key, value in backbone.items())
    assert torch.equal(native["backbone.layer1.0.conv1.weight"], weights["backbone.layer1.0.conv1.conv.net.weight"])


def test_read_checkpoint_reports_what_it_ignored(tmp_path):
    with pytest.warns(UserWarning, match="HistoryBuffer"), pytest.raises(CheckpointError) as error:
        read_checkpoint(EPOCH_FILE)  # a first-stage-only backbone is no video model ...
    assert "layer1..layer4" in str(error.value)  # ... but it was read: the error is about its weights
    model = tanet.create_model("tsn_r18", num_classes=3, num_segments=2, width=0.125)
    path = tmp_path / "with_objects.pth"
    torch.save({"state_dict": model.state_dict(), "meta": {"hook": _Payload()}}, path)
    with pytest.warns(UserWarning, match=r"not loaded .*: builtins\.print"):
        loaded = read_checkpoint(path)
    assert loaded.ignored_objects == ["builtins.print"]
    assert loaded.undetermined == {"name": ("tsn_r18", "tsm_r18"), "num_segments": ()}  # a bare state dict


class _Payload:
    def __reduce__(self):  # what a malicious pickle does: call something on load
        return (print, ("this must never run",))


def test_objects_outside_the_weights_become_inert_and_inside_are_refused(tmp_path, capsys):
    weights = tanet.create_model("tsn_r18", num_classes=3, num_segments=2, width=0.125).state_dict()
    outside = tmp_path / "outside.pth"
    torch.save({"state_dict": weights, "extra": _Payload()}, outside)
    data, ignored = load_checkpoint_inert(outside)
    assert ignored == ["builtins.print"] and data["extra"] == "<not loaded: builtins.print>"
    assert all(torch.equal(data["state_dict"][key], value) for key, value in weights.items())
    inside = tmp_path / "inside.pth"
    torch.save({"state_dict": {**weights, "fc.weight": _Payload()}}, inside)
    with pytest.raises(CheckpointError, match=r"refused.*fc\.weight \(builtins\.print\)"):
        load_checkpoint_inert(inside)
    assert "must never run" not in capsys.readouterr().out
