"""Frame-accurate reading of a few frames from a video file or a folder of JPEGs.

Three backends share one interface (:class:`VideoBackend` opens a :class:`VideoReader`):

* ``"pyav"`` -- PyAV (FFmpeg bundled in the wheel); always available.
* ``"torchcodec"`` -- torchcodec, when it imports (needs the system FFmpeg libraries).
* ``"frames"`` -- a folder of extracted JPEG frames named by a template.

Frames are numbered from 0 in presentation order, i.e. the order in which a full decode
of the first video stream yields them, so ``read_frames(path, [i])[0]`` is the ``i``-th
frame of ``for frame in av.open(path).decode(video=0)``. Every backend reads only the
frames asked for: PyAV seeks to the key frame before each wanted frame and decodes forward
only as far as needed; torchcodec seeks on its own; the folder backend opens only the files
it needs.

Every problem with the input itself (missing, empty, truncated or corrupt file, no video
stream, a missing JPEG) raises :class:`VideoDecodeError`, which names the file.
"""
from __future__ import annotations

import bisect
import functools
import os
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np
import torch

from tanet.errors import TanetError

__all__ = [
    "VideoDecodeError",
    "VideoReader",
    "VideoBackend",
    "PyAVBackend",
    "TorchCodecBackend",
    "FrameFolderBackend",
    "available_backends",
    "get_backend",
    "open_video",
    "read_frames",
    "count_frames",
    "torchcodec_available",
]

PathLike = "str | os.PathLike[str]"


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


def _check_indices(path: str, indices: Sequence[int], num_frames: int) -> list[int]:
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


# --------------------------------------------------------------------------- PyAV


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
        indices = _check_indices(self.path, indices, self.num_frames)
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


# --------------------------------------------------------------------------- torchcodec


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
        indices = _check_indices(self.path, indices, self.num_frames)
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


# --------------------------------------------------------------------------- JPEG folder


class _FrameFolderReader(VideoReader):
    def __init__(self, path: str, template: str, start_index: int, num_frames: int | None):
        self.path = path
        self.template = template
        self.start_index = start_index
        if not os.path.isdir(path):
            raise VideoDecodeError(path, "frame folder does not exist")
        # The folder is listed even when the list file gives the count: a frame missing in the middle
        # (an interrupted extraction, a deleted file) is an error here, for every consumer, instead of a
        # silently shorter video or a failure only when a sampler happens to pick that frame.
        numbers = _frame_numbers(path, template)
        count = 0
        while start_index + count in numbers:
            count += 1
        later = [n for n in numbers if n > start_index + count]
        if later:
            raise VideoDecodeError(path, f"frame {template.format(start_index + count)} is missing although "
                                         f"{len(later)} later frames (up to {template.format(max(later))}) exist; "
                                         "extract the frames again")
        if count == 0:
            raise VideoDecodeError(path, f"no frames named like {template.format(start_index)!r}")
        if num_frames is None:
            num_frames = count
        elif num_frames > count:
            raise VideoDecodeError(path, f"the list says {num_frames} frames but the folder holds {count} "
                                         f"({template.format(start_index)} .. {template.format(start_index + count - 1)})")
        if num_frames <= 0:
            raise VideoDecodeError(path, f"no frames named like {template.format(start_index)!r}")
        self.num_frames = int(num_frames)

    def frame_path(self, index: int) -> str:
        return os.path.join(self.path, self.template.format(self.start_index + index))

    def read(self, indices: Sequence[int]) -> torch.Tensor:
        from PIL import Image, UnidentifiedImageError

        indices = _check_indices(self.path, indices, self.num_frames)
        cache: dict[int, np.ndarray] = {}
        for index in indices:
            if index in cache:
                continue
            file = self.frame_path(index)
            try:
                with Image.open(file) as image:
                    cache[index] = np.asarray(image.convert("RGB"))
            except FileNotFoundError:
                raise VideoDecodeError(file, "frame file is missing") from None
            except (UnidentifiedImageError, OSError, SyntaxError) as err:
                raise VideoDecodeError(file, f"cannot decode image: {err}") from None
        shapes = {a.shape for a in cache.values()}
        if len(shapes) > 1:
            raise VideoDecodeError(self.path, f"frames have different sizes: {sorted(shapes)}")
        if not indices:
            return torch.empty((0, 0, 0, 3), dtype=torch.uint8)
        return torch.from_numpy(np.stack([cache[i] for i in indices]))


def _frame_numbers(folder: str, template: str) -> set[int]:
    """The frame numbers of the files in ``folder`` named exactly ``template.format(number)``."""
    prefix, suffix = template.split("{", 1)[0], template.rsplit("}", 1)[-1]
    numbers = set()
    for name in os.listdir(folder):
        middle = name[len(prefix):len(name) - len(suffix)] if name.startswith(prefix) and name.endswith(suffix) else ""
        if middle.isdigit() and template.format(int(middle)) == name:
            numbers.add(int(middle))
    return numbers


@dataclass(frozen=True)
class FrameFolderBackend(VideoBackend):
    """A folder of extracted frames; frame ``i`` is ``template.format(start_index + i)``.

    TSN/TSM/TAM lists use ``img_{:05d}.jpg`` numbered from 1; Something-Something V1
    ships ``{:05d}.jpg`` numbered from 1.
    """

    template: str = "img_{:05d}.jpg"
    start_index: int = 1
    name: str = field(default="frames", init=False)

    def open(self, path, num_frames=None) -> VideoReader:
        return _FrameFolderReader(os.fspath(path), self.template, self.start_index, num_frames)


# --------------------------------------------------------------------------- selection

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

    Automatic choice: ``"frames"`` for a directory; otherwise torchcodec when it imports
    (it seeks instead of decoding from the key frame) and PyAV when it does not. The
    ``TANET_VIDEO_BACKEND`` environment variable overrides the automatic choice for files.
    """
    if isinstance(backend, VideoBackend):
        return backend
    if backend is None:
        if path is not None and os.path.isdir(path):
            return FrameFolderBackend()
        forced = os.environ.get("TANET_VIDEO_BACKEND")
        if forced:
            return get_backend(forced)
        return TorchCodecBackend() if torchcodec_available() else PyAVBackend()
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
