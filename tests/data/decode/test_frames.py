"""The frame-folder backend: frames named by a template, read with PIL, and folders that are not what
the template says (a gap, another extension or padding, numbering from 0) handled explicitly."""
from __future__ import annotations

import numpy as np
import pytest

from tanet.data import FrameFolderBackend, VideoDecodeError, count_frames, read_frames

from ..conftest import synthetic_frames


def _write_frames(folder, frames, template, start):
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for i, frame in enumerate(frames):
        Image.fromarray(frame).save(folder / template.format(start + i), quality=95)


def _pil_decode(folder, names) -> np.ndarray:
    """Reference: PIL's own decode of the named files."""
    from PIL import Image

    return np.stack([np.asarray(Image.open(folder / name).convert("RGB")) for name in names])


@pytest.mark.parametrize("template,start", [("img_{:05d}.jpg", 1), ("{:05d}.jpg", 1), ("frame{:d}.png", 0)])
def test_frame_folder(tmp_path, template, start):
    frames = synthetic_frames(7, 24, 32)
    folder = tmp_path / "video1"
    _write_frames(folder, frames, template, start)
    backend = FrameFolderBackend(template, start)
    assert count_frames(folder, backend) == 7
    got = read_frames(folder, [6, 0, 3, 3], backend)
    expected = _pil_decode(folder, [template.format(start + i) for i in [6, 0, 3, 3]])
    np.testing.assert_array_equal(got.numpy(), expected)
    if template.endswith(".png"):  # lossless: equal to the source frames
        np.testing.assert_array_equal(got.numpy(), frames[[6, 0, 3, 3]])


def test_frame_folder_errors(tmp_path):
    folder = tmp_path / "v"
    _write_frames(folder, synthetic_frames(4, 16, 16), "img_{:05d}.jpg", 1)
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


def test_frames_in_two_formats_are_an_error_not_a_shorter_video(tmp_path):
    """Frames 1-4 as .jpg and 5-8 as .png (two extractions mixed): one line naming the folder and both
    kinds, whether the list gives a count or not -- not a 4-frame video."""
    frames = synthetic_frames(8, 16, 16)
    folder = tmp_path / "mixed"
    _write_frames(folder, frames[:4], "img_{:05d}.jpg", 1)
    _write_frames(folder, frames[4:], "img_{:05d}.png", 5)
    for count in (None, 4, 8):
        with pytest.raises(VideoDecodeError) as caught:
            FrameFolderBackend().open(folder, num_frames=count)
        message = str(caught.value)
        assert message.startswith(f"{folder}: frames named two ways") and "\n" not in message
        assert "4 like img_00001.jpg" in message and "4 frame files like img_00005.png" in message
    # Only .png frames under the .jpg template: the message points at the template.
    png_only = tmp_path / "png_only"
    _write_frames(png_only, frames[:3], "img_{:05d}.png", 1)
    with pytest.raises(VideoDecodeError, match="no frames named like 'img_00001.jpg' but 3 frame files like "
                                               "img_00001.png .* set the frame template"):
        count_frames(png_only, "frames")


def test_another_zero_padding_is_an_error(tmp_path):
    folder = tmp_path / "padding"
    _write_frames(folder, synthetic_frames(3, 16, 16), "img_{:05d}.jpg", 1)
    _write_frames(folder, synthetic_frames(1, 16, 16), "img_{:d}.jpg", 4)  # img_4.jpg
    with pytest.raises(VideoDecodeError, match="3 like img_00001.jpg and 1 frame files like img_4.jpg"):
        count_frames(folder, "frames")


def test_other_files_in_the_folder_are_ignored(tmp_path):
    folder = tmp_path / "clean"
    _write_frames(folder, synthetic_frames(3, 16, 16), "img_{:05d}.jpg", 1)
    (folder / ".done").write_text("")
    (folder / "notes.txt").write_text("x")
    (folder / "flow_x_00001.jpg").write_bytes(b"")  # another template's files
    assert count_frames(folder, "frames") == 3


@pytest.mark.parametrize("configured", [0, 1])
@pytest.mark.parametrize("first", [0, 1])
def test_folder_numbered_from_0_or_1_is_read_whole(tmp_path, configured, first):
    """img_00000.jpg .. img_00007.jpg is 8 frames whatever the configured start (0 or 1), and so is
    img_00001.jpg .. img_00008.jpg: frame i is the i-th file in number order, none dropped."""
    frames = synthetic_frames(8, 16, 24)
    folder = tmp_path / f"from{first}"
    _write_frames(folder, frames, "img_{:05d}.png", first)
    backend = FrameFolderBackend("img_{:05d}.png", configured)
    assert count_frames(folder, backend) == 8
    with backend.open(folder, num_frames=8) as reader:
        np.testing.assert_array_equal(reader.read(range(8)).numpy(), frames)  # lossless PNG: the source frames


def test_frame_folder_has_no_frame_rate(tmp_path):
    _write_frames(tmp_path / "frames", synthetic_frames(3, 16, 16), "img_{:05d}.jpg", 1)
    with FrameFolderBackend().open(tmp_path / "frames") as reader:
        assert reader.num_frames == 3 and reader.fps is None and reader.duration is None
