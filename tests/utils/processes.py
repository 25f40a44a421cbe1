"""Watching child processes through /proc (Linux), for the tests that kill a command and check that its
workers went with it."""
from __future__ import annotations

from pathlib import Path


def children(pid: int) -> set[int]:
    """The pids of ``pid``'s children (empty when it has ended)."""
    kids: set[int] = set()
    try:
        for task in (Path("/proc") / str(pid) / "task").iterdir():
            kids |= {int(p) for p in (task / "children").read_text().split()}
    except FileNotFoundError:  # it has just ended
        pass
    return kids


def running(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"  # a zombie has ended (a container's init may never reap it)
