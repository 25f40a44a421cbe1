"""List files in the TSN/TSM/TAM format and class-name files.

* videos: ``path label`` per line;
* frame folders: ``path num_frames label`` per line.

Paths are relative to a root folder (or absolute). Blank lines and lines starting with
``#`` are ignored. Every bad line is reported with ``file:line``. Files are UTF-8 (a byte-order
mark, as some Windows editors write, is skipped); another encoding is an error naming the line,
not a guess.
"""
from __future__ import annotations

import io
import os
from dataclasses import dataclass
from typing import Iterable, Sequence

from tanet.errors import TanetError
from tanet.utils.io import atomic_write, atomic_write_text

__all__ = ["VideoRecord", "ListFileError", "read_list", "write_list", "read_class_names", "write_class_names"]


class ListFileError(TanetError, ValueError):
    """A malformed line in a list or class-name file; names ``file:line``."""

    def __init__(self, file: str | os.PathLike, line: int, reason: str):
        self.file, self.line, self.reason = os.fspath(file), line, reason
        super().__init__(f"{self.file}:{line}: {reason}")

    def __reduce__(self):
        return (type(self), (self.file, self.line, self.reason))


@dataclass(frozen=True)
class VideoRecord:
    """One list entry. ``num_frames`` is set for frame folders (``None`` for video files);
    ``path`` is already joined with the root; ``line`` is the 1-based line number."""

    path: str
    label: int
    num_frames: int | None = None
    line: int = 0

    @property
    def is_frames(self) -> bool:
        return self.num_frames is not None


def _numbered_lines(path: str | os.PathLike, what: str) -> list[tuple[int, str]]:
    """``(line number, line)`` of a UTF-8 text file (BOM skipped, any newline convention)."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        raise FileNotFoundError(f"{what} not found: {os.fspath(path)}") from None
    except IsADirectoryError:
        raise IsADirectoryError(f"{what} is a folder, not a file: {os.fspath(path)}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise ListFileError(path, line, f"not UTF-8 text (byte 0x{data[error.start]:02x}); "
                                        "save the file as UTF-8") from None
    return list(enumerate(io.StringIO(text, newline=None), start=1))


def _parse_int(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


def read_list(
    list_file: str | os.PathLike,
    root: str | os.PathLike | None = None,
    num_classes: int | None = None,
    check_paths: bool = True,
    frames: bool | None = None,
) -> list[VideoRecord]:
    """Parse a list file into :class:`VideoRecord` s.

    ``frames``: ``True`` expects ``path num_frames label``, ``False`` expects
    ``path label`` (a path may then contain spaces), ``None`` decides per line by the number
    of fields. ``num_classes`` checks ``0 <= label < num_classes``; ``check_paths`` checks
    that every path exists. Raises :class:`ListFileError` naming ``file:line``.
    """
    list_file = os.fspath(list_file)
    root_dir = os.fspath(root) if root is not None else ""
    records: list[VideoRecord] = []
    for number, raw in _numbered_lines(list_file, "list file"):
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        fields = text.split()
        is_frames = frames
        if is_frames is None:
            is_frames = len(fields) == 3 and _parse_int(fields[1]) is not None
        need = 3 if is_frames else 2
        if len(fields) < need:
            layout = "path num_frames label" if is_frames else "path label"
            raise ListFileError(list_file, number, f"expected '{layout}', got {text!r}")
        label = _parse_int(fields[-1])
        if label is None:
            raise ListFileError(list_file, number, f"label {fields[-1]!r} is not an integer")
        if label < 0 or (num_classes is not None and label >= num_classes):
            bound = f"[0, {num_classes})" if num_classes is not None else ">= 0"
            raise ListFileError(list_file, number, f"label {label} out of range {bound}")
        num_frames = None
        if is_frames:
            num_frames = _parse_int(fields[-2])
            if num_frames is None or num_frames < 0:
                raise ListFileError(list_file, number, f"num_frames {fields[-2]!r} is not a non-negative integer")
            rel = " ".join(fields[:-2])
        else:
            rel = " ".join(fields[:-1])
        path = os.path.join(root_dir, rel) if root_dir else rel
        if check_paths and not os.path.exists(path):
            raise ListFileError(list_file, number, f"path does not exist: {path}")
        records.append(VideoRecord(path, label, num_frames, number))
    return records


def write_list(list_file: str | os.PathLike, rows: Iterable[tuple]) -> int:
    """Write rows ``(path, label)`` or ``(path, num_frames, label)``; returns the count.
    Written atomically, so an interrupted write never leaves half a list."""
    count = 0
    with atomic_write(list_file) as handle:
        for row in rows:
            handle.write(" ".join(str(field) for field in row) + "\n")
            count += 1
    return count


def read_class_names(path: str | os.PathLike) -> list[str]:
    """One class name per line; the line order is the class index (blank lines skipped)."""
    names: list[str] = []
    seen: dict[str, int] = {}
    for number, raw in _numbered_lines(path, "class-names file"):
        name = raw.strip()
        if not name:
            continue
        if name in seen:
            raise ListFileError(path, number, f"duplicate class name {name!r} (first on line {seen[name]})")
        seen[name] = number
        names.append(name)
    return names


def write_class_names(path: str | os.PathLike, names: Sequence[str]) -> None:
    atomic_write_text(path, "".join(f"{name}\n" for name in names))
