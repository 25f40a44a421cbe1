"""The run guards as functions (the trainer's end-to-end behaviour is in test_guards / test_run_folder /
test_resume): each decision checked on hand-made inputs."""
from __future__ import annotations

from pathlib import Path

import pytest

from tanet.engine.config import ConfigError
from tanet.engine.run_guards import (
    RUN_FILES,
    UnreadableDataError,
    changed_training_keys,
    check_previous_run,
    check_readable,
)


def test_a_folder_with_a_run_is_refused_kept_on_resume_and_emptied_on_overwrite(tmp_path):
    check_previous_run(tmp_path, resume=False, overwrite=False)  # empty folder: nothing to protect
    for name in RUN_FILES:
        (tmp_path / name).write_text("old run")
    (tmp_path / "notes.txt").write_text("the user's own file")
    with pytest.raises(ConfigError, match=r"holds a run already \(last.pt, config.yaml\).*--resume auto.*--overwrite"):
        check_previous_run(tmp_path, resume=False, overwrite=False)
    check_previous_run(tmp_path, resume=True, overwrite=False)
    assert all((tmp_path / name).exists() for name in RUN_FILES)
    check_previous_run(tmp_path, resume=False, overwrite=True)
    assert not any((tmp_path / name).exists() for name in RUN_FILES)
    assert (tmp_path / "notes.txt").read_text() == "the user's own file"  # only the run's files go


def test_changed_keys_are_listed_and_state_shaping_ones_refused():
    saved = {"optim": {"name": "sgd", "lr": 0.01, "momentum": 0.9}, "schedule": {"epochs": 10}}
    now = {"optim": {"name": "sgd", "lr": 0.5, "momentum": 0.9, "nesterov": True}, "schedule": {"epochs": 12}}
    # a key the checkpoint does not know (nesterov) is not a change
    assert changed_training_keys(saved, now, Path("last.pt")) == ["optim.lr 0.01 -> 0.5", "schedule.epochs 10 -> 12"]
    assert changed_training_keys(None, now, Path("last.pt")) == []  # a checkpoint without its recipe
    with pytest.raises(ConfigError, match=r"cannot resume last.pt with optim.name='adamw' \(it was trained with 'sgd'\)"):
        changed_training_keys(saved, {**now, "optim": {**now["optim"], "name": "adamw"}}, Path("last.pt"))


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
