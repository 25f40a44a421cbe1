"""The PyAV backend: it decodes only what the wanted frames need (a seek to the key frame before them,
no frame that nothing references and nobody asked for) and still gives exactly the frames of a full
decode, on every codec whose skipping it relies on."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tanet.data import PyAVBackend, VideoDecodeError, count_frames, read_frames

from ..conftest import decode_all, synthetic_frames


@pytest.fixture
def decoded_pts(monkeypatch) -> list:
    """The pts of every frame a PyAV decoder outputs while the test runs (a wrapper around the decode call)."""
    from av.codec.context import CodecContext

    seen: list = []
    original = CodecContext.decode

    def counting_decode(self, packet=None):
        frames = original(self, packet)
        seen.extend(frame.pts for frame in frames)
        return frames

    monkeypatch.setattr(CodecContext, "decode", counting_decode)
    return seen


def _reference_pts(path: Path, skip: str = "DEFAULT") -> list[int]:
    """pts of the frames PyAV's own full decode outputs, in presentation order; with ``skip="NONREF"``
    only the frames other frames are predicted from (and key frames)."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.codec_context.skip_frame = skip
        return sorted(frame.pts for frame in container.decode(stream))


def _write_with_b_frames(path: Path, codec: str, frames: np.ndarray, gop: int = 12, format: str | None = None) -> Path:
    """A clip with B-frames, written by ``codec`` with FFmpeg's generic options only."""
    import av

    with av.open(str(path), "w", format=format) as container:
        stream = container.add_stream(codec, rate=25)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        stream.codec_context.gop_size = gop
        stream.codec_context.max_b_frames = 2
        stream.codec_context.bit_rate = 2_000_000
        for array in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(array, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def _index_sets(n: int) -> list[list[int]]:
    rng = np.random.default_rng(1)
    segment = [int(k * n / 8 + rng.integers(0, max(1, n // 8))) for k in range(8)]
    return [[0], [n - 1], list(range(n)), segment, [n - 1, 0, n // 2, n // 2, 1], [1, 2], [n - 2, n - 3]]


def test_generated_mp4_has_b_frames(mp4_video):
    """The fixture must exercise reordering: some packets have pts != dts."""
    import av

    with av.open(str(mp4_video)) as container:
        packets = [p for p in container.demux(video=0) if p.size]
    assert any(p.pts != p.dts for p in packets)
    assert sum(p.is_keyframe for p in packets) > 1


def test_pyav_seeks_instead_of_decoding_everything(mp4_video, decoded_pts):
    """Reading the last frame decodes at most one GOP (+ reorder delay), not the video."""
    read_frames(mp4_video, [49], "pyav")
    assert 0 < len(decoded_pts) <= 12 + 2


def test_unreferenced_frames_nobody_wants_are_not_decoded(mp4_video, decoded_pts):
    """Every frame the decoder outputs is a reference frame (PyAV's own skip_frame="NONREF" decode lists
    them) or a wanted one; the h264 fixture has B-frames that are not references, so some are saved."""
    every, references = _reference_pts(mp4_video), _reference_pts(mp4_video, "NONREF")
    assert len(references) < len(every)
    reference = decode_all(mp4_video)
    for indices in _index_sets(len(every)):
        decoded_pts.clear()
        frames = read_frames(mp4_video, indices, "pyav")
        np.testing.assert_array_equal(frames.numpy(), reference[indices])
        allowed = set(references) | {every[i] for i in indices}
        assert set(decoded_pts) <= allowed, indices
    decoded_pts.clear()
    read_frames(mp4_video, [40], "pyav")  # a non-reference frame one GOP before the end
    assert len(decoded_pts) < 40 - 36 + 1 + 2 + 1


@pytest.mark.parametrize("codec", ["mpeg4", "mpeg2video"])
def test_other_codecs_with_b_frames(tmp_path, codec, decoded_pts):
    """The codecs whose non-reference frames are skipped besides h264 (MPEG-4 part 2, MPEG-2): B-frames
    are never references there, and every read equals the full decode."""
    path = _write_with_b_frames(tmp_path / f"clip_{codec}.mkv", codec, synthetic_frames(40, 48, 64, seed=3))
    reference = decode_all(path)
    every, references = _reference_pts(path), _reference_pts(path, "NONREF")
    assert len(references) < len(every) == len(reference) == count_frames(path, "pyav")
    for indices in _index_sets(len(reference)):
        decoded_pts.clear()
        np.testing.assert_array_equal(read_frames(path, indices, "pyav").numpy(), reference[indices],
                                      err_msg=f"{codec} {indices}")
        assert set(decoded_pts) <= set(references) | {every[i] for i in indices}


def test_one_reader_reads_many_times(mp4_video, webm_video):
    """A reader stays usable after each read (the predict timeline reads windows from one reader)."""
    for path in (mp4_video, webm_video):
        reference = decode_all(path)
        n = len(reference)
        with PyAVBackend().open(path) as reader:
            for indices in ([n - 1, 3], [2, 4], [n // 2], [0, n - 1], [n - 2]):
                np.testing.assert_array_equal(reader.read(indices).numpy(), reference[indices])


def test_stream_without_timestamps(tmp_path):
    """A raw h264 stream has no timestamps: frames are counted from the start, still exact."""
    path = _write_with_b_frames(tmp_path / "raw.h264", "libx264", synthetic_frames(20, 32, 48, seed=4), format="h264")
    reference = decode_all(path)
    assert count_frames(path, "pyav") == len(reference) == 20
    np.testing.assert_array_equal(read_frames(path, [19, 0, 7, 7], "pyav").numpy(), reference[[19, 0, 7, 7]])


def test_pyav_thread_options(mp4_video):
    reference = decode_all(mp4_video)
    for threads in (0, 2):
        for indices in _index_sets(len(reference)):
            frames = read_frames(mp4_video, indices, PyAVBackend(num_threads=threads))
            np.testing.assert_array_equal(frames.numpy(), reference[indices])


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
