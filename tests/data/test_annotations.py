"""Annotation converters on small samples in the official formats."""
from __future__ import annotations

import json
import re

import pytest

from tanet.errors import UsageError

from tanet.data.annotations import (
    AnnotationError,
    folder_splits,
    group_key,
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


def test_folder_skips_hidden_folders_and_files(tmp_path):
    _touch(tmp_path / ".hidden" / "1.mp4")  # once class 0
    _touch(tmp_path / "a" / "1.mp4")
    _touch(tmp_path / "a" / "._1.mp4")  # a macOS resource fork beside the clip
    _touch(tmp_path / "a" / "2.mp4")
    _touch(tmp_path / "b" / "3.mp4")
    _touch(tmp_path / "b" / "4.mp4")
    classes, train, val = folder_splits(tmp_path, val_fraction=0.5)
    assert classes == ["a", "b"]
    assert sorted(train.entries + val.entries) == [("a/1.mp4", 0), ("a/2.mp4", 0), ("b/3.mp4", 1), ("b/4.mp4", 1)]


def test_folder_skips_an_empty_class_folder_naming_it(tmp_path):
    (tmp_path / "empty").mkdir()
    _touch(tmp_path / "notes" / "readme.txt")  # no video either
    _touch(tmp_path / "walk" / "1.mp4")
    messages = []
    classes, train, _ = folder_splits(tmp_path, log=messages.append)
    assert classes == ["walk"] and train.entries == [("walk/1.mp4", 0)]
    assert [m.split(":")[0] for m in messages] == [f"skipped class folder {tmp_path / 'empty'}",
                                                  f"skipped class folder {tmp_path / 'notes'}"]
    (tmp_path / "walk" / "1.mp4").unlink()
    with pytest.raises(AnnotationError, match="none of its 3 class folders holds a video file"):
        folder_splits(tmp_path)


@pytest.mark.parametrize("fraction", [0, 1, 1.5, -0.1])
def test_folder_val_fraction_must_be_a_share(tmp_path, fraction):
    _touch(tmp_path / "a" / "1.mp4")
    with pytest.raises(UsageError, match=r"--val-fraction must be in \(0, 1\)"):
        folder_splits(tmp_path, val_fraction=fraction)


def test_folder_val_fraction_leaves_every_class_a_training_clip(tmp_path):
    for name in ("a/1.mp4", "a/2.mp4", "b/1.mp4", "b/2.mp4", "b/3.mp4", "b/4.mp4", "c/1.mp4"):
        _touch(tmp_path / name)
    # a: round(2 * 0.6) = 1 to val, b: 2, c (one clip): none
    _, train, val = folder_splits(tmp_path, val_fraction=0.6)
    assert [sum(label == k for _, label in val.entries) for k in range(3)] == [1, 2, 0]
    assert [sum(label == k for _, label in train.entries) for k in range(3)] == [1, 2, 1]
    with pytest.raises(UsageError, match="--val-fraction 0.8 leaves class 'a' \\(2 clips\\) no training clip"):
        folder_splits(tmp_path, val_fraction=0.8)  # a: round(1.6) = 2 of 2


def test_group_key_is_the_first_group_else_the_whole_match():
    assert group_key(re.compile(r"^(.*)_clip\d+"), "walk/v_walk_g01_clip03.mp4") == "v_walk_g01"
    assert group_key(re.compile(r"^[a-z]+"), "a/src_01.mp4") == "src"
    assert group_key(re.compile(r"^(.*)_clip\d+"), "a/other.mp4") is None


def _sources(tmp_path):
    """Class a: sources s1 (3 clips), s2 (3), s3 (2); class b: t1, t2, t3 (2 each); x (2 clips, one in
    each class: one source across classes); b/loose.mp4 matches no pattern."""
    clips = [f"a/s{s}_clip{c}.mp4" for s, n in ((1, 3), (2, 3), (3, 2)) for c in range(n)]
    clips += [f"b/t{s}_clip{c}.mp4" for s in (1, 2, 3) for c in range(2)]
    clips += ["a/x_clip0.mp4", "b/x_clip1.mp4", "b/loose.mp4"]
    for clip in clips:
        _touch(tmp_path / clip)
    return clips


def test_group_by_keeps_each_source_on_one_side(tmp_path):
    _sources(tmp_path)
    pattern = re.compile(r"^(.*)_clip\d+")

    def source(path):
        return group_key(pattern, path) or path

    splits = set()
    for seed in range(6):
        messages = []
        _, train, val = folder_splits(tmp_path, val_fraction=0.25, seed=seed, group_by=pattern.pattern,
                                      log=messages.append)
        train_sources = {source(path) for path, _ in train.entries}
        val_sources = {source(path) for path, _ in val.entries}
        assert not train_sources & val_sources
        assert len(train.entries) + len(val.entries) == 17
        # a: 9 clips, target round(2.25) = 2; b: 8 clips, 2: each class has clips on both sides
        for label in (0, 1):
            assert any(lab == label for _, lab in val.entries) and any(lab == label for _, lab in train.entries)
        # 7 named sources (s1-s3, t1-t3, x) + b/loose.mp4 on its own = 8 groups
        assert train.num_groups + val.num_groups == 8 and train.num_groups == len(train_sources)
        assert messages == [f"--group-by: 16 of 17 file names matched (1 unmatched: each a group of its own); "
                            f"{train.num_groups} groups to train, {val.num_groups} to val"]
        assert folder_splits(tmp_path, val_fraction=0.25, seed=seed, group_by=pattern.pattern)[2] == val
        splits.add(tuple(val.entries))
    assert len(splits) > 1  # the seed draws the split


def test_group_by_that_matches_no_name_is_an_error(tmp_path):
    _sources(tmp_path)
    with pytest.raises(UsageError, match=r"--group-by '\^clip_\(\\d\+\)' matches none of the 17 file names"):
        folder_splits(tmp_path, val_fraction=0.25, group_by=r"^clip_(\d+)")
    with pytest.raises(UsageError, match="is not a regular expression"):
        folder_splits(tmp_path, group_by="(")
