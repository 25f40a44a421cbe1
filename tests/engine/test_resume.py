"""Resuming with a changed recipe: optimiser and schedule values are applied (and recorded as used);
keys that shape the optimizer state are refused with a message, not a traceback."""
from __future__ import annotations

import pytest

from tanet.cli import main
from tanet.engine import Trainer, train
from tanet.engine.config import ConfigError, save_config

from .conftest import tiny_config


class Killed(Exception):
    pass


def _first_epoch_then_kill(videos, run, *extra):
    def kill(epoch, step, loss):
        if epoch == 1:
            raise Killed()

    with pytest.raises(Killed):
        train(tiny_config(videos, run, "schedule.epochs=2", "schedule.name=step", "schedule.milestones=[]",
                          "optim.lr=0.004", *extra), step_hook=kill)


def test_changed_lr_and_momentum_apply_on_resume(tiny_videos, tmp_path, capsys):
    run = tmp_path / "run"
    _first_epoch_then_kill(tiny_videos, run)
    config = tiny_config(tiny_videos, run, "schedule.epochs=2", "schedule.name=step", "schedule.milestones=[]",
                         "optim.lr=0.02", "optim.momentum=0.5", "runtime.resume=auto")
    seen = []
    trainer = Trainer(config, step_hook=lambda epoch, step, loss: seen.append(
        [(g["lr"] / g["lr_mult"], g["momentum"]) for g in trainer.optimizer.param_groups]))
    assert "changed since that checkpoint, applied from here on: optim.lr 0.004 -> 0.02, optim.momentum 0.9 -> 0.5" \
        in capsys.readouterr().out
    result = trainer.fit()
    # every step of the resumed epoch ran at the new values (a constant schedule: lr x 1)
    assert len(seen) == 12
    assert all(lr == pytest.approx(0.02) and momentum == 0.5 for step in seen for lr, momentum in step)
    assert result.history[1]["lr"] == pytest.approx(0.02) and result.history[0]["lr"] == pytest.approx(0.004)


def test_resume_with_another_optimizer_is_refused_in_one_line(tiny_videos, tmp_path, capsys):
    run = tmp_path / "run"
    _first_epoch_then_kill(tiny_videos, run)
    with pytest.raises(ConfigError, match=r"optim.name='adamw' \(it was trained with 'sgd'\)"):
        Trainer(tiny_config(tiny_videos, run, "schedule.epochs=2", "optim.name=adamw", "runtime.resume=auto"))
    recipe = tmp_path / "recipe.yaml"
    save_config(tiny_config(tiny_videos, run, "schedule.epochs=2", "optim.linear_lr_policy=none",
                            "runtime.resume=auto"), recipe)
    capsys.readouterr()
    assert main(["train", str(recipe)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot resume" in err[0] and "optim.linear_lr_policy='none'" in err[0]


def test_a_changed_crop_size_on_resume_is_refused_unless_allowed(tiny_videos, tmp_path, capsys):
    """issue 19: --size 32 -> 48 on resume was neither listed nor refused, and config.yaml then recorded 48
    for a run that trained at 32."""
    run = tmp_path / "run"
    _first_epoch_then_kill(tiny_videos, run, "data.size=32")
    recorded = (run / "config.yaml").read_text()
    with pytest.raises(ConfigError, match=r"data.size=48 \(it was trained with 32\), data.scale_size=54 .*"
                                          r"--set runtime.resume_allow=\[data.size,data.scale_size\]"):
        Trainer(tiny_config(tiny_videos, run, "schedule.epochs=2", "schedule.name=step", "schedule.milestones=[]",
                            "optim.lr=0.004", "data.size=48", "runtime.resume=auto"))
    assert (run / "config.yaml").read_text() == recorded  # the refusal changed nothing
    capsys.readouterr()
    Trainer(tiny_config(tiny_videos, run, "schedule.epochs=2", "schedule.name=step", "schedule.milestones=[]",
                        "optim.lr=0.004", "data.size=48", "runtime.resume=auto",
                        "runtime.resume_allow=[data.size,data.scale_size]"))
    assert "applied from here on: data.size 32 -> 48, data.scale_size 36 -> 54" in capsys.readouterr().out


def test_resuming_another_runs_checkpoint_names_only_files_that_exist(tiny_videos, tmp_path, monkeypatch):
    """issue 19: a resume into a new folder claimed best.pt in its final line although the best came from
    the source run and no best.pt was written."""
    source = tmp_path / "a"
    first = train(tiny_config(tiny_videos, source, "schedule.epochs=1", "runtime.max_steps_per_epoch=2"))
    assert first.best_checkpoint == source / "best.pt" and first.best_top1 is not None
    assert f"in {source / 'best.pt'}" in first.final_line()

    # the resumed epoch validates worse than the source run's best: no best.pt in the new folder
    monkeypatch.setattr(Trainer, "validate", lambda self, epoch: {
        "val_top1": -1.0, "val_top5": 0.0, "val_mean_class_acc": 0.0, "val_loss": 9.0, "val_skipped": 0})
    target = tmp_path / "b"
    resumed = train(tiny_config(tiny_videos, target, "schedule.epochs=2", "runtime.max_steps_per_epoch=2",
                                f"runtime.resume={source / 'last.pt'}"))
    assert not (target / "best.pt").exists() and resumed.best_checkpoint is None
    assert resumed.best_top1 == first.best_top1 and resumed.best_from == str(source / "best.pt")
    line = resumed.final_line()
    assert f"reached before the resume, in {source / 'best.pt'} (this run wrote no best.pt)" in line
    assert line.endswith("this run wrote last.pt)")


def test_a_full_disk_names_the_file_and_what_last_pt_still_holds(tiny_videos, tmp_path, monkeypatch):
    import errno

    import tanet.engine.trainer as trainer_module
    from tanet.errors import TanetError

    saved = trainer_module.save_checkpoint
    calls = []

    def full_disk(path, state):
        calls.append(path)
        if state["epoch"] == 2:
            raise OSError(errno.ENOSPC, f"No space left on device while writing {path}")
        saved(path, state)

    monkeypatch.setattr(trainer_module, "save_checkpoint", full_disk)
    run = tmp_path / "run"
    with pytest.raises(TanetError, match=r"No space left on device while writing .*last.pt; the run stopped without "
                                         r"writing a checkpoint of this epoch: .*last.pt still holds epoch 1"):
        train(tiny_config(tiny_videos, run, "schedule.epochs=2", "runtime.max_steps_per_epoch=1"))
    from tanet.checkpoint import load_checkpoint_file

    assert load_checkpoint_file(run / "last.pt")["epoch"] == 1
