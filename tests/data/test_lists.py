"""List files and class-name files: parsing and errors with file:line."""
from __future__ import annotations

import pytest

from tanet.data import ListFileError, VideoRecord, read_class_names, read_list, write_list


def _touch(root, *names):
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")


def test_read_video_and_frame_lists(tmp_path):
    _touch(tmp_path, "a/v1.mp4", "b/v 2.mp4")
    (tmp_path / "f1").mkdir()
    (tmp_path / "videos.txt").write_text("# comment\na/v1.mp4 3\n\nb/v 2.mp4 0\n")
    records = read_list(tmp_path / "videos.txt", tmp_path, num_classes=4, frames=False)
    assert records == [
        VideoRecord(str(tmp_path / "a/v1.mp4"), 3, None, 2),
        VideoRecord(str(tmp_path / "b/v 2.mp4"), 0, None, 4),
    ]
    (tmp_path / "frames.txt").write_text("f1 120 2\n")
    (rec,) = read_list(tmp_path / "frames.txt", tmp_path)
    assert rec == VideoRecord(str(tmp_path / "f1"), 2, 120, 1) and rec.is_frames


@pytest.mark.parametrize(
    "content,line,message",
    [
        ("a.mp4 1\nb.mp4\n", 2, "expected 'path label'"),
        ("a.mp4 1\na.mp4 x\n", 2, "not an integer"),
        ("a.mp4 7\n", 1, r"label 7 out of range \[0, 5\)"),
        ("a.mp4 -1\n", 1, "out of range"),
        ("a.mp4 1\nmissing.mp4 2\n", 2, "does not exist"),
    ],
)
def test_bad_lines_name_file_and_line(tmp_path, content, line, message):
    _touch(tmp_path, "a.mp4")
    list_file = tmp_path / "list.txt"
    list_file.write_text(content)
    with pytest.raises(ListFileError, match=message) as info:
        read_list(list_file, tmp_path, num_classes=5, frames=False)
    assert str(info.value).startswith(f"{list_file}:{line}:")
    assert info.value.line == line


def test_bad_frame_count(tmp_path):
    (tmp_path / "f").mkdir()
    list_file = tmp_path / "l.txt"
    list_file.write_text("f -3 1\n")
    with pytest.raises(ListFileError, match=r"l.txt:1: num_frames"):
        read_list(list_file, tmp_path, frames=True)


def test_write_then_read_roundtrip(tmp_path):
    _touch(tmp_path, "x.mp4")
    assert write_list(tmp_path / "out" / "train.txt", [("x.mp4", 4), ("x.mp4", 0)]) == 2
    assert [r.label for r in read_list(tmp_path / "out" / "train.txt", tmp_path)] == [4, 0]


def test_class_names(tmp_path):
    (tmp_path / "classes.txt").write_text("abseiling\nair drumming\n\n")
    assert read_class_names(tmp_path / "classes.txt") == ["abseiling", "air drumming"]
    (tmp_path / "dup.txt").write_text("a\nb\na\n")
    with pytest.raises(ListFileError, match="dup.txt:3: duplicate"):
        read_class_names(tmp_path / "dup.txt")


def test_a_byte_order_mark_is_skipped(tmp_path):
    _touch(tmp_path, "a/v1.mp4")
    (tmp_path / "bom.txt").write_bytes(b"\xef\xbb\xbfa/v1.mp4 1\r\na/v1.mp4 2\r\n")  # as Notepad saves it
    assert [(r.path, r.label, r.line) for r in read_list(tmp_path / "bom.txt", tmp_path)] == [
        (str(tmp_path / "a/v1.mp4"), 1, 1), (str(tmp_path / "a/v1.mp4"), 2, 2)]
    (tmp_path / "names.txt").write_bytes(b"\xef\xbb\xbfleft\nright\n")
    assert read_class_names(tmp_path / "names.txt") == ["left", "right"]


def test_another_encoding_is_an_error_naming_the_line(tmp_path):
    _touch(tmp_path, "a/v1.mp4")
    (tmp_path / "latin.txt").write_bytes("a/v1.mp4 1\n\na/café.mp4 0\n".encode("latin-1"))
    with pytest.raises(ListFileError, match=r"latin\.txt:3: not UTF-8 text \(byte 0xe9\)"):
        read_list(tmp_path / "latin.txt", tmp_path)
    (tmp_path / "names.txt").write_bytes("Ärger\n".encode("latin-1"))
    with pytest.raises(ListFileError, match=r"names\.txt:1: not UTF-8"):
        read_class_names(tmp_path / "names.txt")


def test_missing_files_say_which_kind(tmp_path):
    with pytest.raises(FileNotFoundError, match="list file not found"):
        read_list(tmp_path / "train.txt")
    with pytest.raises(FileNotFoundError, match="class-names file not found"):
        read_class_names(tmp_path / "classes.txt")
