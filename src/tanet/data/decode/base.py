"""What every decoding backend shares: the error type, the reader and backend interfaces, the index check."""
from __future__ import annotations

import os
from typing import Sequence

import torch

from tanet.errors import TanetError

__all__ = ["VideoDecodeError", "VideoReader", "VideoBackend", "check_indices"]


class VideoDecodeError(TanetError, RuntimeError):
    """A video (or frame folder) that cannot be read: missing, empty, truncated or corrupt.

    ``path`` is the offending file and ``reason`` says what is wrong with it.
    """

    def __init__(self, path: str | os.PathLike, reason: str | None = None):
        if reason is None:
            # Re-raised in the main process by a DataLoader, whose one argument is its report
            # ("Caught VideoDecodeError in DataLoader worker process 1. Original Traceback ...");
            # keep the one line that names the file.
            path, reason = _from_worker_report(os.fspath(path))
        self.path = os.fspath(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")

    def __reduce__(self):  # survive pickling across DataLoader worker processes
        return (type(self), (self.path, self.reason))


def _from_worker_report(report: str) -> tuple[str, str]:
    marker = f"{VideoDecodeError.__name__}: "
    for line in reversed(report.splitlines()):
        if marker in line:
            path, _, reason = line.split(marker, 1)[1].partition(": ")
            return path, reason or "unreadable"
    lines = report.strip().splitlines()
    return (lines[0] if lines else "?"), "unreadable (reported by a data-loading worker)"


def check_indices(path: str, indices: Sequence[int], num_frames: int) -> list[int]:
    """``indices`` as ints; ``IndexError`` naming ``path`` for any outside ``[0, num_frames)``."""
    indices = [int(i) for i in indices]
    bad = [i for i in indices if i < 0 or i >= num_frames]
    if bad:
        raise IndexError(
            f"{path}: frame indices {bad[:5]} out of range for a video of {num_frames} frames"
        )
    return indices


class VideoReader:
    """An open video. ``num_frames`` is exact; ``read(indices)`` returns uint8 (N, H, W, 3).

    ``fps`` is the stream's average frame rate (None for a frame folder, which records none) and
    ``duration`` the seconds its frames cover at that rate (``num_frames / fps``): frame ``i`` is
    shown at about ``i / fps`` seconds.
    """

    path: str
    num_frames: int
    fps: float | None = None

    @property
    def duration(self) -> float | None:
        return self.num_frames / self.fps if self.fps else None

    def read(self, indices: Sequence[int]) -> torch.Tensor:  # pragma: no cover - interface
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self) -> "VideoReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class VideoBackend:
    """Strategy that opens videos; subclasses are small frozen dataclasses of options."""

    name: str = "base"

    def open(self, path: str | os.PathLike, num_frames: int | None = None) -> VideoReader:
        raise NotImplementedError  # pragma: no cover - interface
