"""The run folder is never lost: a finished run is not overwritten by accident, two runs never share a
folder (two processes, one killed -9), and an interrupted checkpoint write leaves nothing behind."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tanet.checkpoint import load_checkpoint_file
from tanet.cli import main
from tanet.engine import train
from tanet.engine.config import ConfigError, save_config

from .conftest import CONFIGS, tiny_config

HERE = Path(__file__).resolve().parent


def _train_args(videos, out, *extra):
    return ["train", str(CONFIGS / "cpu_tiny.yaml"), "--root", str(videos.root), "--train-list",
            str(videos.train_list), "--class-names", str(videos.classes_file), "--epochs", "1",
            "--out", str(out), "--no-progress", *extra]


def test_a_new_run_into_a_finished_run_is_refused(tiny_videos, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(_train_args(tiny_videos, run)) == 0
    before = {name: (run / name).read_bytes() for name in ("last.pt", "config.yaml", "log.jsonl")}
    capsys.readouterr()
    assert main(_train_args(tiny_videos, run, "--lr", "0.5")) == 2
    err = capsys.readouterr().err
    assert "holds a run already" in err and "--resume auto" in err and "--overwrite" in err
    assert len(err.strip().splitlines()) == 1
    assert {name: (run / name).read_bytes() for name in before} == before  # nothing was touched
    # --resume auto continues it (nothing left to train); --overwrite replaces it
    assert main(_train_args(tiny_videos, run, "--resume", "auto")) == 0
    assert (run / "last.pt").read_bytes() == before["last.pt"]
    assert main(_train_args(tiny_videos, run, "--overwrite", "--lr", "0.5")) == 0
    assert load_checkpoint_file(run / "last.pt")["config"]["optim"]["lr"] == 0.5
    assert len((run / "log.jsonl").read_text().splitlines()) == 1
    with pytest.raises(ConfigError, match="exclude each other"):
        tiny_config(tiny_videos, run, "runtime.resume=auto", "runtime.overwrite=true")


def test_out_that_is_a_file_is_a_one_line_error(tiny_videos, tmp_path, capsys):
    (tmp_path / "afile").write_text("mine")
    assert main(_train_args(tiny_videos, tmp_path / "afile")) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
    assert (tmp_path / "afile").read_text() == "mine"


def _start(args, **kwargs):
    return subprocess.Popen([sys.executable, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, **kwargs)


def _stop(process):
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.communicate()


@pytest.mark.slow
def test_a_second_process_into_a_running_run_stops_and_a_killed_one_leaves_no_lock(tiny_videos, tmp_path):
    run = tmp_path / "run"
    recipe = tmp_path / "recipe.yaml"
    save_config(tiny_config(tiny_videos, run, "runtime.resume=auto", "schedule.epochs=1"), recipe)
    first = _start([str(HERE / "train_in_subprocess.py"), str(recipe), "hold"])
    try:
        for line in first.stdout:  # the run summary, then the hook's mark: the first run is in its first step
            if line.strip() == "training":
                break
        else:
            pytest.fail(f"the first run did not start: {first.communicate()[1]}")
        second = subprocess.run([sys.executable, "-m", "tanet", "train", str(recipe)], capture_output=True,
                                text=True, timeout=300)
        assert second.returncode == 1
        assert f"run folder {run} is in use by process {first.pid}" in second.stderr
        assert "Traceback" not in second.stderr
        assert not (run / "last.pt").exists() and not (run / "log.jsonl").read_text()
    finally:
        _stop(first)  # kill -9, in the middle of its first epoch
    again = subprocess.run([sys.executable, "-m", "tanet", "train", str(recipe)], capture_output=True, text=True,
                           timeout=300)
    assert again.returncode == 0, again.stderr
    assert load_checkpoint_file(run / "last.pt")["epoch"] == 1


@pytest.mark.slow
def test_two_demos_into_one_folder(tmp_path):
    env = {**os.environ, "TANET_HOME": str(tmp_path / "home")}
    out = tmp_path / "demo"
    command = ["-m", "tanet", "demo", "--quick", "--out", str(out), "--no-progress", "--no-kernels"]
    first = _start(command, env=env)
    try:
        deadline = time.time() + 240

        def held() -> bool:  # the demo's runs are runs/<set>/<model>/seed<k>/; whichever comes first
            for lock in out.glob("runs/*/*/seed*/.lock"):
                try:
                    if lock.read_text().strip():
                        return True
                except FileNotFoundError:
                    pass
            return False

        while not held():
            assert first.poll() is None and time.time() < deadline, "the first demo never started training"
            time.sleep(0.1)
        os.killpg(first.pid, signal.SIGSTOP)  # frozen while it holds the lock: the race has one outcome
        second = subprocess.run([sys.executable, *command], capture_output=True, text=True, env=env, timeout=300)
    finally:
        _stop(first)
    assert second.returncode == 1
    assert f"is in use by process {first.pid}" in second.stderr.strip().splitlines()[-1]
    assert "Traceback" not in second.stderr


def test_temporaries_of_a_checkpoint_write_killed_mid_way_are_removed(tiny_videos, tmp_path):
    run = tmp_path / "run"
    recipe = tmp_path / "recipe.yaml"
    save_config(tiny_config(tiny_videos, run, "schedule.epochs=3", "runtime.resume=auto"), recipe)
    killed = subprocess.run([sys.executable, str(HERE / "train_in_subprocess.py"), str(recipe), "kill-in-save"],
                            capture_output=True, text=True, timeout=300)
    assert killed.returncode == -signal.SIGKILL
    leftovers = list(run.glob(".last.pt.*.tmp"))
    assert len(leftovers) == 1 and leftovers[0].stat().st_size > 0  # epoch 2, fully written, never renamed
    assert load_checkpoint_file(run / "last.pt")["epoch"] == 1
    result = train(tiny_config(tiny_videos, run, "schedule.epochs=3", "runtime.resume=auto"))
    assert result.epochs_run == 2 and not list(run.glob("*.tmp")) and not list(run.glob(".*.tmp"))
    assert [json.loads(line)["epoch"] for line in (run / "log.jsonl").read_text().splitlines()] == [1, 2, 3]
