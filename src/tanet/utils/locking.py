"""An exclusive lock on a folder or a cache entry, so that two processes never write the same one.

The lock is an advisory ``fcntl.flock`` on a lock file. It belongs to the open file, so the kernel
releases it when its process exits, however it exits: a killed run never leaves a stale lock behind.
A process forked while the lock is held (a DataLoader worker, a pool's process) closes its copy of
the lock's file at once: an flock is held until the last descriptor of its open file is closed, so a
worker that outlived a killed parent would otherwise hold the run's lock (``O_CLOEXEC`` does not help
across a fork without ``exec``). The holder writes its pid into the file, so that a second process can
say who holds it. The lock
file itself is never deleted (deleting it while another process waits on it would let a third
process lock a new file of the same name). Where ``fcntl`` does not exist (Windows) locking is a
no-op.
"""
from __future__ import annotations

import os
import weakref
from pathlib import Path
from typing import Callable, Optional, Union

from tanet.errors import TanetError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

__all__ = ["FileLock", "LockBusyError"]

# The locks this process holds, for the child side of a fork to let go of (the parent keeps them).
_HELD: "weakref.WeakSet[FileLock]" = weakref.WeakSet()


def _drop_inherited_locks() -> None:
    # Closes the child's descriptor only (close(2), no LOCK_UN): the lock belongs to the open file that
    # parent and child share, and stays the parent's until the parent's descriptor closes.
    for lock in list(_HELD):
        lock.release()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_drop_inherited_locks)


class LockBusyError(TanetError):
    """Another process holds the lock; ``holder`` is its pid when known."""

    def __init__(self, what: str, holder: Optional[int], hint: str = ""):
        self.what, self.holder, self.hint = what, holder, hint
        who = f"process {holder}" if holder is not None else "another process"
        super().__init__(f"{what} is in use by {who} (still running)" + (f"; {hint}" if hint else ""))

    def __reduce__(self):
        return (type(self), (self.what, self.holder, self.hint))


class FileLock:
    """``with FileLock(path, what="run folder runs/x"):`` holds an exclusive lock on ``path``.

    Non-blocking by default: a held lock raises :class:`LockBusyError` naming ``what`` and the
    holder's pid (plus ``hint``, what to do about it). ``blocking=True`` waits instead, after
    calling ``on_wait(holder_pid)`` once.
    """

    def __init__(self, path: Union[str, os.PathLike], *, what: Optional[str] = None, hint: str = "",
                 blocking: bool = False, on_wait: Optional[Callable[[Optional[int]], None]] = None):
        self.path = Path(path)
        self.what = what or str(self.path)
        self.hint = hint
        self.blocking = blocking
        self.on_wait = on_wait
        self._handle = None

    @property
    def held(self) -> bool:
        return self._handle is not None

    def acquire(self) -> "FileLock":
        if self._handle is not None:
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+")
        try:
            if fcntl is not None:
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    holder = _read_pid(self.path)
                    if not self.blocking:
                        raise LockBusyError(self.what, holder, self.hint) from None
                    if self.on_wait is not None:
                        self.on_wait(holder)
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            handle.seek(0)
            handle.truncate()
            handle.write(f"{os.getpid()}\n")
            handle.flush()
        except BaseException:
            handle.close()
            raise
        self._handle = handle
        _HELD.add(self)
        return self

    def release(self) -> None:
        """Give the lock up (closing the file releases it; the file stays)."""
        handle, self._handle = self._handle, None
        _HELD.discard(self)
        if handle is not None:
            handle.close()

    def __enter__(self) -> "FileLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()

    def __del__(self) -> None:  # an object dropped without release() still frees its lock
        self.release()


def _read_pid(path: Path) -> Optional[int]:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
