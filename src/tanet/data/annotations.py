"""Converters from the official annotation files to list entries.

Each converter returns :class:`Split` s: entries ``(relative_path, label)`` (plus
``num_frames`` for frame folders), the class names, and the annotated items whose file is
not on disk (Kinetics videos vanish from YouTube; those are skipped, not fatal).

* Kinetics-400: CSV ``label,youtube_id,time_start,time_end,split``; files are found by
  their stem ``{youtube_id}_{start:06d}_{end:06d}`` (or ``{youtube_id}``) anywhere under
  the root; classes are the sorted label names of the training CSV.
* Something-Something V1: ``id;label`` CSVs, frames in ``root/{id}/{:05d}.jpg``; classes
  are the labels file's names, sorted (as TRN/TSM/TAM do).
* Something-Something V2: labels JSON ``{name: "index"}`` (its indices are kept) and split
  JSONs of items whose ``template`` with brackets removed is the class name; videos are
  ``root/{id}.webm``.
* A folder of class sub-folders (``root/<class>/<clip>``), with ``train/`` and ``val/``
  sub-trees if present, otherwise a per-class random split.
"""
from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from tanet.errors import TanetError

__all__ = [
    "AnnotationError",
    "Split",
    "VIDEO_EXTENSIONS",
    "index_videos",
    "kinetics400_split",
    "sthv1_split",
    "sthv2_split",
    "folder_splits",
    "read_sthv1_labels",
    "read_sthv2_labels",
    "kinetics400_classes",
]

VIDEO_EXTENSIONS = (".mp4", ".webm", ".mkv", ".avi", ".mov", ".m4v", ".mpg", ".mpeg", ".flv")


class AnnotationError(TanetError, ValueError):
    """A malformed annotation file; names the file (and line when known)."""


@dataclass
class Split:
    """One split of a dataset. ``entries`` are ``(path, label)`` or ``(path, num_frames, label)``."""

    name: str
    entries: list[tuple] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def index_videos(root: str | os.PathLike, extensions: Sequence[str] = VIDEO_EXTENSIONS) -> dict[str, str]:
    """Map file stem -> path relative to ``root`` for every video under ``root``."""
    root = os.fspath(root)
    found: dict[str, str] = {}
    for directory, _, files in os.walk(root):
        for name in files:
            stem, ext = os.path.splitext(name)
            if ext.lower() in extensions:
                found.setdefault(stem, os.path.relpath(os.path.join(directory, name), root))
    return found


# --------------------------------------------------------------------------- Kinetics-400

_KINETICS_COLUMNS = ("label", "youtube_id", "time_start", "time_end")


def _kinetics_rows(csv_path: str | os.PathLike):
    with open(csv_path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in ("youtube_id", "time_start", "time_end") if c not in (reader.fieldnames or [])]
        if missing:
            raise AnnotationError(
                f"{csv_path}: not a Kinetics CSV (missing columns {missing}; header {reader.fieldnames})"
            )
        for row in reader:
            yield reader.line_num, row


def kinetics400_classes(csv_path: str | os.PathLike) -> list[str]:
    """Sorted class names found in a Kinetics CSV (use the training CSV)."""
    names = {row["label"].strip() for _, row in _kinetics_rows(csv_path) if row.get("label")}
    if not names:
        raise AnnotationError(f"{csv_path}: no labels (is this the test split?)")
    return sorted(names)


def kinetics400_split(
    csv_path: str | os.PathLike,
    video_index: dict[str, str],
    class_names: Sequence[str],
    name: str = "train",
) -> Split:
    """Entries of a Kinetics CSV whose video is in ``video_index`` (see :func:`index_videos`)."""
    lookup = {n: i for i, n in enumerate(class_names)}
    split = Split(name)
    for line, row in _kinetics_rows(csv_path):
        label_name = (row.get("label") or "").strip()
        if label_name not in lookup:
            raise AnnotationError(f"{csv_path}:{line}: unknown class {label_name!r}")
        try:
            start, end = int(float(row["time_start"])), int(float(row["time_end"]))
        except (TypeError, ValueError):
            raise AnnotationError(f"{csv_path}:{line}: bad time_start/time_end {row['time_start']!r}, {row['time_end']!r}") from None
        youtube_id = row["youtube_id"].strip()
        stem = f"{youtube_id}_{start:06d}_{end:06d}"
        path = video_index.get(stem) or video_index.get(youtube_id)
        if path is None:
            split.missing.append(stem)
            continue
        split.entries.append((path, lookup[label_name]))
    return split


# --------------------------------------------------------------------------- Something-Something


def read_sthv1_labels(path: str | os.PathLike) -> list[str]:
    """Something-Something V1 labels file (one name per line), sorted as TRN/TSM/TAM do."""
    with open(path, encoding="utf-8") as handle:
        names = [line.strip() for line in handle if line.strip()]
    if len(set(names)) != len(names):
        raise AnnotationError(f"{path}: duplicate class names")
    return sorted(names)


def _count_jpegs(folder: str, template: str, start_index: int) -> int:
    try:
        names = set(os.listdir(folder))
    except FileNotFoundError:
        return 0
    count = 0
    while template.format(start_index + count) in names:
        count += 1
    return count


def sthv1_split(
    csv_path: str | os.PathLike,
    frames_root: str | os.PathLike,
    class_names: Sequence[str],
    name: str = "train",
    template: str = "{:05d}.jpg",
    start_index: int = 1,
) -> Split:
    """Entries ``(id, num_frames, label)`` from a V1 ``id;label`` CSV; frames are counted on disk."""
    lookup = {n: i for i, n in enumerate(class_names)}
    split = Split(name)
    with open(csv_path, encoding="utf-8") as handle:
        for line, raw in enumerate(handle, start=1):
            text = raw.strip()
            if not text:
                continue
            video_id, sep, label_name = text.partition(";")
            if not sep:
                raise AnnotationError(f"{csv_path}:{line}: expected 'id;label', got {text!r}")
            label_name = label_name.strip()
            if label_name not in lookup:
                raise AnnotationError(f"{csv_path}:{line}: unknown class {label_name!r}")
            count = _count_jpegs(os.path.join(os.fspath(frames_root), video_id), template, start_index)
            if count == 0:
                split.missing.append(video_id)
                continue
            split.entries.append((video_id, count, lookup[label_name]))
    return split


def _strip_brackets(text: str) -> str:
    return " ".join(text.replace("[", "").replace("]", "").split())


def read_sthv2_labels(path: str | os.PathLike) -> list[str]:
    """Something-Something V2 labels JSON ``{name: "index"}`` -> names ordered by index."""
    with open(path, encoding="utf-8") as handle:
        data = json.load(handle)
    if not isinstance(data, dict):
        raise AnnotationError(f"{path}: expected a JSON object mapping class name to index")
    names: dict[int, str] = {}
    for name, index in data.items():
        try:
            index = int(index)
        except (TypeError, ValueError):
            raise AnnotationError(f"{path}: index {index!r} of {name!r} is not an integer") from None
        if index in names:
            raise AnnotationError(f"{path}: index {index} used twice ({names[index]!r}, {name!r})")
        names[index] = _strip_brackets(name)
    if sorted(names) != list(range(len(names))):
        raise AnnotationError(f"{path}: indices are not 0..{len(names) - 1}")
    return [names[i] for i in range(len(names))]


def sthv2_split(
    json_path: str | os.PathLike,
    video_root: str | os.PathLike | None,
    class_names: Sequence[str],
    name: str = "train",
    extension: str = ".webm",
) -> Split:
    """Entries ``(id + extension, label)`` from a V2 split JSON (items with ``id`` and
    ``template``). With ``video_root``, items whose video is absent go to ``missing``."""
    lookup = {n.lower(): i for i, n in enumerate(class_names)}
    with open(json_path, encoding="utf-8") as handle:
        items = json.load(handle)
    if not isinstance(items, list):
        raise AnnotationError(f"{json_path}: expected a JSON list of items")
    split = Split(name)
    for position, item in enumerate(items):
        if not isinstance(item, dict) or "id" not in item or "template" not in item:
            raise AnnotationError(f"{json_path}: item {position} has no 'id'/'template': {item!r:.120}")
        class_name = _strip_brackets(item["template"])
        label = lookup.get(class_name.lower())
        if label is None:
            raise AnnotationError(f"{json_path}: item {position} (id {item['id']}): unknown class {class_name!r}")
        path = f"{item['id']}{extension}"
        if video_root is not None and not os.path.exists(os.path.join(os.fspath(video_root), path)):
            split.missing.append(path)
            continue
        split.entries.append((path, label))
    return split


# --------------------------------------------------------------------------- class folders


def _class_folder_entries(root: str, base: str, class_names: Sequence[str]) -> list[tuple[str, int]]:
    entries = []
    for label, class_name in enumerate(class_names):
        class_dir = os.path.join(root, class_name)
        if not os.path.isdir(class_dir):
            continue
        for name in sorted(os.listdir(class_dir)):
            if os.path.splitext(name)[1].lower() in VIDEO_EXTENSIONS:
                entries.append((os.path.relpath(os.path.join(class_dir, name), base), label))
    return entries


def folder_splits(
    root: str | os.PathLike, val_fraction: float = 0.1, seed: int = 0
) -> tuple[list[str], Split, Split]:
    """Splits of a ``root/<class>/<clip>`` folder (classes = sorted sub-folder names).

    If ``root`` has ``train/`` and ``val/`` (or ``validation/``) sub-folders of classes
    they are the splits; otherwise ``val_fraction`` of each class (at least one clip when
    the class has two or more) goes to validation, drawn with ``seed``.
    """
    root = os.fspath(root)
    val_name = next((n for n in ("val", "validation") if os.path.isdir(os.path.join(root, n))), None)
    if os.path.isdir(os.path.join(root, "train")) and val_name:
        train_root, val_root = os.path.join(root, "train"), os.path.join(root, val_name)
        class_names = sorted(d for d in os.listdir(train_root) if os.path.isdir(os.path.join(train_root, d)))
        train = Split("train", _class_folder_entries(train_root, root, class_names))
        val = Split("val", _class_folder_entries(val_root, root, class_names))
        return class_names, train, val
    class_names = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
    if not class_names:
        raise AnnotationError(f"{root}: no class sub-folders")
    rng = np.random.default_rng(seed)
    train, val = Split("train"), Split("val")
    by_class: dict[int, list] = {}
    for entry in _class_folder_entries(root, root, class_names):
        by_class.setdefault(entry[1], []).append(entry)
    for label in sorted(by_class):
        entries = by_class[label]
        num_val = int(round(len(entries) * val_fraction))
        if val_fraction > 0 and len(entries) >= 2:
            num_val = max(1, num_val)
        chosen = set(rng.permutation(len(entries))[:num_val].tolist())
        for i, entry in enumerate(entries):
            (val if i in chosen else train).entries.append(entry)
    return class_names, train, val
