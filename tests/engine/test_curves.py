"""Watching training: curves.png in every run folder, ``tanet plot`` over runs, TensorBoard per epoch
and per iteration (or a one-line notice when it is not installed)."""
from __future__ import annotations

import json
import sys

import pytest

from tanet.cli import main
from tanet.engine import train
from tanet.engine.run_log import TENSORBOARD_MISSING, RunLogger

from .conftest import tiny_config

PNG = b"\x89PNG"


def _record(epoch, loss):
    return {"epoch": epoch, "lr": 0.1 / epoch, "train_loss": loss, "train_top1": 10.0 * epoch,
            "val_top1": 12.0 * epoch, "val_loss": loss + 0.1}


def test_curves_are_redrawn_as_the_run_goes_and_on_close(tmp_path):
    logger = RunLogger(tmp_path, enabled=True, tensorboard=False, curves_every_s=0.0)
    logger.append(_record(1, 2.0))
    first = (tmp_path / "curves.png").read_bytes()
    assert first[:4] == PNG
    logger.append(_record(2, 1.5))
    assert (tmp_path / "curves.png").read_bytes() != first  # redrawn after the epoch
    (tmp_path / "slow").mkdir()
    slow = RunLogger(tmp_path / "slow", enabled=True, tensorboard=False, curves_every_s=1e9)
    slow.append(_record(1, 2.0))
    slow.append(_record(2, 1.5))
    assert not (tmp_path / "slow" / "curves.png").exists()  # epochs come faster than drawings ...
    slow.close()
    assert (tmp_path / "slow" / "curves.png").read_bytes()[:4] == PNG  # ... but the end is always drawn
    assert not [p.name for p in tmp_path.rglob(".*.tmp")]  # written atomically, no temporaries left


def test_tensorboard_missing_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import fails as if not installed
    RunLogger(tmp_path, enabled=True, tensorboard=True).close()
    assert capsys.readouterr().err == TENSORBOARD_MISSING + "\n"
    assert "pip install 'tanet[tensorboard]'" in TENSORBOARD_MISSING
    RunLogger(tmp_path, enabled=True, tensorboard=False).close()
    RunLogger(tmp_path, enabled=False, tensorboard=True).close()  # other ranks say nothing
    RunLogger(tmp_path, enabled=True, tensorboard="auto").close()  # the default: used when installed, else quiet
    assert capsys.readouterr().err == ""


def test_tensorboard_scalars_per_epoch_and_per_iteration(tiny_videos, tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    result = train(tiny_config(tiny_videos, tmp_path / "run", "schedule.epochs=2", "runtime.tensorboard=true"))
    events = EventAccumulator(str(tmp_path / "run" / "tensorboard"))
    events.Reload()
    steps = [event.step for event in events.Scalars("train_step/loss")]
    per_epoch = 48 // 4  # 48 training clips, batch 4, drop_last
    assert steps == list(range(1, 2 * per_epoch + 1))
    assert [event.step for event in events.Scalars("train/loss")] == [1, 2]
    assert events.Scalars("train/loss")[1].value == pytest.approx(result.history[1]["train_loss"])
    assert len(events.Scalars("train_step/lr")) == 2 * per_epoch


def test_plot_compares_runs(tmp_path, capsys):
    runs = []
    for name, losses in (("tanet", [2.0, 1.4, 1.0]), ("tsn", [2.1, 1.9])):
        run = tmp_path / name
        run.mkdir()
        (run / "log.jsonl").write_text("".join(json.dumps(_record(i + 1, l)) + "\n" for i, l in enumerate(losses)))
        runs.append(run)
    with open(runs[1] / "log.jsonl", "a") as handle:
        handle.write('{"epoch": 3, "train_lo')  # a run killed while writing
    out = tmp_path / "compare.png"
    with pytest.warns(UserWarning, match=r"tsn/log.jsonl:3: not a complete JSON record"):
        assert main(["plot", *map(str, runs), "--out", str(out)]) == 0
    assert out.read_bytes()[:4] == PNG
    assert "epochs: tanet 3, tsn 2" in capsys.readouterr().out
    (tmp_path / "nothing").mkdir()
    assert main(["plot", str(tmp_path / "nothing"), "--out", str(out), "--overwrite"]) == 1
    assert "nothing: no training log here" in capsys.readouterr().err
