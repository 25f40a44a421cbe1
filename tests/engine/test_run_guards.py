"""The run guards as functions (the trainer's end-to-end behaviour is in test_guards / test_run_folder /
test_resume): each decision checked on hand-made inputs."""
from __future__ import annotations

from pathlib import Path

import pytest

from tanet.engine.config import ConfigError
from tanet.engine.run_guards import (
    RUN_FILES,
    UnreadableDataError,
    check_previous_run,
    resume_changes,
    check_readable,
)


def test_a_folder_with_a_run_is_refused_kept_on_resume_and_emptied_on_overwrite(tmp_path):
    check_previous_run(tmp_path, resume=None, overwrite=False)  # empty folder: nothing to protect
    check_previous_run(tmp_path, resume="auto", overwrite=False)  # --resume auto starts a run there
    for name in RUN_FILES:
        (tmp_path / name).write_text("old run")
    (tmp_path / "notes.txt").write_text("the user's own file")
    with pytest.raises(ConfigError, match=r"holds a run already \(config.yaml, last.pt.*\).*--resume auto.*--overwrite"):
        check_previous_run(tmp_path, resume=None, overwrite=False)
    check_previous_run(tmp_path, resume="auto", overwrite=False)
    check_previous_run(tmp_path, resume=str(tmp_path / "last.pt"), overwrite=False)  # its own last.pt
    assert all((tmp_path / name).exists() for name in RUN_FILES)
    check_previous_run(tmp_path, resume=None, overwrite=True)
    assert not any((tmp_path / name).exists() for name in RUN_FILES)
    assert (tmp_path / "notes.txt").read_text() == "the user's own file"  # only the run's files go


@pytest.mark.parametrize("held", [("best.pt", "config.yaml", "log.csv"), ("best.pt",), ("log.jsonl", "curves.png")])
def test_a_run_without_last_pt_is_not_started_over_by_resume_auto(tmp_path, held):
    for name in held:
        (tmp_path / name).write_text("a finished run's file")
    for resume in ("auto", None):
        with pytest.raises(ConfigError, match=r"cannot be resumed: it has no last.pt.*--overwrite") as caught:
            check_previous_run(tmp_path, resume=resume, overwrite=False)
        assert "--resume auto" not in str(caught.value)  # the advice must be right in this case too
    assert all((tmp_path / name).read_text() == "a finished run's file" for name in held)


def test_a_run_killed_before_its_first_checkpoint_starts_again_with_resume_auto(tmp_path):
    (tmp_path / "config.yaml").write_text("model: {}\n")
    (tmp_path / "log.jsonl").write_text("")  # no epoch finished
    with pytest.raises(ConfigError, match=r"the start of a run that wrote no checkpoint .*--resume auto"):
        check_previous_run(tmp_path, resume=None, overwrite=False)
    note = check_previous_run(tmp_path, resume="auto", overwrite=False)
    assert "stopped before its first checkpoint, so it starts again" in note


def test_another_runs_checkpoint_is_not_resumed_into_a_folder_holding_a_run(tmp_path):
    source = tmp_path / "a" / "last.pt"
    source.parent.mkdir()
    source.write_text("checkpoint")
    out = tmp_path / "b"
    out.mkdir()
    check_previous_run(out, resume=str(source), overwrite=False)  # a fresh folder: fine
    (out / "last.pt").write_text("run b")
    with pytest.raises(ConfigError, match="holds a run already"):
        check_previous_run(out, resume=str(source), overwrite=False)


def test_changed_keys_are_listed_and_state_shaping_ones_refused():
    saved = {"optim": {"name": "sgd", "lr": 0.01, "momentum": 0.9}, "schedule": {"epochs": 10}}
    now = {"optim": {"name": "sgd", "lr": 0.5, "momentum": 0.9, "nesterov": True}, "schedule": {"epochs": 12}}
    # a key the checkpoint does not know (nesterov) is not a change
    assert resume_changes(saved, now, Path("last.pt")) == ["optim.lr 0.01 -> 0.5", "schedule.epochs 10 -> 12"]
    assert resume_changes(None, now, Path("last.pt")) == []  # a checkpoint without its recipe
    with pytest.raises(ConfigError, match=r"cannot resume last.pt with optim.name='adamw' \(it was trained with 'sgd'\)"):
        resume_changes(saved, {**now, "optim": {**now["optim"], "name": "adamw"}}, Path("last.pt"))


def test_changes_of_what_the_model_learns_from_are_refused_unless_allowed():
    saved = {"data": {"size": 32, "scale_size": 36, "root": "/old", "num_workers": 0},
             "model": {"num_segments": 8, "temporal": {"tam_position": "b"}},
             "runtime": {"resume": None, "out": "runs/a"}}
    now = {"data": {"size": 48, "scale_size": 54, "root": "/new", "num_workers": 2},
           "model": {"num_segments": 8, "temporal": {"tam_position": "b"}},
           "runtime": {"resume": "auto", "out": "runs/b"}}
    with pytest.raises(ConfigError, match=r"data.size=48 \(it was trained with 32\), data.scale_size=54 .*"
                                          r"runtime.resume_allow=\[data.size,data.scale_size\]"):
        resume_changes(saved, now, Path("last.pt"))
    assert resume_changes(saved, now, Path("last.pt"), allowed=["data.size", "data.scale_size"]) == [
        "data.size 32 -> 48", "data.scale_size 36 -> 54", "data.root '/old' -> '/new'", "data.num_workers 0 -> 2"]
    segments = {**now, "data": saved["data"], "model": {"num_segments": 16, "temporal": {"tam_position": "c"}}}
    with pytest.raises(ConfigError, match=r"model.num_segments=16 .*model.temporal.tam_position='c'"):
        resume_changes(saved, segments, Path("last.pt"))


@pytest.mark.parametrize("read, skipped, fraction, message", [
    (10, 1, 0.1, None),  # 1 of 11 unreadable: 9.1 % <= 10 %
    (9, 1, 0.1, None),  # exactly 10 %: allowed
    (8, 2, 0.1, "2 of 10 videos could not be read.*max_skip_fraction=0.1"),
    (0, 5, 1.0, "no video was readable"),  # nothing read is an error whatever the threshold
    (0, 0, 0.1, "had no video to read: its list is empty"),
])
def test_skip_rate_threshold(read, skipped, fraction, message):
    if message is None:
        check_readable("training", 0, read, skipped, max_skip_fraction=fraction)
    else:
        with pytest.raises(UnreadableDataError, match=message):
            check_readable("training", 0, read, skipped, max_skip_fraction=fraction)
