"""Writing frames to a video file with PyAV: the writing counterpart of :mod:`tanet.data.decode`.

PyAV is imported inside the functions, so ``import tanet.data`` stays light.
"""
from __future__ import annotations

import itertools
import warnings
from pathlib import Path
from typing import Iterable, Union

import numpy as np

__all__ = ["encode_video", "resolve_codec"]

# The mpeg4 fallback is announced once per process, not once per video.
_codec_warning_given = False


def resolve_codec(requested: str = "auto") -> str:
    """PyAV encoder name for ``requested`` (``"auto"``: libx264 if available, else mpeg4)."""
    import av

    global _codec_warning_given
    available = av.codecs_available
    if requested in ("auto", "h264"):
        if "libx264" in available:
            return "libx264"
        if requested == "h264":
            raise RuntimeError("this PyAV build has no libx264 (h264) encoder; use codec='mpeg4'")
        if not _codec_warning_given:
            warnings.warn("PyAV has no libx264 (h264) encoder; writing mpeg4 video instead", stacklevel=2)
            _codec_warning_given = True
    return "mpeg4"


def encode_video(path: Union[str, Path], frames: Union[np.ndarray, Iterable[np.ndarray]], fps: float,
                 codec: str = "libx264", crf: int = 18) -> None:
    """Write uint8 RGB ``frames`` (T, H, W, 3), or an iterable of (H, W, 3) frames (streamed: a long
    video need not fit in memory), to ``path`` as yuv420p video with PyAV.

    ``codec`` is a PyAV encoder name (see :func:`resolve_codec`); ``crf`` applies to libx264.
    """
    import av
    from fractions import Fraction

    iterator = iter(frames)
    first = next(iterator, None)
    if first is None:
        raise ValueError(f"{path}: no frames to write")
    height, width = first.shape[:2]
    if codec == "libx264":
        # mbtree off: with it, x264 output for identical input differs from run to run on
        # small frames (measured with PyAV 18), which would break same seed -> same video.
        options = {"crf": str(crf), "preset": "veryfast", "x264-params": "mbtree=0"}
    else:
        options = {"qscale": "3"}
    with av.open(str(path), mode="w") as container:
        rate = fps if isinstance(fps, int) else Fraction(fps).limit_denominator(1001)
        stream = container.add_stream(codec, rate=rate, options=options)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        # One thread: reproducible output, and no fight with parallel workers.
        stream.codec_context.thread_count = 1
        for image in itertools.chain([first], iterator):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
