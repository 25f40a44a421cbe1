"""Atomic checkpoint writes, safe loading, state-dict errors."""
from __future__ import annotations

import os

import pytest
import torch
from torch import nn

from tanet.checkpoint import CheckpointError, load_checkpoint_file, load_state_checked, save_checkpoint


class Injected(Exception):
    pass


def test_save_and_load_round_trip(tmp_path):
    state = {"model": {"w": torch.arange(6.0).reshape(2, 3)}, "epoch": 3, "names": ["a", "b"],
             "cfg": {"lr": 0.1, "steps": [1, 2], "pretrained": None, "flip": True}}
    path = save_checkpoint(tmp_path / "run" / "last.pt", state)
    loaded = load_checkpoint_file(path)
    assert torch.equal(loaded["model"]["w"], state["model"]["w"])
    assert loaded["epoch"] == 3 and loaded["names"] == ["a", "b"] and loaded["cfg"] == state["cfg"]


def test_fault_before_rename_leaves_previous_checkpoint(tmp_path):
    path = tmp_path / "last.pt"
    save_checkpoint(path, {"epoch": 1, "w": torch.ones(3)})
    original = path.read_bytes()

    def crash(tmp_name):
        assert os.path.getsize(tmp_name) > 0  # the new bytes were fully written to the temp
        raise Injected()

    with pytest.raises(Injected):
        save_checkpoint(path, {"epoch": 2, "w": torch.zeros(3)}, _before_replace=crash)
    assert path.read_bytes() == original
    assert load_checkpoint_file(path)["epoch"] == 1
    assert sorted(os.listdir(tmp_path)) == ["last.pt"]  # no temp file left behind


def test_fault_while_writing_leaves_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    save_checkpoint(path, {"epoch": 1, "w": torch.ones(1000)})
    original = path.read_bytes()
    real_save = torch.save

    def half_write(obj, handle, *args, **kwargs):
        handle.write(b"PK\x03\x04 half a zip file")  # the disk filled up mid-write
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", half_write)
    with pytest.raises(OSError):
        save_checkpoint(path, {"epoch": 2, "w": torch.zeros(1000)})
    monkeypatch.setattr(torch, "save", real_save)
    assert path.read_bytes() == original
    assert sorted(os.listdir(tmp_path)) == ["last.pt"]


def test_truncated_and_empty_files_are_clear_errors(tmp_path):
    path = tmp_path / "ckpt.pt"
    save_checkpoint(path, {"w": torch.ones(1000)})
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="ckpt.pt.*truncated or corrupt"):
        load_checkpoint_file(path)
    path.write_bytes(b"")
    with pytest.raises(CheckpointError, match="empty"):
        load_checkpoint_file(path)
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        load_checkpoint_file(tmp_path / "missing.pt")


class Payload:
    """A pickled object that would run code on load (reduce to a call)."""

    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_pickled_objects_are_refused(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"model": {}, "payload": Payload()}, path)
    with pytest.raises(CheckpointError, match="evil.pt.*never executed"):
        load_checkpoint_file(path)


def test_load_state_checked_names_missing_unexpected_and_shape(tmp_path):
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    state = model.state_dict()
    load_state_checked(model, {f"module.{k}": v for k, v in state.items()})  # DDP prefix stripped
    broken = dict(state)
    del broken["1.bias"]
    broken["2.weight"] = torch.zeros(1)
    broken["0.weight"] = torch.zeros(5, 3)
    with pytest.raises(CheckpointError) as info:
        load_state_checked(model, broken, source=tmp_path / "x.pt")
    message = str(info.value)
    assert "x.pt" in message and "missing keys: 1.bias" in message
    assert "unexpected keys: 2.weight" in message
    assert "0.weight (checkpoint (5, 3), model (4, 3))" in message


def test_a_whole_pickled_model_is_named_for_what_it_is(tmp_path):
    import tanet

    path = tmp_path / "model.pt"
    torch.save({"model": tanet.create_model("tsn_r18", num_classes=3, num_segments=2, width=0.125)}, path)
    with pytest.raises(CheckpointError) as error:
        tanet.load_model(path)
    message = str(error.value)
    assert "'model' entry is a pickled Python object (tanet.models.recognizer.VideoRecognizer)" in message
    assert "model.state_dict()" in message and "expected a 'model'" not in message  # no self-contradiction


def test_nonfinite_tensors_are_named():
    from tanet.checkpoint import refuse_nonfinite

    state = {"a": torch.zeros(2), "b": torch.tensor([1.0, float("inf")]), "n": torch.tensor(3)}
    with pytest.raises(CheckpointError, match=r"x.pt: holds NaN/inf values in 1 of 3 .*\(e.g. b\)"):
        refuse_nonfinite("x.pt", state.items())
    refuse_nonfinite("y.pt", {"a": torch.ones(2)}.items())
