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
  sub-trees if present, otherwise a per-class random split (optionally keeping the clips of one
  source video together, ``group_by``).
"""
from __future__ import annotations

import csv
import json
import os
import re
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

import numpy as np

from tanet.errors import TanetError, UsageError

__all__ = [
    "AnnotationError",
    "Split",
    "VIDEO_EXTENSIONS",
    "index_videos",
    "kinetics400_split",
    "sthv1_split",
    "sthv2_split",
    "folder_splits",
    "group_key",
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
    num_groups: Optional[int] = None  # source videos on this side, when the split kept them together


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


def _visible(name: str) -> bool:
    # ".hidden" folders and "._clip.mp4" (macOS resource forks) are not data
    return not name.startswith(".")


def _class_folder_entries(root: str, base: str, class_names: Sequence[str]) -> list[tuple[str, int]]:
    entries = []
    for label, class_name in enumerate(class_names):
        class_dir = os.path.join(root, class_name)
        if not os.path.isdir(class_dir):
            continue
        for name in sorted(os.listdir(class_dir)):
            if _visible(name) and os.path.splitext(name)[1].lower() in VIDEO_EXTENSIONS:
                entries.append((os.path.relpath(os.path.join(class_dir, name), base), label))
    return entries


def _class_folders(root: str, log: Callable[[str], None]) -> list[str]:
    """The class folders of ``root``, sorted: not hidden, and holding at least one video (an empty one is
    skipped with a message; none left is an error)."""
    folders = sorted(d for d in os.listdir(root) if _visible(d) and os.path.isdir(os.path.join(root, d)))
    if not folders:
        raise AnnotationError(f"{root}: no class sub-folders (root/<class>/<clip>)")
    classes = []
    for name in folders:
        if _class_folder_entries(root, root, [name]):
            classes.append(name)
        else:
            log(f"skipped class folder {os.path.join(root, name)}: no video files "
                f"({', '.join(VIDEO_EXTENSIONS)})")
    if not classes:
        raise AnnotationError(f"{root}: none of its {len(folders)} class folders holds a video file")
    return classes


def _val_counts(by_class: dict[int, list], class_names: Sequence[str], val_fraction: float) -> dict[int, int]:
    """Validation clips per class: ``round(n * val_fraction)``, at least one when the class has two or
    more clips, none when it has one; a class left without a training clip is a usage error."""
    counts = {}
    for label, entries in by_class.items():
        count = max(1, int(round(len(entries) * val_fraction))) if len(entries) >= 2 else 0
        if count >= len(entries):
            raise UsageError(f"--val-fraction {val_fraction} leaves class {class_names[label]!r} ({len(entries)} "
                             "clips) no training clip; give a smaller --val-fraction")
        counts[label] = count
    return counts


def group_key(pattern: re.Pattern, path: str) -> Optional[str]:
    """The source-video key of a clip: the first group of ``pattern`` searched in the file name (the
    whole match when the pattern has no group); None when it does not match."""
    match = pattern.search(os.path.basename(path))
    if match is None:
        return None
    return match.group(1) if pattern.groups else match.group(0)


def _grouped_split(entries: list[tuple], class_names: Sequence[str], val_counts: dict[int, int],
                   pattern: re.Pattern, rng: np.random.Generator, log: Callable[[str], None]) -> tuple[Split, Split]:
    """Whole groups go to validation, in an order drawn with ``rng``, while one of their classes is short
    of its validation count and none would be left without a training clip."""
    source: dict[str, str] = {}  # clip path -> group key
    groups: dict[str, list[int]] = {}  # group key -> labels of its clips
    unmatched = 0
    for path, label in entries:
        key = group_key(pattern, path)
        if key is None:  # a name the pattern does not describe: a source of its own (NUL: in no file name)
            unmatched += 1
            key = "\0" + path
        source[path] = key
        groups.setdefault(key, []).append(label)
    if unmatched == len(entries):
        example = os.path.basename(entries[0][0])
        raise UsageError(f"--group-by '{pattern.pattern}' matches none of the {len(entries)} file names "
                         f"(e.g. {example!r})")
    totals = {label: 0 for label in val_counts}
    for _, label in entries:
        totals[label] += 1
    in_val = {label: 0 for label in val_counts}
    val_keys = set()
    keys = sorted(groups)
    for index in rng.permutation(len(keys)):
        key = keys[index]
        labels = groups[key]
        wanted = any(in_val[label] < val_counts[label] for label in set(labels))
        keeps_training = all(totals[label] - in_val[label] - labels.count(label) >= 1 for label in set(labels))
        if wanted and keeps_training:
            val_keys.add(key)
            for label in labels:
                in_val[label] += 1
    train, val = Split("train"), Split("val")
    for entry in entries:  # in the folder's order
        (val if source[entry[0]] in val_keys else train).entries.append(entry)
    train.num_groups, val.num_groups = len(groups) - len(val_keys), len(val_keys)
    log(f"--group-by: {len(entries) - unmatched} of {len(entries)} file names matched"
        + (f" ({unmatched} unmatched: each a group of its own)" if unmatched else "")
        + f"; {train.num_groups} groups to train, {val.num_groups} to val")
    for label, count in sorted(in_val.items()):
        if count == 0 and val_counts[label] > 0:
            log(f"class {class_names[label]!r}: no clip in val (its clips are in groups that would leave it no "
                "training clip)")
    if not val.entries:
        raise UsageError(f"--group-by '{pattern.pattern}' put all {len(entries)} clips into train "
                         f"({len(groups)} groups); check the pattern")
    return train, val


def folder_splits(
    root: str | os.PathLike, val_fraction: float = 0.1, seed: int = 0, *, group_by: Optional[str] = None,
    log: Callable[[str], None] = lambda message: None,
) -> tuple[list[str], Split, Split]:
    """Splits of a ``root/<class>/<clip>`` folder (classes = sorted sub-folder names; hidden folders and
    files, and class folders without a video, are skipped: the latter with a message to ``log``).

    If ``root`` has ``train/`` and ``val/`` (or ``validation/``) sub-folders of classes
    they are the splits; otherwise ``val_fraction`` (in (0, 1)) of each class (at least one clip when
    the class has two or more, and never its last training clip) goes to validation, drawn with ``seed``.

    ``group_by`` (a regular expression) keeps the clips of one source video on one side of that split:
    its first group (or whole match), searched in each file name, is the clip's source; a name it does
    not match is a source of its own; it matching no name at all is an error. Whole groups go to
    validation until each class has its share (groups can make that share larger).
    """
    if not 0 < val_fraction < 1:
        raise UsageError(f"--val-fraction must be in (0, 1) (the share of each class held out), got {val_fraction}")
    root = os.fspath(root)
    val_name = next((n for n in ("val", "validation") if os.path.isdir(os.path.join(root, n))), None)
    if os.path.isdir(os.path.join(root, "train")) and val_name:
        if group_by:
            log("--group-by is not used: the folder has its own train/ and val/ sub-folders")
        train_root, val_root = os.path.join(root, "train"), os.path.join(root, val_name)
        class_names = _class_folders(train_root, log)
        train = Split("train", _class_folder_entries(train_root, root, class_names))
        val = Split("val", _class_folder_entries(val_root, root, class_names))
        return class_names, train, val
    class_names = _class_folders(root, log)
    entries = _class_folder_entries(root, root, class_names)
    by_class: dict[int, list] = {}
    for entry in entries:
        by_class.setdefault(entry[1], []).append(entry)
    val_counts = _val_counts(by_class, class_names, val_fraction)
    rng = np.random.default_rng(seed)
    if group_by:
        try:
            pattern = re.compile(group_by)
        except re.error as error:
            raise UsageError(f"--group-by '{group_by}' is not a regular expression: {error}") from None
        train, val = _grouped_split(entries, class_names, val_counts, pattern, rng, log)
        return class_names, train, val
    train, val = Split("train"), Split("val")
    for label in sorted(by_class):
        members = by_class[label]
        chosen = set(rng.permutation(len(members))[:val_counts[label]].tolist())
        for i, entry in enumerate(members):
            (val if i in chosen else train).entries.append(entry)
    return class_names, train, val
