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


FORK_AND_HOLD = """
import multiprocessing, sys, time
from tanet.utils.locking import FileLock

def child():  # a plain forked child: it does not die with its parent
    time.sleep(60)

lock = FileLock(sys.argv[1]).acquire()
worker = multiprocessing.get_context("fork").Process(target=child)
worker.start()
print(worker.pid, flush=True)
time.sleep(60)
"""


@pytest.mark.skipif(not hasattr(os, "register_at_fork"), reason="no fork")
def test_a_forked_child_does_not_keep_the_lock_of_a_killed_parent(tmp_path):
    path = tmp_path / ".lock"
    parent = subprocess.Popen([sys.executable, "-c", FORK_AND_HOLD, str(path)], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    try:
        with pytest.raises(LockBusyError):  # the parent holds it
            FileLock(path).acquire()
        parent.kill()
        parent.wait()
        os.kill(child, 0)  # the child still runs (kill raises if not) ...
        with FileLock(path) as lock:  # ... and the lock is free all the same
            assert lock.held
    finally:
        os.kill(child, signal.SIGKILL)
