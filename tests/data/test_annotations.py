"""Annotation converters on small samples in the official formats."""
from __future__ import annotations

import json

import pytest

from tanet.data.annotations import (
    AnnotationError,
    folder_splits,
    index_videos,
    kinetics400_classes,
    kinetics400_split,
    read_sthv1_labels,
    read_sthv2_labels,
    sthv1_split,
    sthv2_split,
)


def _touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")


def test_kinetics400(tmp_path):
    csv_text = (
        "label,youtube_id,time_start,time_end,split\n"
        "playing guitar,abc123def45,14,24,train\n"
        '"massaging person\'s head",zzz000yyy11,0,10,train\n'
        "abseiling,---QUuC4vJs,84,94,train\n"
        "abseiling,gone0000000,1,11,train\n"
    )
    (tmp_path / "train.csv").write_text(csv_text)
    # Two common download layouts: class folders, and a flat folder.
    _touch(tmp_path / "videos" / "train" / "playing guitar" / "abc123def45_000014_000024.mp4")
    _touch(tmp_path / "videos" / "zzz000yyy11_000000_000010.mp4")
    _touch(tmp_path / "videos" / "---QUuC4vJs.webm")  # named by id only
    classes = kinetics400_classes(tmp_path / "train.csv")
    assert classes == ["abseiling", "massaging person's head", "playing guitar"]
    split = kinetics400_split(tmp_path / "train.csv", index_videos(tmp_path / "videos"), classes)
    assert split.entries == [
        ("train/playing guitar/abc123def45_000014_000024.mp4", 2),
        ("zzz000yyy11_000000_000010.mp4", 1),
        ("---QUuC4vJs.webm", 0),
    ]
    assert split.missing == ["gone0000000_000001_000011"]


def test_kinetics400_errors(tmp_path):
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    with pytest.raises(AnnotationError, match="bad.csv: not a Kinetics CSV"):
        kinetics400_classes(tmp_path / "bad.csv")
    (tmp_path / "val.csv").write_text("label,youtube_id,time_start,time_end,split\nnew class,x,1,2,val\n")
    with pytest.raises(AnnotationError, match=r"val.csv:2: unknown class 'new class'"):
        kinetics400_split(tmp_path / "val.csv", {}, ["abseiling"])


def test_sthv1(tmp_path):
    # The labels file is sorted before use (TRN/TSM/TAM convention).
    (tmp_path / "labels.csv").write_text("Pushing something from right to left\nHolding something\nPushing something from left to right\n")
    (tmp_path / "train.csv").write_text("100;Holding something\n200;Pushing something from left to right\n300;Holding something\n")
    frames = tmp_path / "20bn"
    for i in range(1, 4):
        _touch(frames / "100" / f"{i:05d}.jpg")
    for i in range(1, 6):
        _touch(frames / "200" / f"{i:05d}.jpg")
    classes = read_sthv1_labels(tmp_path / "labels.csv")
    assert classes == ["Holding something", "Pushing something from left to right", "Pushing something from right to left"]
    split = sthv1_split(tmp_path / "train.csv", frames, classes)
    assert split.entries == [("100", 3, 0), ("200", 5, 1)]
    assert split.missing == ["300"]
    (tmp_path / "bad.csv").write_text("100;Holding something\n101 Holding something\n")
    with pytest.raises(AnnotationError, match="bad.csv:2: expected 'id;label'"):
        sthv1_split(tmp_path / "bad.csv", frames, classes)


def test_sthv2(tmp_path):
    labels = {"Holding something": "0", "Pushing something from left to right": "2", "Pushing something from right to left": "1"}
    (tmp_path / "labels.json").write_text(json.dumps(labels))
    items = [
        {"id": "78687", "label": "holding potato", "template": "Holding [something]", "placeholders": ["potato"]},
        {"id": "42326", "label": "pushing cup from left to right", "template": "Pushing [something] from left to right", "placeholders": ["cup"]},
        {"id": "1", "label": "x", "template": "Pushing [something] from right to left", "placeholders": ["x"]},
    ]
    (tmp_path / "train.json").write_text(json.dumps(items))
    _touch(tmp_path / "videos" / "78687.webm")
    _touch(tmp_path / "videos" / "42326.webm")
    classes = read_sthv2_labels(tmp_path / "labels.json")
    assert classes == ["Holding something", "Pushing something from right to left", "Pushing something from left to right"]
    split = sthv2_split(tmp_path / "train.json", tmp_path / "videos", classes)
    assert split.entries == [("78687.webm", 0), ("42326.webm", 2)]
    assert split.missing == ["1.webm"]
    # Without a root every item is listed.
    assert len(sthv2_split(tmp_path / "train.json", None, classes).entries) == 3
    (tmp_path / "bad.json").write_text(json.dumps([{"id": "5", "template": "Dancing"}]))
    with pytest.raises(AnnotationError, match="unknown class 'Dancing'"):
        sthv2_split(tmp_path / "bad.json", None, classes)


def test_folder_random_split(tmp_path):
    for cls, n in [("cats", 10), ("dogs", 3), ("owls", 1)]:
        for i in range(n):
            _touch(tmp_path / cls / f"{i}.mp4")
    _touch(tmp_path / "cats" / "notes.txt")
    classes, train, val = folder_splits(tmp_path, val_fraction=0.2, seed=0)
    assert classes == ["cats", "dogs", "owls"]
    val_per_class = [sum(1 for _, label in val.entries if label == k) for k in range(3)]
    assert val_per_class == [2, 1, 0]
    assert len(train.entries) + len(val.entries) == 14
    assert not set(train.entries) & set(val.entries)
    assert folder_splits(tmp_path, 0.2, seed=0)[2].entries == val.entries  # deterministic


def test_folder_with_train_val(tmp_path):
    _touch(tmp_path / "train" / "a" / "1.mp4")
    _touch(tmp_path / "train" / "b" / "2.mp4")
    _touch(tmp_path / "val" / "b" / "3.mp4")
    classes, train, val = folder_splits(tmp_path)
    assert classes == ["a", "b"]
    assert train.entries == [("train/a/1.mp4", 0), ("train/b/2.mp4", 1)]
    assert val.entries == [("val/b/3.mp4", 1)]
