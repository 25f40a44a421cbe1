"""Find the unreadable entries of a list file (``tanet check-videos``).

Each entry is opened and a few frames are decoded (first, middle, last; ``full`` decodes every
frame). :func:`write_clean_list` writes the list without the bad entries (the original lines, in
order), atomically (``tanet check-videos`` never writes it over its input list).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional, Sequence, Union

from tanet.utils.io import atomic_write
from tanet.utils.process import worker_pool

from .decode import FrameFolderBackend, VideoBackend, VideoDecodeError, get_backend
from .lists import VideoRecord, read_list

__all__ = ["CheckResult", "check_video", "check_videos", "check_list", "write_clean_list"]

PathLike = Union[str, os.PathLike]


@dataclass(frozen=True)
class CheckResult:
    record: VideoRecord
    num_frames: int = 0
    error: Optional[str] = None

    @property
    def ok(self) -> bool:
        return self.error is None


def check_video(record: VideoRecord, backend: VideoBackend, full: bool = False, chunk: int = 64) -> CheckResult:
    """Open ``record`` and decode a few (or, with ``full``, all) of its frames."""
    try:
        with backend.open(record.path, num_frames=record.num_frames) as reader:
            n = reader.num_frames
            if full:
                for start in range(0, n, chunk):
                    reader.read(range(start, min(n, start + chunk)))
            else:
                reader.read(sorted({0, n // 2, n - 1}))
            return CheckResult(record, n)
    except (VideoDecodeError, IndexError) as err:
        return CheckResult(record, 0, str(err))


def _check_one(args: tuple) -> CheckResult:
    record, backend, full = args
    import torch

    torch.set_num_threads(1)
    return check_video(record, backend, full)


def check_videos(
    records: Sequence[VideoRecord],
    backend: Union[str, VideoBackend, None] = None,
    *,
    full: bool = False,
    workers: int = 1,
    frame_template: str = "img_{:05d}.jpg",
    frame_start_index: int = 1,
) -> list[CheckResult]:
    """Check every record (frame folders with the frame backend); results in order."""
    video_backend = get_backend(backend) if backend != "frames" else FrameFolderBackend(frame_template, frame_start_index)
    frame_backend = FrameFolderBackend(frame_template, frame_start_index)
    tasks = [(r, frame_backend if r.is_frames else video_backend, full) for r in records]
    if workers <= 1:
        return [_check_one(t) for t in tasks]
    with worker_pool(workers) as pool:
        return list(pool.map(_check_one, tasks, chunksize=16))


def check_list(list_file: PathLike, root: Optional[PathLike] = None, **options) -> list[CheckResult]:
    """:func:`check_videos` on every entry of a list file (``options`` as there)."""
    return check_videos(read_list(list_file, root, check_paths=False), **options)


def write_clean_list(list_file: PathLike, results: Sequence[CheckResult], out: PathLike) -> int:
    """Write ``list_file``'s lines whose entry checked readable to ``out``; returns the number of
    entries written."""
    good_lines = {r.record.line for r in results if r.ok}
    with open(list_file, encoding="utf-8") as handle:
        kept = [line if line.endswith("\n") else line + "\n"
                for number, line in enumerate(handle, start=1) if number in good_lines]
    with atomic_write(out) as handle:
        handle.writelines(kept)
    return len(kept)
