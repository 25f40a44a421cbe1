"""``tanet prepare``: list files from official annotations or a folder; optional frame extraction.

Examples::

    tanet prepare --format kinetics400 --root k400/videos \\
        --train-annotations k400/train.csv --val-annotations k400/validate.csv --out lists/k400
    tanet prepare --format sthv1 --root sthv1/20bn-something-something-v1 \\
        --labels something-something-v1-labels.csv \\
        --train-annotations something-something-v1-train.csv \\
        --val-annotations something-something-v1-validation.csv --out lists/sthv1
    tanet prepare --format sthv2 --root sthv2/videos --labels labels.json \\
        --train-annotations train.json --val-annotations validation.json \\
        --out lists/sthv2 --extract-frames sthv2/frames --short-side 256 --workers 8
    tanet prepare --format folder --root my_clips --out lists/mine --val-fraction 0.2 \\
        --group-by '^(.*)_clip\\d+'     # clips cut from one source video stay on one side

The files in ``--out`` (train.txt, val.txt, classes.txt, missing.txt) are not replaced without
``--overwrite``.
"""
from __future__ import annotations

import argparse
import os
import sys

from ._options import add_out, add_overwrite, check_output

FOLDER_ONLY = {"val_fraction": "--val-fraction", "seed": "--seed", "group_by": "--group-by"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from tanet.data.prepare import FORMATS

    parser.add_argument("--format", required=True, choices=FORMATS, help="annotation format")
    parser.add_argument("--root", required=True, help="videos (sthv1: frame folders) of the dataset")
    add_out(parser, None, "folder for train.txt, val.txt, classes.txt", required=True)
    add_overwrite(parser, "the list files already in --out")
    parser.add_argument("--train-annotations", help="kinetics400: train CSV; sthv1: train CSV; sthv2: train JSON")
    parser.add_argument("--val-annotations", help="the validation counterpart of --train-annotations")
    parser.add_argument("--labels", help="sthv1: labels CSV; sthv2: labels JSON")
    parser.add_argument("--video-ext", default=".webm", help="sthv2 video extension (default .webm)")
    folder = parser.add_argument_group("--format folder (root/<class>/<clip>; hidden and empty folders skipped)")
    folder.add_argument("--val-fraction", type=float, default=None,
                        help="share of each class held out for val, in (0, 1) (default 0.1)")
    folder.add_argument("--seed", type=int, default=None, help="seed of the train/val split (default 0)")
    folder.add_argument("--group-by", metavar="REGEX", default=None,
                        help="keep clips of one source video on one side of the split: the first group of "
                             "REGEX searched in a file name names its source, e.g. '^(.*)_clip\\d+'; a name "
                             "it does not match is a source of its own")
    extract = parser.add_argument_group("frame extraction")
    extract.add_argument("--extract-frames", metavar="DIR", help="extract JPEG frames of every listed video under DIR")
    extract.add_argument("--short-side", type=int, default=256, help="resize so the short side is this (0 keeps)")
    extract.add_argument("--jpeg-quality", type=int, default=90, help="1..100")
    extract.add_argument("--frame-template", default="img_{:05d}.jpg", help="file name of frame i (1-based)")
    extract.add_argument("--extractor", choices=("auto", "ffmpeg", "pyav"), default="auto",
                         help="auto: the ffmpeg executable when on PATH, else PyAV")
    extract.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="videos extracted in parallel")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from tanet.data.prepare import OUTPUT_FILES, prepare_dataset
    from tanet.errors import UsageError

    if args.format != "folder":
        given = [flag for dest, flag in FOLDER_ONLY.items() if getattr(args, dest) is not None]
        if given:
            raise UsageError(f"{', '.join(given)}: only for --format folder ({args.format} has its own split)")
    inputs = [args.train_annotations, args.val_annotations, args.labels]
    for name in OUTPUT_FILES:  # before any work: a prepared set is not replaced by accident
        check_output(Path(args.out) / name, inputs=inputs, overwrite=args.overwrite)
    prepare_dataset(
        args.format, args.root, args.out, train_annotations=args.train_annotations,
        val_annotations=args.val_annotations, labels=args.labels, video_ext=args.video_ext,
        val_fraction=0.1 if args.val_fraction is None else args.val_fraction, seed=args.seed or 0,
        group_by=args.group_by, extract_frames=args.extract_frames,
        short_side=args.short_side, jpeg_quality=args.jpeg_quality, frame_template=args.frame_template,
        extractor=args.extractor, workers=args.workers, log=lambda line: print(line, file=sys.stderr),
    )
    return 0
