"""``tanet prepare``: list files from official annotations, and optional frame extraction.

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
    tanet prepare --format folder --root my_clips --out lists/mine --val-fraction 0.2

Writes ``train.txt``, ``val.txt`` (``path label``, or ``path num_frames label`` for frame
folders) and ``classes.txt`` into ``--out``, plus ``missing.txt`` listing annotated items
absent from disk. With ``--extract-frames DIR`` the videos are extracted (resumably, in
parallel) under DIR and the lists point at the frame folders, relative to DIR.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

from .annotations import (
    AnnotationError,
    Split,
    folder_splits,
    index_videos,
    kinetics400_classes,
    kinetics400_split,
    read_sthv1_labels,
    read_sthv2_labels,
    sthv1_split,
    sthv2_split,
)
from .extract import ExtractJob, extract_many, ffmpeg_executable
from .lists import write_class_names, write_list

FORMATS = ("kinetics400", "sthv1", "sthv2", "folder")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", required=True, choices=FORMATS, help="annotation format")
    parser.add_argument("--root", required=True, help="videos (sthv1: frame folders) of the dataset")
    parser.add_argument("--out", required=True, help="folder for train.txt, val.txt, classes.txt")
    parser.add_argument("--train-annotations", help="kinetics400: train CSV; sthv1: train CSV; sthv2: train JSON")
    parser.add_argument("--val-annotations", help="the validation counterpart of --train-annotations")
    parser.add_argument("--labels", help="sthv1: labels CSV; sthv2: labels JSON")
    parser.add_argument("--video-ext", default=".webm", help="sthv2 video extension (default .webm)")
    parser.add_argument("--val-fraction", type=float, default=0.1, help="folder: share of each class for val")
    parser.add_argument("--seed", type=int, default=0, help="folder: seed of the train/val split")
    extract = parser.add_argument_group("frame extraction")
    extract.add_argument("--extract-frames", metavar="DIR", help="extract JPEG frames of every listed video under DIR")
    extract.add_argument("--short-side", type=int, default=256, help="resize so the short side is this (0 keeps)")
    extract.add_argument("--jpeg-quality", type=int, default=90, help="1..100")
    extract.add_argument("--frame-template", default="img_{:05d}.jpg", help="file name of frame i (1-based)")
    extract.add_argument("--extractor", choices=("auto", "ffmpeg", "pyav"), default="auto",
                         help="auto: the ffmpeg executable when on PATH, else PyAV")
    extract.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="videos extracted in parallel")


def _need(args, *names: str) -> None:
    missing = [n for n in names if getattr(args, n.replace("-", "_")) is None]
    if missing:
        raise SystemExit(f"tanet prepare --format {args.format}: missing " + ", ".join(f"--{n}" for n in missing))


def build_splits(args) -> tuple[list[str], list[Split]]:
    """Class names and the splits for the chosen format (no extraction)."""
    if args.format == "kinetics400":
        _need(args, "train-annotations")
        classes = kinetics400_classes(args.train_annotations)
        index = index_videos(args.root)
        splits = [kinetics400_split(args.train_annotations, index, classes, "train")]
        if args.val_annotations:
            splits.append(kinetics400_split(args.val_annotations, index, classes, "val"))
    elif args.format == "sthv1":
        _need(args, "labels", "train-annotations")
        classes = read_sthv1_labels(args.labels)
        splits = [sthv1_split(args.train_annotations, args.root, classes, "train")]
        if args.val_annotations:
            splits.append(sthv1_split(args.val_annotations, args.root, classes, "val"))
    elif args.format == "sthv2":
        _need(args, "labels", "train-annotations")
        classes = read_sthv2_labels(args.labels)
        splits = [sthv2_split(args.train_annotations, args.root, classes, "train", args.video_ext)]
        if args.val_annotations:
            splits.append(sthv2_split(args.val_annotations, args.root, classes, "val", args.video_ext))
    else:
        classes, train, val = folder_splits(args.root, args.val_fraction, args.seed)
        splits = [train, val]
    return classes, splits


def _frame_folder(relative_video: str) -> str:
    return os.path.splitext(relative_video)[0]


def _extract(args, splits: list[Split]) -> list[Split]:
    videos = sorted({entry[0] for split in splits for entry in split.entries})
    jobs = [ExtractJob(os.path.join(args.root, v), os.path.join(args.extract_frames, _frame_folder(v))) for v in videos]
    tool = "ffmpeg" if args.extractor != "pyav" and ffmpeg_executable() else "PyAV"
    print(f"extracting frames of {len(jobs)} videos with {tool}, {args.workers} workers -> {args.extract_frames}")
    done, started = [0], time.monotonic()

    def progress(result):
        done[0] += 1
        if result.error:
            print(f"  failed: {result.error}", file=sys.stderr)
        if done[0] % 100 == 0 or done[0] == len(jobs):
            rate = done[0] / max(time.monotonic() - started, 1e-9)
            print(f"  {done[0]}/{len(jobs)} videos ({rate:.1f}/s)")

    results = extract_many(
        jobs, workers=args.workers, progress=progress, short_side=args.short_side or None,
        jpeg_quality=args.jpeg_quality, template=args.frame_template, extractor=args.extractor,
    )
    counts = {v: r for v, r in zip(videos, results)}
    framed = []
    for split in splits:
        out = Split(split.name, missing=list(split.missing))
        for path, label in split.entries:
            result = counts[path]
            if result.error:
                out.missing.append(path)
            else:
                out.entries.append((_frame_folder(path), result.num_frames, label))
        framed.append(out)
    return framed


def run(args) -> int:
    try:
        classes, splits = build_splits(args)
    except (AnnotationError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.format == "sthv1" and args.extract_frames:
        print("note: Something-Something V1 already ships frames; --extract-frames ignored", file=sys.stderr)
    elif args.extract_frames:
        splits = _extract(args, splits)
    os.makedirs(args.out, exist_ok=True)
    write_class_names(os.path.join(args.out, "classes.txt"), classes)
    missing = []
    for split in splits:
        count = write_list(os.path.join(args.out, f"{split.name}.txt"), split.entries)
        print(f"{split.name}.txt: {count} entries" + (f", {len(split.missing)} missing" if split.missing else ""))
        missing += [f"{split.name} {item}" for item in split.missing]
    if missing:
        write_list(os.path.join(args.out, "missing.txt"), [(m,) for m in missing])
        print(f"missing.txt: {len(missing)} annotated items not found or not extractable")
    print(f"classes.txt: {len(classes)} classes")
    root = args.extract_frames if (args.extract_frames and args.format != "sthv1") else args.root
    template = "{:05d}.jpg" if args.format == "sthv1" else args.frame_template
    if args.format == "sthv1" or args.extract_frames:
        print(f"lists are relative to {root}; frame template {template}")
    else:
        print(f"lists are relative to {root}")
    return 0
