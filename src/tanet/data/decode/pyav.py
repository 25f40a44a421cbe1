"""The ``"pyav"`` backend: PyAV (FFmpeg inside the wheel), always available.

It demuxes the file once (no decoding) to learn every frame's timestamp and the key frames, then seeks to
the key frame before each wanted frame and decodes forward only as far as needed.
"""
from __future__ import annotations

import bisect
import os
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch

from .base import VideoBackend, VideoDecodeError, VideoReader, check_indices

__all__ = ["PyAVBackend"]


def _av_errors() -> tuple[type[BaseException], ...]:
    import av

    return (av.error.FFmpegError, OSError, EOFError, ValueError)


class _PyAVReader(VideoReader):
    def __init__(self, path: str, num_threads: int):
        import av

        self.path = path
        if not os.path.exists(path):
            raise VideoDecodeError(path, "file does not exist")
        if os.path.isdir(path):
            raise VideoDecodeError(path, "is a directory, not a video file (use backend='frames')")
        if os.path.getsize(path) == 0:
            raise VideoDecodeError(path, "file is empty (0 bytes)")
        try:
            self._container = av.open(path, metadata_errors="ignore")
        except _av_errors() as err:
            raise VideoDecodeError(path, f"cannot open: {err}") from None
        try:
            if not self._container.streams.video:
                raise VideoDecodeError(path, "no video stream")
            self._stream = self._container.streams.video[0]
            rate = self._stream.average_rate or self._stream.guessed_rate
            self.fps = float(rate) if rate else None
            codec = self._stream.codec_context
            # Frame threading adds latency after every seek and multiplies threads by the
            # number of loader workers; one thread per worker is the default.
            # 0 lets FFmpeg pick (one per core), for single-process use such as a demo.
            codec.thread_count = max(0, int(num_threads))
            codec.thread_type = "SLICE" if num_threads == 1 else "AUTO"
            self._build_index()
        except VideoDecodeError:
            self._container.close()
            raise
        except _av_errors() as err:
            self._container.close()
            raise VideoDecodeError(path, f"cannot read packets: {err}") from None
        if self.num_frames == 0:
            self._container.close()
            raise VideoDecodeError(path, "video stream has no frames")

    def _build_index(self) -> None:
        """Demux (no decoding) to learn every frame's pts and the key frames.

        Presentation order == sorted pts. Packets the demuxer marks as discarded (edit
        lists) are not output by the decoder and so are not frames.
        """
        pts: list[int] = []
        keyframe_pts: list[int] = []
        sequential = False
        for packet in self._container.demux(self._stream):
            if packet.size == 0 or packet.is_discard:
                continue
            if packet.pts is None:
                sequential = True
                pts.append(len(pts))
                continue
            pts.append(packet.pts)
            if packet.is_keyframe:
                keyframe_pts.append(packet.pts)
        self._sequential = sequential or not keyframe_pts
        self._frame_pts = sorted(pts)
        self._pts_to_index = {p: i for i, p in enumerate(self._frame_pts)}
        self._keyframe_pts = sorted(keyframe_pts)
        self.num_frames = len(pts)

    def read(self, indices: Sequence[int]) -> torch.Tensor:
        indices = check_indices(self.path, indices, self.num_frames)
        if not indices:
            return torch.empty((0, self._stream.height, self._stream.width, 3), dtype=torch.uint8)
        wanted = sorted(set(indices))
        try:
            if self._sequential:
                frames = self._read_sequential(wanted)
            else:
                frames = self._read_seeking(wanted)
        except _av_errors() as err:
            raise VideoDecodeError(self.path, f"decoding failed: {err}") from None
        shapes = {f.shape for f in frames.values()}
        if len(shapes) != 1:
            raise VideoDecodeError(self.path, f"frames change size mid-stream: {sorted(shapes)}")
        return torch.from_numpy(np.stack([frames[i] for i in indices]))

    def _read_seeking(self, wanted: list[int]) -> dict[int, np.ndarray]:
        frames: dict[int, np.ndarray] = {}
        wanted_set = set(wanted)
        decoded = None  # the frame generator of the current seek
        last_pts: int | None = None
        last_image: np.ndarray | None = None
        for index in wanted:
            if index in frames:
                continue
            target = self._frame_pts[index]
            k = bisect.bisect_right(self._keyframe_pts, target) - 1
            keyframe = self._keyframe_pts[max(k, 0)]
            # Seek only when the key frame lies beyond what has already been decoded;
            # otherwise decoding forward is cheaper than restarting the GOP.
            if decoded is None or last_pts is None or keyframe > last_pts or target <= last_pts:
                self._container.seek(keyframe, stream=self._stream, backward=True, any_frame=False)
                decoded = self._container.decode(self._stream)
                last_pts, last_image = None, None
            for frame in decoded:
                if frame.pts is None:
                    continue
                if frame.pts > target and index not in frames:
                    # The decoder skipped this frame (damaged packet): use the nearest one.
                    frames[index] = last_image if last_image is not None else frame.to_ndarray(format="rgb24")
                last_pts = frame.pts
                found = self._pts_to_index.get(frame.pts)
                if found is not None and found in wanted_set and found not in frames:
                    frames[found] = frame.to_ndarray(format="rgb24")
                    last_image = frames[found]
                if frame.pts >= target:
                    break
            else:
                decoded = None  # exhausted
            if index not in frames:
                if last_image is None:
                    raise VideoDecodeError(self.path, f"frame {index} could not be decoded (truncated?)")
                frames[index] = last_image
        return frames

    def _read_sequential(self, wanted: list[int]) -> dict[int, np.ndarray]:
        # Streams without timestamps: count decoded frames from the start.
        self._container.seek(0, stream=self._stream)
        frames: dict[int, np.ndarray] = {}
        wanted_set, last = set(wanted), wanted[-1]
        for count, frame in enumerate(self._container.decode(self._stream)):
            if count in wanted_set:
                frames[count] = frame.to_ndarray(format="rgb24")
            if count >= last:
                break
        missing = wanted_set - frames.keys()
        if missing:
            raise VideoDecodeError(self.path, f"frames {sorted(missing)[:5]} could not be decoded (truncated?)")
        return frames

    def close(self) -> None:
        self._container.close()


@dataclass(frozen=True)
class PyAVBackend(VideoBackend):
    """Decode with PyAV. ``num_threads`` FFmpeg threads per open video: 1 (the default) inside
    loader workers, 0 to let FFmpeg use every core when decoding in a single process."""

    num_threads: int = 1
    name: str = field(default="pyav", init=False)

    def open(self, path, num_frames=None) -> VideoReader:
        return _PyAVReader(os.fspath(path), self.num_threads)
