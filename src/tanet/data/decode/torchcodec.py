"""The ``"torchcodec"`` backend: torchcodec, when it imports (it needs the system FFmpeg libraries)."""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from typing import Sequence

import torch

from .base import VideoBackend, VideoDecodeError, VideoReader, check_indices

__all__ = ["TorchCodecBackend", "torchcodec_available"]


@functools.lru_cache(maxsize=None)
def torchcodec_available() -> bool:
    """True when ``torchcodec`` imports and finds its FFmpeg libraries (checked once)."""
    try:
        from torchcodec.decoders import VideoDecoder  # noqa: F401
    except Exception:  # ImportError, or RuntimeError/OSError when FFmpeg libs are missing
        return False
    return True


class _TorchCodecReader(VideoReader):
    def __init__(self, path: str, num_threads: int, seek_mode: str):
        from torchcodec.decoders import VideoDecoder

        self.path = path
        if not os.path.exists(path):
            raise VideoDecodeError(path, "file does not exist")
        if os.path.getsize(path) == 0:
            raise VideoDecodeError(path, "file is empty (0 bytes)")
        try:
            self._decoder = VideoDecoder(
                path,
                dimension_order="NHWC",
                num_ffmpeg_threads=max(0, int(num_threads)),
                seek_mode=seek_mode,
                device="cpu",
            )
            self.num_frames = int(self._decoder.metadata.num_frames or len(self._decoder))
            self.fps = float(self._decoder.metadata.average_fps) if self._decoder.metadata.average_fps else None
        except Exception as err:
            raise VideoDecodeError(path, f"cannot open: {err}") from None
        if self.num_frames == 0:
            raise VideoDecodeError(path, "video stream has no frames")

    def read(self, indices: Sequence[int]) -> torch.Tensor:
        indices = check_indices(self.path, indices, self.num_frames)
        if not indices:
            m = self._decoder.metadata
            return torch.empty((0, m.height, m.width, 3), dtype=torch.uint8)
        try:
            return self._decoder.get_frames_at(indices).data
        except Exception as err:
            raise VideoDecodeError(self.path, f"decoding failed: {err}") from None


@dataclass(frozen=True)
class TorchCodecBackend(VideoBackend):
    """Decode with torchcodec (seeks natively). ``seek_mode="exact"`` scans the file once
    so that frame indices are exact."""

    num_threads: int = 1
    seek_mode: str = "exact"
    name: str = field(default="torchcodec", init=False)

    def open(self, path, num_frames=None) -> VideoReader:
        if not torchcodec_available():
            raise ImportError(
                "torchcodec is not usable here (it needs a torch-matched version and the "
                "system FFmpeg libraries); use backend='pyav'"
            )
        return _TorchCodecReader(os.fspath(path), self.num_threads, self.seek_mode)
