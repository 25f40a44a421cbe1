"""``tanet check-videos --list LIST``: find the unreadable entries of a list file.

Bad entries are printed as ``list:line: path: reason``; ``-o/--out CLEAN`` writes the list without
them (a new file: an existing one only with ``--overwrite``, the input list never). Exit status: 0
when every entry is readable or a clean list was written, 1 otherwise.
"""
from __future__ import annotations

import argparse
import os
import sys

from ._options import add_out, add_overwrite, check_output


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--list", dest="list_file", metavar="LIST",
                        help="list file (path label, or path num_frames label)")
    parser.add_argument("input", nargs="?", metavar="LIST", help=argparse.SUPPRESS)  # the earlier spelling
    parser.add_argument("--root", default=None, help="folder the list's paths are relative to")
    add_out(parser, None, "write the list without the bad entries to this new file")
    parser.add_argument("--write-clean", dest="out", help=argparse.SUPPRESS)  # the earlier name of --out
    add_overwrite(parser, "the --out file")
    parser.add_argument("--backend", choices=("pyav", "torchcodec", "frames"), default=None,
                        help="decoder (default: automatic)")
    parser.add_argument("--full", action="store_true", help="decode every frame, not just first/middle/last")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--frame-template", default="img_{:05d}.jpg")
    parser.add_argument("--frame-start-index", type=int, default=1)


def run(args: argparse.Namespace) -> int:
    from tanet.data.check_videos import check_list, write_clean_list
    from tanet.errors import UsageError

    if args.list_file and args.input:
        raise UsageError(f"give the list once: --list {args.list_file} (a LIST argument is the same thing)")
    list_file = args.list_file or args.input
    if not list_file:
        raise UsageError("give the list file to check: --list LIST")
    if args.out:
        check_output(args.out, inputs=[list_file], overwrite=args.overwrite)
    results = check_list(list_file, args.root, backend=args.backend, full=args.full, workers=args.workers,
                         frame_template=args.frame_template, frame_start_index=args.frame_start_index)
    bad = [r for r in results if not r.ok]
    for result in bad:
        print(f"{list_file}:{result.record.line}: {result.error}")
    print(f"{len(results) - len(bad)} readable, {len(bad)} unreadable of {len(results)} entries", file=sys.stderr)
    if args.out:
        written = write_clean_list(list_file, results, args.out)
        print(f"wrote {written} entries to {args.out}", file=sys.stderr)
        return 0
    return 1 if bad else 0
