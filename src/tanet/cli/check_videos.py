"""``tanet check-videos LIST``: find the unreadable entries of a list file.

Bad entries are printed as ``list:line: path: reason``; ``--write-clean OUT`` writes the list without
them (OUT may be LIST itself). Exit status: 0 when every entry is readable or a clean list was
written, 1 otherwise.
"""
from __future__ import annotations

import argparse
import os
import sys


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


def run(args: argparse.Namespace) -> int:
    from tanet.data.check_videos import check_list, write_clean_list

    results = check_list(args.list, args.root, backend=args.backend, full=args.full, workers=args.workers,
                         frame_template=args.frame_template, frame_start_index=args.frame_start_index)
    bad = [r for r in results if not r.ok]
    for result in bad:
        print(f"{args.list}:{result.record.line}: {result.error}")
    print(f"{len(results) - len(bad)} readable, {len(bad)} unreadable of {len(results)} entries", file=sys.stderr)
    if args.write_clean:
        written = write_clean_list(args.list, results, args.write_clean)
        print(f"wrote {written} entries to {args.write_clean}", file=sys.stderr)
        return 0
    return 1 if bad else 0
