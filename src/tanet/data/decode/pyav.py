"""The ``"pyav"`` backend: PyAV (FFmpeg inside the wheel), always available.

It demuxes the file once (no decoding) to learn every frame's timestamp and the key frames. A read then
decodes only what the wanted frames need: per group of wanted frames sharing a key frame, a seek to it,
the packets up to the group's last wanted one (where the codec allows, the decoder drops every frame
that no other frame references and nobody asked for), and a drain of the decoder's reorder buffer.
Only the wanted frames are converted to RGB.
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


# Codecs whose frames FFmpeg's skip_frame="NONREF" drops are exactly the frames no other frame predicts
# from: H.264 (nal_ref_idc 0) and MPEG-1/2/4 part 2 (B-frames). Not HEVC: a sub-layer non-reference
# picture can still be a reference for a higher temporal layer.
_EXACT_NONREF_SKIP = frozenset({"h264", "mpeg1video", "mpeg2video", "mpeg4"})


class _PyAVReader(VideoReader):
    def __init__(self, path: str, num_threads: int):
        from av.video.reformatter import VideoReformatter

        self.path = path
        if not os.path.exists(path):
            raise VideoDecodeError(path, "file does not exist")
        if os.path.isdir(path):
            raise VideoDecodeError(path, "is a directory, not a video file (use backend='frames')")
        if os.path.getsize(path) == 0:
            raise VideoDecodeError(path, "file is empty (0 bytes)")
        self._num_threads = int(num_threads)
        self._reformatter = VideoReformatter()
        self._open()
        try:
            self._build_index()
        except _av_errors() as err:
            self._container.close()
            raise VideoDecodeError(path, f"cannot read packets: {err}") from None
        if self.num_frames == 0:
            self._container.close()
            raise VideoDecodeError(path, "video stream has no frames")

    def _open(self) -> None:
        import av

        try:
            self._container = av.open(self.path, metadata_errors="ignore")
        except _av_errors() as err:
            raise VideoDecodeError(self.path, f"cannot open: {err}") from None
        if not self._container.streams.video:
            self._container.close()
            raise VideoDecodeError(self.path, "no video stream")
        self._stream = self._container.streams.video[0]
        rate = self._stream.average_rate or self._stream.guessed_rate
        self.fps = float(rate) if rate else None
        codec = self._codec = self._stream.codec_context
        # Frame threading adds latency after every seek and multiplies threads by the
        # number of loader workers; one thread per worker is the default.
        # 0 lets FFmpeg pick (one per core), for single-process use such as a demo.
        codec.thread_count = max(0, self._num_threads)
        codec.thread_type = "SLICE" if self._num_threads == 1 else "AUTO"
        self._skip_unwanted = codec.name in _EXACT_NONREF_SKIP

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
        """One decoding pass per group of wanted frames that share a key frame (a seek to it, packets
        forward until the group's last wanted packet is sent, then a drain of the reorder buffer)."""
        groups: dict[int, set[int]] = {}
        for index in wanted:
            target = self._frame_pts[index]
            k = bisect.bisect_right(self._keyframe_pts, target) - 1
            groups.setdefault(self._keyframe_pts[max(k, 0)], set()).add(target)
        frames: dict[int, np.ndarray] = {}
        for keyframe, targets in sorted(groups.items()):
            self._decode_group(keyframe, targets, frames)
        missing = [index for index in wanted if index not in frames]
        if missing:  # a damaged or cut stream whose decoder dropped a frame
            self._read_nearest(missing, frames)
        return frames

    def _decode_group(self, keyframe: int, targets: set[int], frames: dict[int, np.ndarray]) -> None:
        self._container.seek(keyframe, stream=self._stream, backward=True, any_frame=False)
        codec, unsent = self._codec, set(targets)
        for packet in self._container.demux(self._stream):
            if packet.size == 0:  # end of stream
                break
            wanted = packet.pts in unsent
            if self._skip_unwanted:
                # A frame nothing predicts from and nobody asked for is not decoded at all.
                codec.skip_frame = "DEFAULT" if wanted else "NONREF"
            self._keep(codec.decode(packet), targets, frames)
            if wanted:
                unsent.discard(packet.pts)
                if not unsent:
                    break
        # Drain the frames the decoder holds back for reordering instead of decoding further packets;
        # the next seek resets the decoder.
        codec.skip_frame = "DEFAULT"
        self._keep(codec.decode(None), targets, frames)

    def _keep(self, decoded, targets: set[int], frames: dict[int, np.ndarray]) -> None:
        for frame in decoded:
            if frame.pts in targets:
                index = self._pts_to_index[frame.pts]
                if index not in frames:
                    frames[index] = self._rgb(frame)

    def _rgb(self, frame) -> np.ndarray:
        # One reformatter per reader keeps its colour-conversion context; `frame.to_ndarray` would
        # build a new one for every frame (same conversion, same pixels).
        return self._reformatter.reformat(frame, format="rgb24").to_ndarray()

    def _read_nearest(self, missing: list[int], frames: dict[int, np.ndarray]) -> None:
        """Frames the decoder did not output: decode every frame from the key frame and take the
        nearest one decoded before (or else after) each missing frame."""
        for index in missing:
            target = self._frame_pts[index]
            k = bisect.bisect_right(self._keyframe_pts, target) - 1
            self._container.seek(self._keyframe_pts[max(k, 0)], stream=self._stream, backward=True)
            before = after = None
            for frame in self._container.decode(self._stream):
                if frame.pts is None:
                    continue
                if frame.pts >= target:
                    after = frame
                    break
                before = frame
            exact = after is not None and after.pts == target
            nearest = after if exact or before is None else before
            if nearest is None:
                raise VideoDecodeError(self.path, f"frame {index} could not be decoded (truncated?)")
            frames[index] = self._rgb(nearest)

    def _read_sequential(self, wanted: list[int]) -> dict[int, np.ndarray]:
        # Streams without timestamps (raw elementary streams, which cannot seek): count decoded frames
        # from the start of a freshly opened file.
        self._container.close()
        self._open()
        frames: dict[int, np.ndarray] = {}
        wanted_set, last = set(wanted), wanted[-1]
        for count, frame in enumerate(self._container.decode(self._stream)):
            if count in wanted_set:
                frames[count] = self._rgb(frame)
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
