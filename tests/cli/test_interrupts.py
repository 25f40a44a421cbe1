"""Ctrl-C, a closed standard output and kill -9, with worker processes running: one line (or nothing),
the documented exit code, no traceback, no worker left behind, no lock held."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tanet.cli import main
from utils.processes import children, running

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc, signals as on Linux")
CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def _as_in_a_terminal():
    # a foreground command of a terminal gets Ctrl-C; a test runner started in the background by a
    # non-interactive shell (`cmd &`) has SIGINT ignored, which its children would inherit
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start(*argv):
    # a session of its own: the test signals its whole process group, as a terminal does on Ctrl-C
    return subprocess.Popen([sys.executable, "-m", "tanet", *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True, preexec_fn=_as_in_a_terminal)


def _wait_for_workers(process, count=2, timeout=240):
    deadline = time.monotonic() + timeout
    while len(children(process.pid)) < count:
        assert process.poll() is None, process.communicate()[1]
        assert time.monotonic() < deadline, "the workers never started"
        time.sleep(0.01)
    return children(process.pid)


def _assert_gone(pids, within=10.0):
    deadline = time.monotonic() + within
    while any(running(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = [pid for pid in pids if running(pid)]
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, f"workers left running: {left}"


def _long_list(tiny_sets, tmp_path):
    motion = tiny_sets["motion"]
    lines = (motion.train_list.read_text() + motion.val_list.read_text()).splitlines()
    long_list = tmp_path / "long.txt"
    long_list.write_text("\n".join(lines * 100) + "\n")
    return long_list, motion.root


def test_ctrl_c_with_pool_workers_is_one_line_and_130(tiny_sets, tmp_path):
    long_list, root = _long_list(tiny_sets, tmp_path)
    for delay in (0.0, 0.3):  # while the workers start (blocked SIGINT), and while they decode
        process = _start("check-videos", "--list", str(long_list), "--root", str(root), "--workers", "2", "--full")
        workers = _wait_for_workers(process)
        time.sleep(delay)
        os.killpg(process.pid, signal.SIGINT)
        out, err = process.communicate(timeout=60)
        assert process.returncode == 130, err
        assert err == "tanet check-videos: interrupted\n"  # no worker's KeyboardInterrupt traceback
        _assert_gone(workers)


@pytest.mark.slow
def test_ctrl_c_with_loader_workers_is_one_line_and_130(tiny_sets, tmp_path):
    motion = tiny_sets["motion"]
    process = _start("train", str(CONFIGS / "cpu_tiny.yaml"), "--root", str(motion.root), "--train-list",
                     str(motion.train_list), "--val-list", str(motion.val_list), "--class-names",
                     str(motion.classes_file), "--epochs", "1000", "--workers", "2", "--out", str(tmp_path / "run"),
                     "--no-progress", "--set", "runtime.tensorboard=false")
    workers = _wait_for_workers(process)
    time.sleep(0.5)
    os.killpg(process.pid, signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert err == "tanet train: interrupted\n"
    _assert_gone(workers)


@pytest.mark.slow
def test_kill_9_of_a_run_with_loader_workers_frees_its_lock_at_once(tiny_sets, tmp_path):
    from tanet.utils.locking import FileLock, LockBusyError

    motion, run = tiny_sets["motion"], tmp_path / "run"
    train_list = tmp_path / "train.txt"
    train_list.write_text(motion.train_list.read_text() * 25)  # 100 clips: epochs long enough to be killed in
    process = _start("train", str(CONFIGS / "cpu_tiny.yaml"), "--root", str(motion.root), "--train-list",
                     str(train_list), "--class-names", str(motion.classes_file), "--epochs", "1000",
                     "--workers", "2", "--out", str(run), "--no-progress", "--set", "runtime.tensorboard=false")
    workers = _wait_for_workers(process)
    time.sleep(1.0)
    process.kill()  # kill -9 of the main process only: the workers are orphaned
    process.wait()  # (not communicate(): the workers hold its pipes until they end)
    killed = time.monotonic()
    while time.monotonic() - killed < 10:
        try:
            with FileLock(run / ".lock"):
                break
        except LockBusyError:
            time.sleep(0.02)
    assert time.monotonic() - killed < 1.0  # at once, not after torch's 5-second watchdog
    _assert_gone(workers, within=1.0)
    process.communicate()


def test_a_closed_stdout_ends_quietly_with_141():
    # `tanet models | head -0`: the reader is gone before anything is written
    process = subprocess.Popen([sys.executable, "-m", "tanet", "models"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    process.stdout.close()
    err = process.stderr.read()
    assert process.wait(timeout=120) == 141
    assert err == ""


@pytest.fixture
def python_ctrl_c_handler():
    """Python's own Ctrl-C handler in this process for one test, as in a terminal (see _as_in_a_terminal)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_a_ctrl_c_python_could_only_print_still_interrupts(monkeypatch, capsys, python_ctrl_c_handler):
    # a Ctrl-C that lands in an at-fork hook or a finaliser is "ignored" by Python (printed, not raised)
    import types

    class ObjectWhoseFinaliserIsInterrupted:
        def __del__(self):
            raise KeyboardInterrupt

    def run(args):
        ObjectWhoseFinaliserIsInterrupted()  # dropped at once: the KeyboardInterrupt is unraisable
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # the command goes on working ...
            time.sleep(0.01)
        return 0

    module = types.ModuleType("tanet.cli._busy")
    module.add_arguments, module.run = lambda parser: None, run
    monkeypatch.setitem(sys.modules, "tanet.cli._busy", module)
    monkeypatch.setitem(__import__("tanet.cli").cli.COMMANDS, "busy", ("_busy", "a long command"))
    started = time.monotonic()
    assert main(["busy"]) == 130  # ... and is interrupted all the same
    assert time.monotonic() - started < 5
    assert capsys.readouterr().err == "tanet busy: interrupted\n"


def test_what_an_interrupt_left_half_built_fails_quietly_as_it_is_freed(monkeypatch, capsys):
    # the CI flake, made certain: Ctrl-C while a DataLoader iterator starts its workers leaves an iterator
    # without _workers_status, whose __del__ then raises AttributeError as the interrupt is handled
    import types

    class HalfBuiltIterator:
        def __init__(self):
            raise KeyboardInterrupt  # interrupted before the attribute below was set

        def __del__(self):
            self._workers_status  # noqa: B018  (AttributeError, as torch's iterator raises)

    def run(args):
        HalfBuiltIterator()
        return 0

    module = types.ModuleType("tanet.cli._half")
    module.add_arguments, module.run = lambda parser: None, run
    monkeypatch.setitem(sys.modules, "tanet.cli._half", module)
    monkeypatch.setitem(__import__("tanet.cli").cli.COMMANDS, "half", ("_half", "a command interrupted mid-build"))
    printed = []  # what would be printed as "Exception ignored in ..."
    monkeypatch.setattr(sys, "unraisablehook", printed.append)
    assert main(["half"]) == 130
    assert capsys.readouterr().err == "tanet half: interrupted\n"
    assert printed == []
    assert sys.unraisablehook == printed.append  # other finalisers' errors are printed again afterwards
