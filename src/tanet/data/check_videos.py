"""``tanet check-videos``: find the unreadable entries of a list file.

Each entry is opened and a few frames are decoded (first, middle, last; ``--full``
decodes every frame). Bad entries are printed as ``list:line: path: reason``;
``--write-clean OUT`` writes the list without them (the original lines, in order).
Exit status: 0 when every entry is readable or a clean list was written, 1 otherwise.
"""
from __future__ import annotations

import argparse
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Sequence

from .decode import FrameFolderBackend, VideoBackend, VideoDecodeError, get_backend
from .lists import VideoRecord, read_list


@dataclass(frozen=True)
class CheckResult:
    record: VideoRecord
    num_frames: int = 0
    error: str | None = None

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
    backend: str | VideoBackend | None = None,
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
    with ProcessPoolExecutor(workers) as pool:
        return list(pool.map(_check_one, tasks, chunksize=16))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("list", help="list file (path label, or path num_frames label)")
    parser.add_argument("--root", default=None, help="folder the list's paths are relative to")
    parser.add_argument("--write-clean", metavar="OUT", help="write the list without the bad entries")
    parser.add_argument("--backend", choices=("pyav", "torchcodec", "frames"), default=None,
                        help="decoder (default: automatic)")
    parser.add_argument("--full", action="store_true", help="decode every frame, not just first/middle/last")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--frame-template", default="img_{:05d}.jpg")
    parser.add_argument("--frame-start-index", type=int, default=1)


def run(args) -> int:
    records = read_list(args.list, args.root, check_paths=False)
    results = check_videos(
        records, args.backend, full=args.full, workers=args.workers,
        frame_template=args.frame_template, frame_start_index=args.frame_start_index,
    )
    bad = [r for r in results if not r.ok]
    for result in bad:
        print(f"{args.list}:{result.record.line}: {result.error}")
    print(f"{len(results) - len(bad)} readable, {len(bad)} unreadable of {len(results)} entries", file=sys.stderr)
    if args.write_clean:
        bad_lines = {r.record.line for r in bad}
        good_lines = {r.record.line for r in results if r.ok}
        with open(args.list, encoding="utf-8") as handle, open(args.write_clean, "w", encoding="utf-8") as out:
            for number, line in enumerate(handle, start=1):
                if number in good_lines and number not in bad_lines:
                    out.write(line if line.endswith("\n") else line + "\n")
        print(f"wrote {len(good_lines)} entries to {args.write_clean}", file=sys.stderr)
        return 0
    return 1 if bad else 0
