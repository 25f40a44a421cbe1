"""The run-folder / cache-entry lock: exclusive, names its holder, and dies with its process."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from tanet.utils.locking import FileLock, LockBusyError

HOLD = ("import sys, time; from tanet.utils.locking import FileLock; "
        "lock = FileLock(sys.argv[1]).acquire(); print('held', flush=True); time.sleep(60)")


def _holder(path):
    process = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "held"
    return process


def test_a_second_holder_is_refused_with_the_first_ones_pid(tmp_path):
    path = tmp_path / "run" / ".lock"
    process = _holder(path)
    try:
        with pytest.raises(LockBusyError, match=f"run folder x is in use by process {process.pid} .*choose another"):
            FileLock(path, what="run folder x", hint="choose another --out").acquire()
    finally:
        process.kill()
        process.wait()
    # kill -9 leaves no stale lock: the kernel released it with the process
    with FileLock(path) as lock:
        assert lock.held and path.read_text().strip() == str(os.getpid())
    assert not lock.held


def test_blocking_lock_waits_for_the_holder(tmp_path):
    path = tmp_path / ".lock"
    process = _holder(path)
    waited = []
    threading.Timer(1.0, lambda: os.kill(process.pid, signal.SIGKILL)).start()
    started = time.monotonic()
    with FileLock(path, blocking=True, on_wait=waited.append):
        assert time.monotonic() - started > 0.5  # it waited for the holder to go
    process.wait()
    assert waited == [process.pid]


def test_a_dropped_lock_object_frees_its_lock(tmp_path):
    path = tmp_path / ".lock"
    FileLock(path).acquire()  # never released explicitly
    with FileLock(path):
        pass
