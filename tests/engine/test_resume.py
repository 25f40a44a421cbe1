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
