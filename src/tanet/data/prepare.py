"""List files from official annotations, with optional frame extraction (``tanet prepare``).

``prepare_dataset(format, root, out, ...)`` writes ``train.txt``, ``val.txt`` (``path label``, or
``path num_frames label`` for frame folders) and ``classes.txt`` into ``out``, plus ``missing.txt``
listing annotated items absent from disk. With ``extract_frames=DIR`` the videos are extracted
(resumably, in parallel) under DIR and the lists point at the frame folders, relative to DIR.

Formats: ``kinetics400`` (CSV annotations), ``sthv1`` (``id;label`` CSVs + labels file, frames
shipped), ``sthv2`` (JSON annotations + labels JSON), ``folder`` (``root/<class>/<clip>``).
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Callable, Optional, Union

from tanet.errors import UsageError

from .annotations import (
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
from .extract import ExtractJob, ExtractResult, extract_many, ffmpeg_executable
from .lists import write_class_names, write_list

__all__ = ["FORMATS", "OUTPUT_FILES", "PreparedDataset", "build_splits", "prepare_dataset"]

FORMATS = ("kinetics400", "sthv1", "sthv2", "folder")
MISSING_FILE = "missing.txt"
# what prepare_dataset may write into its folder
OUTPUT_FILES = ("classes.txt", "train.txt", "val.txt", MISSING_FILE)
PathLike = Union[str, os.PathLike]


@dataclass
class PreparedDataset:
    """What :func:`prepare_dataset` wrote."""

    out: str
    class_names: list[str]
    splits: list[Split]
    list_root: str  # the folder the lists' paths are relative to (pass it as --root)
    frame_template: Optional[str]  # the frame file names when the lists point at frame folders
    missing: list[str] = field(default_factory=list)


def build_splits(format: str, root: PathLike, *, train_annotations: Optional[PathLike] = None,
                 val_annotations: Optional[PathLike] = None, labels: Optional[PathLike] = None,
                 video_ext: str = ".webm", val_fraction: float = 0.1, seed: int = 0, group_by: Optional[str] = None,
                 log: Callable[[str], None] = lambda message: None) -> tuple[list[str], list[Split]]:
    """Class names and the splits for the chosen format (no extraction). ``val_fraction``, ``seed`` and
    ``group_by`` are the ``folder`` format's (see :func:`~tanet.data.annotations.folder_splits`)."""
    def need(**values) -> None:
        missing = [name for name, value in values.items() if value is None]
        if missing:
            raise UsageError(f"format {format}: missing " + ", ".join(missing))

    if format == "kinetics400":
        need(train_annotations=train_annotations)
        classes = kinetics400_classes(train_annotations)
        index = index_videos(root)
        splits = [kinetics400_split(train_annotations, index, classes, "train")]
        if val_annotations:
            splits.append(kinetics400_split(val_annotations, index, classes, "val"))
    elif format == "sthv1":
        need(labels=labels, train_annotations=train_annotations)
        classes = read_sthv1_labels(labels)
        splits = [sthv1_split(train_annotations, root, classes, "train")]
        if val_annotations:
            splits.append(sthv1_split(val_annotations, root, classes, "val"))
    elif format == "sthv2":
        need(labels=labels, train_annotations=train_annotations)
        classes = read_sthv2_labels(labels)
        splits = [sthv2_split(train_annotations, root, classes, "train", video_ext)]
        if val_annotations:
            splits.append(sthv2_split(val_annotations, root, classes, "val", video_ext))
    elif format == "folder":
        classes, train, val = folder_splits(root, val_fraction, seed, group_by=group_by, log=log)
        splits = [train, val]
    else:
        raise UsageError(f"unknown format {format!r}; choose from {', '.join(FORMATS)}")
    return classes, splits


def _frame_folder(relative_video: str) -> str:
    return os.path.splitext(relative_video)[0]


def _extract(root: str, frames_dir: str, splits: list[Split], *, workers: int, short_side: Optional[int],
             jpeg_quality: int, frame_template: str, extractor: str, log: Callable[[str], None]) -> list[Split]:
    videos = sorted({entry[0] for split in splits for entry in split.entries})
    jobs = [ExtractJob(os.path.join(root, v), os.path.join(frames_dir, _frame_folder(v))) for v in videos]
    tool = "ffmpeg" if extractor != "pyav" and ffmpeg_executable() else "PyAV"
    log(f"extracting frames of {len(jobs)} videos with {tool}, {workers} workers -> {frames_dir}")
    done, started = [0], time.monotonic()

    def progress(result: ExtractResult) -> None:
        done[0] += 1
        if result.error:
            log(f"  failed: {result.error}")
        if done[0] % 100 == 0 or done[0] == len(jobs):
            rate = done[0] / max(time.monotonic() - started, 1e-9)
            log(f"  {done[0]}/{len(jobs)} videos ({rate:.1f}/s)")

    results = extract_many(jobs, workers=workers, progress=progress, short_side=short_side,
                           jpeg_quality=jpeg_quality, template=frame_template, extractor=extractor)
    by_video = dict(zip(videos, results))
    framed = []
    for split in splits:
        out = Split(split.name, missing=list(split.missing), num_groups=split.num_groups)
        for path, label in split.entries:
            result = by_video[path]
            if result.error:
                out.missing.append(path)
            else:
                out.entries.append((_frame_folder(path), result.num_frames, label))
        framed.append(out)
    return framed


def prepare_dataset(
    format: str,
    root: PathLike,
    out: PathLike,
    *,
    train_annotations: Optional[PathLike] = None,
    val_annotations: Optional[PathLike] = None,
    labels: Optional[PathLike] = None,
    video_ext: str = ".webm",
    val_fraction: float = 0.1,
    seed: int = 0,
    group_by: Optional[str] = None,
    extract_frames: Optional[PathLike] = None,
    short_side: Optional[int] = 256,
    jpeg_quality: int = 90,
    frame_template: str = "img_{:05d}.jpg",
    extractor: str = "auto",
    workers: int = os.cpu_count() or 1,
    log: Callable[[str], None] = lambda message: None,
) -> PreparedDataset:
    """Write the list files of a data set into ``out`` (see the module docstring), replacing those
    there (the command line refuses that without ``--overwrite``).

    ``log`` receives progress lines (the command line prints them). Raises
    :class:`~tanet.errors.UsageError` for a missing or impossible argument and
    :class:`~tanet.data.annotations.AnnotationError` for a malformed annotation file.
    """
    root, out = os.fspath(root), os.fspath(out)
    classes, splits = build_splits(format, root, train_annotations=train_annotations,
                                   val_annotations=val_annotations, labels=labels, video_ext=video_ext,
                                   val_fraction=val_fraction, seed=seed, group_by=group_by, log=log)
    list_root, template = root, None
    if format == "sthv1":
        template = "{:05d}.jpg"  # V1 ships frames named like this
        if extract_frames:
            log("note: Something-Something V1 already ships frames; extract_frames ignored")
    elif extract_frames:
        list_root, template = os.fspath(extract_frames), frame_template
        splits = _extract(root, list_root, splits, workers=workers, short_side=short_side or None,
                          jpeg_quality=jpeg_quality, frame_template=frame_template, extractor=extractor, log=log)
    os.makedirs(out, exist_ok=True)
    write_class_names(os.path.join(out, "classes.txt"), classes)
    missing = []
    for split in splits:
        count = write_list(os.path.join(out, f"{split.name}.txt"), split.entries)
        log(f"{split.name}.txt: {count} entries"
            + (f" from {split.num_groups} source groups" if split.num_groups is not None else "")
            + (f", {len(split.missing)} missing" if split.missing else ""))
        missing += [f"{split.name} {item}" for item in split.missing]
    missing_file = os.path.join(out, MISSING_FILE)
    if missing:
        write_list(missing_file, [(m,) for m in missing])
        log(f"{MISSING_FILE}: {len(missing)} annotated items not found or not extractable")
    elif os.path.exists(missing_file):  # an earlier preparation's, no longer true
        os.remove(missing_file)
    log(f"classes.txt: {len(classes)} classes")
    log(f"lists are relative to {list_root}" + (f"; frame template {template}" if template else ""))
    return PreparedDataset(out, classes, splits, list_root, template, missing)
