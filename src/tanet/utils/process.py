"""Child processes that do not outlive their parent, and that leave Ctrl-C to it."""
from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.context
import os
import signal
import sys
from concurrent.futures import ProcessPoolExecutor
from typing import Iterator, Optional

__all__ = ["die_with_parent", "init_worker_process", "worker_context", "worker_pool"]

_PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: Optional[int] = None) -> None:
    """Have the kernel kill the calling process when its parent ends (Linux; elsewhere a no-op).

    Use it as a worker pool's ``initializer`` (with the parent's pid, which closes the race of a
    parent that died before this call) or as ``subprocess``'s ``preexec_fn`` (the signal survives
    ``exec``). Without it, a pool's workers and their ffmpeg children go on after ``kill -9`` of
    the process that started them.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # pragma: no cover - no prctl
        return
    if parent_pid is not None and os.getppid() != parent_pid:
        os._exit(1)


def _quiet_when_the_parent_went_away(hook):
    def excepthook(kind, value, traceback):
        # The parent (which reports the interruption itself) closed its end of a pipe or socket, e.g.
        # while receiving a tensor's file descriptor from multiprocessing's resource sharer thread.
        if issubclass(kind, (BrokenPipeError, ConnectionResetError)):
            return
        hook(kind, value, traceback)

    return excepthook


def init_worker_process(parent_pid: Optional[int] = None) -> None:
    """Set up a worker process (a DataLoader worker, a pool's process) so that it dies with its parent
    (:func:`die_with_parent`) and leaves Ctrl-C to it: SIGINT, which a terminal sends to every process
    of the foreground job, is ignored here (the parent stops the workers), and a pipe the parent closed
    while going down prints no traceback."""
    die_with_parent(parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):  # started by worker_context(): SIGINT was blocked until now
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    sys.excepthook = _quiet_when_the_parent_went_away(sys.excepthook)


_ForkProcess = getattr(multiprocessing.context, "ForkProcess", None)  # absent on Windows


if _ForkProcess is not None:
    class _QuietStartForkProcess(_ForkProcess):
        """Forks with SIGINT blocked: a Ctrl-C before the child's :func:`init_worker_process` waits,
        pending, until that function ignores it (instead of a KeyboardInterrupt traceback of the child's
        start-up code). Daemonic, as DataLoader workers are: the parent's exit ends it, even when the
        Ctrl-C that this start postponed stops the parent before a pool has recorded the new worker."""

        def start(self) -> None:
            self.daemon = True
            blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
            try:
                super().start()
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, blocked)

    class _QuietStartForkContext(multiprocessing.context.ForkContext):
        Process = _QuietStartForkProcess

    _QUIET_FORK = _QuietStartForkContext()


def worker_context():
    """The multiprocessing context for workers that run :func:`init_worker_process`: the default one,
    with SIGINT blocked while forking when that is the start method (other methods start a fresh
    interpreter, whose short start-up window stays open)."""
    context = multiprocessing.get_context()
    if _ForkProcess is not None and context.get_start_method() == "fork":
        return _QUIET_FORK
    return context


def _kill_workers(pool: ProcessPoolExecutor) -> None:
    terminate = getattr(pool, "terminate_workers", None)  # Python >= 3.14
    if terminate is not None:
        terminate()
        return
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        with contextlib.suppress(OSError, ValueError):
            process.kill()


@contextlib.contextmanager
def worker_pool(workers: int) -> Iterator[ProcessPoolExecutor]:
    """``with worker_pool(n) as pool:`` a :class:`ProcessPoolExecutor` whose workers run
    :func:`init_worker_process`. When the body raises (Ctrl-C included) the pending tasks are cancelled
    and the workers killed at once, instead of waiting for the tasks they run (a whole video each)."""
    pool = ProcessPoolExecutor(workers, mp_context=worker_context(), initializer=init_worker_process,
                               initargs=(os.getpid(),))
    try:
        yield pool
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        _kill_workers(pool)
        raise
    pool.shutdown(wait=True)
