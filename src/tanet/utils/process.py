"""Child processes that do not outlive their parent."""
from __future__ import annotations

import os
import signal
import sys
from typing import Optional

__all__ = ["die_with_parent"]

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
