"""encode_video writes what read_frames reads back (tanet.data.encode)."""
from __future__ import annotations

import numpy as np

from tanet.data import encode_video, read_frames
from tanet.data.encode import resolve_codec

from .conftest import synthetic_frames


def test_encoded_video_reads_back(tmp_path):
    frames = synthetic_frames(6, 32, 48)
    path = tmp_path / "clip.mp4"
    encode_video(path, frames, fps=8, codec=resolve_codec("auto"))
    decoded = read_frames(path, list(range(6))).numpy()
    assert decoded.shape == frames.shape and decoded.dtype == np.uint8
    # Lossy coding: close to the input, not equal.
    assert np.abs(decoded.astype(int) - frames.astype(int)).mean() < 10
