"""Choosing a backend and the calls every consumer uses: ``open_video``, ``read_frames``, ``count_frames``."""
from __future__ import annotations

import os
from typing import Iterable

import torch

from .base import VideoBackend, VideoReader
from .frames import FrameFolderBackend
from .pyav import PyAVBackend
from .torchcodec import TorchCodecBackend, torchcodec_available

__all__ = ["register_backend", "available_backends", "get_backend", "open_video", "read_frames", "count_frames"]

_BACKENDS = {"pyav": PyAVBackend, "torchcodec": TorchCodecBackend, "frames": FrameFolderBackend}


def register_backend(name: str, backend: type) -> None:
    """Make ``backend`` (a :class:`VideoBackend` class) selectable by ``name`` (``data.backend``)."""
    _BACKENDS[name] = backend


def available_backends() -> list[str]:
    """Names of the backends usable in this environment."""
    names = ["pyav", "frames"]
    if torchcodec_available():
        names.insert(1, "torchcodec")
    return names


def get_backend(
    backend: str | VideoBackend | None = None, path: str | os.PathLike | None = None
) -> VideoBackend:
    """Resolve a backend name (or ``None`` = automatic) to a backend object.

    Automatic choice: ``"frames"`` for a directory; otherwise PyAV, which decodes fewer frames than
    torchcodec (it skips the frames nothing references and nobody asked for) and was faster per core on
    every set of ``benchmarks/bench_data.py``. The ``TANET_VIDEO_BACKEND`` environment variable
    overrides the automatic choice for files.
    """
    if isinstance(backend, VideoBackend):
        return backend
    if backend is None:
        if path is not None and os.path.isdir(path):
            return FrameFolderBackend()
        forced = os.environ.get("TANET_VIDEO_BACKEND")
        if forced:
            return get_backend(forced)
        return PyAVBackend()
    try:
        return _BACKENDS[backend]()
    except KeyError:
        raise ValueError(f"unknown video backend {backend!r}; choose from {sorted(_BACKENDS)}") from None


def open_video(
    path: str | os.PathLike,
    backend: str | VideoBackend | None = None,
    num_frames: int | None = None,
) -> VideoReader:
    """Open ``path`` with ``backend``; use as a context manager. ``num_frames``: the count a list
    file gives for a frame folder (the folder must hold at least that many frames, without a gap)."""
    return get_backend(backend, path).open(path, num_frames=num_frames)


def read_frames(
    path: str | os.PathLike, indices: Iterable[int], backend: str | VideoBackend | None = None
) -> torch.Tensor:
    """Return exactly the frames ``indices`` (0-based, presentation order) of ``path`` as a
    uint8 tensor of shape (len(indices), H, W, 3). Repeated and unsorted indices are allowed.

    Raises :class:`VideoDecodeError` for a missing, empty, truncated or corrupt input and
    ``IndexError`` for an index outside ``[0, num_frames)``.
    """
    with open_video(path, backend) as reader:
        return reader.read(list(indices))


def count_frames(path: str | os.PathLike, backend: str | VideoBackend | None = None) -> int:
    """Exact number of frames ``read_frames`` can address in ``path`` (no decoding for PyAV)."""
    with open_video(path, backend) as reader:
        return reader.num_frames
