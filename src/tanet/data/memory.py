"""``backend="memory"``: decode each video file once per process and keep its frames in memory.

For small sets trained for many epochs in one process (the demo, the ablations on the built-in sets):
each epoch reads the same few hundred short clips again, and decoding them costs more than the tiny
models' forward pass. The first read of a file decodes all of its frames with the automatic backend;
later reads index the cached uint8 array. Frame sampling, crops and flips stay random per epoch (they
are drawn after the read). The cache is per process (a loader worker has its own; use it with
``num_workers=0``), keyed by path, size and modification time, and bounded (``TANET_MEMORY_CACHE_MB``,
default 2048 MB; least recently used files are dropped first).
"""
from __future__ import annotations

import os
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Optional, Sequence

import torch

from .decode import VideoBackend, VideoDecodeError, VideoReader, get_backend, register_backend

__all__ = ["MemoryBackend", "clear_memory_cache", "memory_cache_info"]

_CACHE: "OrderedDict[tuple, torch.Tensor]" = OrderedDict()
_STATE = {"bytes": 0, "hits": 0, "misses": 0}


def _limit_bytes() -> int:
    return int(float(os.environ.get("TANET_MEMORY_CACHE_MB", "2048")) * 2 ** 20)


def clear_memory_cache() -> None:
    _CACHE.clear()
    _STATE.update(bytes=0, hits=0, misses=0)


def memory_cache_info() -> dict:
    """Files held, bytes, hits and misses (decodes) of this process's cache."""
    return {"files": len(_CACHE), **_STATE}


class _MemoryReader(VideoReader):
    def __init__(self, path: str, frames: torch.Tensor, fps: Optional[float]):
        self.path, self._frames, self.fps = path, frames, fps
        self.num_frames = int(frames.shape[0])

    def read(self, indices: Sequence[int]) -> torch.Tensor:
        indices = [int(i) for i in indices]
        bad = [i for i in indices if not 0 <= i < self.num_frames]
        if bad:
            raise VideoDecodeError(self.path, f"frame indices {bad[:5]} outside 0..{self.num_frames - 1}")
        return self._frames[indices]


@dataclass(frozen=True)
class MemoryBackend(VideoBackend):
    """Decode with ``inner`` (None: automatic) once per file and process, then serve from memory."""

    inner: Optional[str] = None
    name: str = field(default="memory", init=False)

    def open(self, path, num_frames=None) -> VideoReader:
        path = os.fspath(path)
        try:
            stat = os.stat(path)
        except OSError:
            raise VideoDecodeError(path, "file does not exist") from None
        key = (path, stat.st_size, stat.st_mtime_ns)
        cached = _CACHE.get(key)
        if cached is not None:
            _CACHE.move_to_end(key)
            _STATE["hits"] += 1
            return _MemoryReader(path, *cached)
        with get_backend(self.inner, path).open(path, num_frames=num_frames) as reader:
            frames = reader.read(list(range(reader.num_frames))).contiguous()
            fps = reader.fps
        _STATE["misses"] += 1
        size = frames.numel() * frames.element_size()
        limit = _limit_bytes()
        if size <= limit:
            _CACHE[key] = (frames, fps)
            _STATE["bytes"] += size
            while _STATE["bytes"] > limit:
                _, (old, _) = _CACHE.popitem(last=False)
                _STATE["bytes"] -= old.numel() * old.element_size()
        return _MemoryReader(path, frames, fps)


register_backend("memory", MemoryBackend)
