"""Tests of the built-in synthetic data sets (tanet.data.synthetic).

Class properties are measured from pixels (the rendered object coverage, the rendered frames
and the frames PyAV decodes from the written mp4 files), never from the generator's own
trajectory parameters.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest

from tanet.data import synthetic as syn
from tanet.data.synthetic import (
    APPEARANCE_CLASSES,
    COLOURS,
    MOTION_CLASSES,
    SyntheticSpec,
    generate,
    horizontal_flip_label_map,
    render_clip,
    video_seed,
)

TINY = dict(size=32, frames=8, train_per_class=2, val_per_class=1, num_classes=4)
# Property checks need a few more pixels and frames than the determinism/caching checks.
PROBE = dict(size=48, frames=10, train_per_class=1, val_per_class=0)


def decode(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def read_list(path: Path) -> list[tuple[str, int]]:
    entries = []
    for line in path.read_text().splitlines():
        rel, label = line.split(" ")
        entries.append((rel, int(label)))
    return entries


# ----------------------------------------------------------------------------------------
# pixel measurements
# ----------------------------------------------------------------------------------------


def centroids(weights: np.ndarray) -> np.ndarray:
    """(T, 2) x, y centroid of non-negative per-pixel weights (T, H, W)."""
    ys, xs = np.mgrid[0 : weights.shape[1], 0 : weights.shape[2]]
    total = weights.sum(axis=(1, 2))
    return np.stack([(weights * xs).sum(axis=(1, 2)) / total, (weights * ys).sum(axis=(1, 2)) / total], axis=1)


def largest_component(mask: np.ndarray) -> np.ndarray:
    """The largest 4-connected region of a 2-D boolean mask (flood fill)."""
    seen = np.zeros_like(mask)
    best: list = []
    height, width = mask.shape
    for start in zip(*np.nonzero(mask)):
        if seen[start]:
            continue
        seen[start] = True
        region, stack = [], [start]
        while stack:
            y, x = stack.pop()
            region.append((y, x))
            for ny, nx in ((y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)):
                if 0 <= ny < height and 0 <= nx < width and mask[ny, nx] and not seen[ny, nx]:
                    seen[ny, nx] = True
                    stack.append((ny, nx))
        if len(region) > len(best):
            best = region
    out = np.zeros_like(mask)
    if best:
        out[tuple(np.array(best).T)] = True
    return out


def erode(mask: np.ndarray) -> np.ndarray:
    inner = mask.copy()
    inner[1:] &= mask[:-1]
    inner[:-1] &= mask[1:]
    inner[:, 1:] &= mask[:, :-1]
    inner[:, :-1] &= mask[:, 1:]
    return inner


def rotation_between(frame_a, frame_b, mask_a, mask_b) -> float:
    """Angle (radians, + = clockwise on screen) that best maps the object in a onto b.

    Brute force: for each candidate angle, rotate b's object pixels back about b's centroid
    into a and compare colours (nearest-neighbour sampling).
    """
    ca, cb = centroids(mask_a[None].astype(float))[0], centroids(mask_b[None].astype(float))[0]
    # Compare interior pixels only: edges mix object and background (and blur when decoded).
    ys, xs = np.nonzero(erode(mask_b))
    rel = np.stack([xs - cb[0], ys - cb[1]])
    target = frame_b[ys, xs].astype(float)
    best, best_error = 0.0, math.inf
    for angle in np.deg2rad(np.arange(-40, 40.5, 1.0)):
        c, s = math.cos(angle), math.sin(angle)
        # point p in b came from q in a with p - cb = R(angle) (q - ca)  =>  q = ca + R(-angle)(p - cb)
        qx = np.rint(ca[0] + c * rel[0] + s * rel[1]).astype(int)
        qy = np.rint(ca[1] - s * rel[0] + c * rel[1]).astype(int)
        inside = (qx >= 0) & (qx < frame_a.shape[1]) & (qy >= 0) & (qy < frame_a.shape[0])
        inside &= mask_a[np.clip(qy, 0, frame_a.shape[0] - 1), np.clip(qx, 0, frame_a.shape[1] - 1)]
        if inside.sum() < 0.5 * len(xs):
            continue
        error = np.abs(frame_a[qy[inside], qx[inside]].astype(float) - target[inside]).mean()
        if error < best_error:
            best, best_error = angle, error
    return best


def check_motion_property(name: str, frames: np.ndarray, visibility: np.ndarray, mask: np.ndarray, size: int) -> None:
    """Assert that the pixels show what class ``name`` says.

    frames: (T, H, W, 3) colours; visibility: (T, H, W) how strongly the object shows;
    mask: (T, H, W) bool, where the object is.
    """
    t = len(frames)
    area = mask.sum(axis=(1, 2)).astype(float)
    visible = area > 0.3 * area.max()
    xy = centroids(np.where(visible[:, None, None], visibility, 1e-9))
    first, last = np.argmax(visible), len(visible) - 1 - np.argmax(visible[::-1])
    moved = xy[last] - xy[first]
    if name.endswith("from left to right"):
        assert moved[0] > 0.2 * size and abs(moved[1]) < moved[0], moved
    elif name.endswith("from right to left"):
        assert moved[0] < -0.2 * size and abs(moved[1]) < -moved[0], moved
    elif name == "moving something up":
        assert moved[1] < -0.2 * size and abs(moved[0]) < -moved[1], moved  # y grows downwards
    elif name == "moving something down":
        assert moved[1] > 0.2 * size and abs(moved[0]) < moved[1], moved
    elif name.endswith("closer to the camera"):
        assert area[-1] > 2.0 * area[0] and np.all(np.diff(area) > -0.1 * area.max()), area
    elif name.endswith("away from the camera"):
        assert area[0] > 2.0 * area[-1] and np.all(np.diff(area) < 0.1 * area.max()), area
    elif "clockwise" in name:
        steps = [rotation_between(frames[i], frames[i + 1], mask[i], mask[i + 1]) for i in range(t - 1)]
        total = math.degrees(sum(steps))
        sign = -1 if "counterclockwise" in name else 1
        # The true turn is 72-144 degrees; per-step estimates on tiny decoded objects are noisy.
        signs = np.sign(sign * np.array(steps))
        assert sign * total > 30 and (signs > 0).sum() > 2 * (signs < 0).sum(), (name, total, steps)
        assert np.linalg.norm(xy[-1] - xy[0]) < 0.15 * size  # turning in place
    elif name in ("something appearing", "something disappearing"):
        strength = visibility.sum(axis=(1, 2))
        if name == "something disappearing":
            strength = strength[::-1]
        assert strength[0] < 0.1 * strength.max() and strength[-1] > 0.8 * strength.max(), strength
        assert np.all(np.diff(strength) > -0.1 * strength.max()), strength
    elif name in ("moving something and then stopping", "holding something still and then moving it"):
        path = xy if name.startswith("moving") else xy[::-1]
        head, tail = path[: t // 3 + 1], path[-(t // 3) :]
        moving = np.linalg.norm(head[-1] - head[0])
        still = np.max(np.linalg.norm(tail - tail.mean(axis=0), axis=1))
        assert moving > 0.12 * size and still < 0.06 * size, (moving, still)
    else:  # pragma: no cover
        raise AssertionError(f"no property check for class {name!r}")


def hue_of(rgb: np.ndarray) -> float:
    r, g, b = rgb / 255.0
    mx, mn = max(r, g, b), min(r, g, b)
    if mx == mn:
        return 0.0
    if mx == r:
        h = (g - b) / (mx - mn) % 6
    elif mx == g:
        h = (b - r) / (mx - mn) + 2
    else:
        h = (r - g) / (mx - mn) + 4
    return 60.0 * h


def hue_distance(a: float, b: float) -> float:
    return abs((a - b + 180) % 360 - 180)


def shape_from_mask(mask: np.ndarray) -> str:
    """Rotation- and scale-invariant shape guess from a binary object mask."""
    ys, xs = np.nonzero(mask)
    cx, cy = xs.mean(), ys.mean()
    dist = np.hypot(xs - cx, ys - cy)
    r_max = dist.max() + 0.5
    fill = len(xs) / (math.pi * r_max**2)
    grid_y, grid_x = np.mgrid[0 : mask.shape[0], 0 : mask.shape[1]]
    grid_dist = np.hypot(grid_x - cx, grid_y - cy)
    centre = mask[grid_dist <= 0.2 * r_max].mean()
    inner = mask[grid_dist <= 0.65 * r_max].mean()
    cov = np.cov(np.stack([xs, ys]))
    eig = np.linalg.eigvalsh(cov)
    elongation = eig[1] / max(eig[0], 1e-6)
    if elongation > 2.5:
        return "bar"
    if centre < 0.3:
        return "ring"
    if fill > 0.8:
        return "disc"
    if fill < 0.5:
        return "triangle"
    return "square" if inner > 0.9 else "cross"


# ----------------------------------------------------------------------------------------
# spec, presets, names
# ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(kind="sports"), "kind"),
        (dict(size=33), "even"),
        (dict(num_classes=13), "num_classes"),
        (dict(frames=2), "frames"),
        (dict(codec="vp9"), "codec"),
        (dict(train_per_class=0, val_per_class=0), "at least one"),
    ],
)
def test_spec_rejects_bad_values(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SyntheticSpec(**kwargs)


def test_presets_and_fingerprint():
    quick = syn.QUICK_PRESET.spec("motion", seed=3)
    assert (quick.kind, quick.seed, quick.num_labels) == ("motion", 3, 6)
    assert syn.DEFAULT_PRESET.spec("appearance").num_labels == len(APPEARANCE_CLASSES)
    assert quick.fingerprint() == syn.QUICK_PRESET.spec("motion", seed=3).fingerprint()
    assert quick.fingerprint() != syn.QUICK_PRESET.spec("motion", seed=4).fingerprint()
    assert syn.dataset_dir(quick, "/x").parent == Path("/x")


def test_default_cache_dir_honours_tanet_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("TANET_CACHE", str(tmp_path))
    spec = SyntheticSpec(**TINY)
    assert syn.dataset_dir(spec) == tmp_path / "synthetic" / f"motion-{spec.fingerprint()}"
    monkeypatch.delenv("TANET_CACHE")
    assert syn.default_cache_dir() == Path.home() / ".cache" / "tanet" / "synthetic"


def test_flip_label_map_swaps_left_right_and_rotation_sense():
    names = syn.class_names("motion")
    mapping = horizontal_flip_label_map(names)
    swapped = {names[a]: names[b] for a, b in mapping.items() if a != b}
    assert swapped == {
        "moving something from left to right": "moving something from right to left",
        "moving something from right to left": "moving something from left to right",
        "turning something clockwise": "turning something counterclockwise",
        "turning something counterclockwise": "turning something clockwise",
    }
    assert all(a == b for a, b in horizontal_flip_label_map(syn.class_names("appearance")).items())


def test_mirroring_a_clockwise_clip_turns_it_counterclockwise():
    spec = SyntheticSpec(kind="motion", **PROBE)
    clip = render_clip(spec, 6, seed=11)
    mirrored = clip.frames[:, :, ::-1]
    mask = clip.object_coverage[:, :, ::-1] > 0.9
    check_motion_property("turning something counterclockwise", mirrored, mask.astype(float), mask, spec.size)


# ----------------------------------------------------------------------------------------
# rendered clips: class properties
# ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("label", range(len(MOTION_CLASSES)))
def test_motion_class_property_holds_in_rendered_frames(label):
    spec = SyntheticSpec(kind="motion", **PROBE)
    name = MOTION_CLASSES[label][0]
    for index in range(4):
        clip = render_clip(spec, label, video_seed(spec, "train", label, index))
        assert clip.frames.shape == (spec.frames, spec.size, spec.size, 3) and clip.frames.dtype == np.uint8
        coverage = clip.object_coverage
        check_motion_property(name, clip.frames, coverage, coverage > 0.5, spec.size)


@pytest.mark.parametrize("pair", range(0, len(MOTION_CLASSES), 2))
def test_paired_motion_classes_are_exact_time_reversals(pair):
    # Same seed: the second class of a pair is the first played backwards, so the bag of
    # frames is identical and only temporal order separates the two classes.
    spec = SyntheticSpec(kind="motion", **PROBE)
    for seed in (0, 1):
        forward = render_clip(spec, pair, seed)
        backward = render_clip(spec, pair + 1, seed)
        np.testing.assert_array_equal(backward.frames, forward.frames[::-1])
        assert not np.array_equal(backward.frames, forward.frames)


def test_motion_set_look_is_random_per_clip():
    spec = SyntheticSpec(kind="motion", **PROBE)
    hues, shapes = [], []
    for index in range(12):
        clip = render_clip(spec, 0, video_seed(spec, "train", 0, index))
        solid = clip.object_coverage > 0.99
        hues.append(hue_of(np.median(clip.frames[solid], axis=0)))
        shapes.append(shape_from_mask(clip.object_coverage[0] > 0.5))
    assert np.ptp(hues) > 90 and len(set(shapes)) >= 3


def test_appearance_motion_and_scene_do_not_depend_on_class():
    spec = SyntheticSpec(kind="appearance", **PROBE)
    for seed in (5, 6, 7):
        clips = [render_clip(spec, label, seed) for label in range(len(APPEARANCE_CLASSES))]
        reference = clips[0]
        track = centroids(reference.object_coverage)
        for clip in clips[1:]:
            # Same background, distractors, camera shake and noise; object at the same place.
            np.testing.assert_array_equal(clip.background, reference.background)
            np.testing.assert_allclose(centroids(clip.object_coverage), track, atol=0.6)
            assert not np.array_equal(clip.frames, reference.frames)


@pytest.mark.parametrize("label", range(len(APPEARANCE_CLASSES)))
def test_appearance_class_is_what_is_there(label):
    spec = SyntheticSpec(kind="appearance", **PROBE)
    name, shape, colour = APPEARANCE_CLASSES[label]
    for index in range(4):
        clip = render_clip(spec, label, video_seed(spec, "train", label, index))
        solid = clip.object_coverage > 0.99
        assert hue_distance(hue_of(np.median(clip.frames[solid], axis=0)), COLOURS[colour]) < 25
        middle = spec.frames // 2
        assert shape_from_mask(clip.object_coverage[middle] > 0.5) == shape, (name, index)


# ----------------------------------------------------------------------------------------
# written sets: files, determinism, decoded video
# ----------------------------------------------------------------------------------------


def first_frame_checksums(info) -> list[str]:
    sums = []
    for list_file in (info.train_list, info.val_list):
        for rel, _ in read_list(list_file):
            with av.open(str(info.root / rel)) as container:
                frame = next(container.decode(video=0)).to_ndarray(format="rgb24")
            sums.append(hashlib.sha256(frame.tobytes()).hexdigest())
    return sums


@pytest.mark.parametrize("kind", ["motion", "appearance"])
def test_generation_is_deterministic(tmp_path, kind):
    spec = SyntheticSpec(kind=kind, **TINY)
    a = generate(spec, tmp_path / "a")
    b = generate(spec, tmp_path / "b", workers=2)  # parallel rendering gives the same set
    for name in ("train.txt", "val.txt", "classes.txt"):
        assert (a.root / name).read_bytes() == (b.root / name).read_bytes()
    assert first_frame_checksums(a) == first_frame_checksums(b)
    other = generate(SyntheticSpec(kind=kind, **dict(TINY, seed=1)), tmp_path / "c")
    assert (other.root / "train.txt").read_bytes() == (a.root / "train.txt").read_bytes()
    assert not set(first_frame_checksums(other)) & set(first_frame_checksums(a))


def test_list_files_and_videos(tmp_path):
    spec = SyntheticSpec(kind="motion", **TINY)
    info = generate(spec, tmp_path / "set")
    names = info.classes_file.read_text().splitlines()
    assert names == [c[0] for c in MOTION_CLASSES[: TINY["num_classes"]]] == list(info.class_names)
    for list_file, per_class in ((info.train_list, spec.train_per_class), (info.val_list, spec.val_per_class)):
        entries = read_list(list_file)
        assert len(entries) == per_class * len(names)
        assert sorted(label for _, label in entries) == sorted(list(range(len(names))) * per_class)
        for rel, label in entries:
            assert not Path(rel).is_absolute() and (info.data_root / rel).is_file()
            with av.open(str(info.data_root / rel)) as container:
                stream = container.streams.video[0]
                assert stream.codec_context.name == "h264" and stream.format.name == "yuv420p"
                assert float(stream.average_rate) == spec.fps
                frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
            assert len(frames) == spec.frames and frames[0].shape == (spec.size, spec.size, 3)
    assert (info.num_train, info.num_val) == (8, 4)


def test_list_files_parse_with_data_reader(tmp_path):
    data = pytest.importorskip("tanet.data")
    if not hasattr(data, "read_list"):
        pytest.skip("tanet.data.read_list not available yet")
    info = generate(SyntheticSpec(kind="appearance", **TINY), tmp_path / "set")
    records = data.read_list(info.train_list, info.data_root, num_classes=len(info.class_names))
    assert len(records) == info.num_train
    assert data.read_class_names(info.classes_file) == list(info.class_names)


def test_motion_properties_hold_in_decoded_videos(tmp_path):
    spec = SyntheticSpec(kind="motion", **PROBE)
    info = generate(spec, tmp_path / "set")
    for rel, label in read_list(info.train_list):
        decoded = decode(info.root / rel).astype(float)
        rendered = render_clip(spec, label, video_seed(spec, "train", label, 0))
        # Object pixels: where the decoded video differs from the same scene without it.
        # Compression smears small distractors too: keep the largest changed region.
        difference = np.abs(decoded - rendered.background.astype(float)).sum(axis=-1)
        mask = np.stack([largest_component(m) for m in difference > 60])
        check_motion_property(MOTION_CLASSES[label][0], decoded, difference * mask, mask, spec.size)
        # ...and the decoded object sits where the renderer put it.
        solid = rendered.object_coverage.sum(axis=(1, 2)) > 0.5 * rendered.object_coverage.sum(axis=(1, 2)).max()
        offset = centroids(mask[solid].astype(float)) - centroids(rendered.object_coverage[solid])
        assert np.abs(offset).max() < 1.5, offset


def test_appearance_colour_survives_encoding(tmp_path):
    spec = SyntheticSpec(kind="appearance", **dict(PROBE, num_classes=8))
    info = generate(spec, tmp_path / "set")
    for rel, label in read_list(info.train_list):
        decoded = decode(info.root / rel)
        rendered = render_clip(spec, label, video_seed(spec, "train", label, 0))
        solid = rendered.object_coverage > 0.99
        colour = APPEARANCE_CLASSES[label][2]
        assert hue_distance(hue_of(np.median(decoded[solid], axis=0).astype(float)), COLOURS[colour]) < 30


# ----------------------------------------------------------------------------------------
# cache
# ----------------------------------------------------------------------------------------


def test_cache_is_reused(tmp_path):
    spec = SyntheticSpec(kind="motion", **TINY)
    first = generate(spec, cache_dir=tmp_path)
    assert not first.reused and first.root.parent == tmp_path
    stamp = {p: p.stat().st_mtime_ns for p in first.root.rglob("*")}
    second = generate(spec, cache_dir=tmp_path)
    assert second.reused and second.root == first.root
    assert {p: p.stat().st_mtime_ns for p in second.root.rglob("*")} == stamp
    manifest = json.loads((first.root / "manifest.json").read_text())
    assert manifest["spec"] == spec.to_dict() and manifest["version"] == syn.GENERATOR_VERSION
    # A different spec gets its own folder.
    other = generate(SyntheticSpec(kind="motion", **dict(TINY, frames=6)), cache_dir=tmp_path)
    assert other.root != first.root and not other.reused


@pytest.mark.parametrize("damage", ["truncate", "delete", "no_manifest", "other_spec"])
def test_damaged_set_is_regenerated(tmp_path, damage):
    spec = SyntheticSpec(kind="motion", **TINY)
    root = tmp_path / "set"
    generate(spec, root)
    video = root / read_list(root / "train.txt")[0][0]
    good = video.read_bytes()
    if damage == "truncate":
        video.write_bytes(good[: len(good) // 2])
    elif damage == "delete":
        video.unlink()
    elif damage == "no_manifest":
        (root / "manifest.json").unlink()
    else:
        generate(SyntheticSpec(kind="motion", **dict(TINY, seed=9)), root)
    info = generate(spec, root)
    assert not info.reused
    assert video.read_bytes() == good
    assert generate(spec, root).reused


def test_foreign_folder_is_not_overwritten(tmp_path):
    root = tmp_path / "mine"
    root.mkdir()
    (root / "holiday.jpg").write_bytes(b"x")
    with pytest.raises(FileExistsError, match="holiday.jpg"):
        generate(SyntheticSpec(kind="motion", **TINY), root)
    assert (root / "holiday.jpg").exists()


def test_killed_generation_leaves_no_usable_set(tmp_path):
    root = tmp_path / "set"
    spec = dict(TINY, train_per_class=40, num_classes=12)
    script = (
        "import sys; from tanet.data.synthetic import SyntheticSpec, generate; "
        f"generate(SyntheticSpec(kind='motion', **{spec!r}), sys.argv[1])"
    )
    process = subprocess.Popen([sys.executable, "-c", script, str(root)])
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            partial = list(tmp_path.glob(".set.partial-*"))
            if partial and len(list(partial[0].rglob("*.mp4"))) >= 5:
                break
            time.sleep(0.05)
        else:  # pragma: no cover
            pytest.fail("generation never started")
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    assert not root.exists()  # nothing half-written under the real name
    assert list(tmp_path.glob(".set.partial-*"))
    small = SyntheticSpec(kind="motion", **TINY)
    info = generate(small, root)
    assert not info.reused and info.num_train == 8
    assert not list(tmp_path.glob(".set.partial-*"))  # the dead run's leftovers are cleaned


def test_cli_writes_and_reports(tmp_path, capsys):
    from tanet.cli import main

    args = ["synth", "--kind", "both", "--out", str(tmp_path), "--classes", "2", "--per-class", "1",
            "--val-per-class", "1", "--size", "32", "--frames", "6", "--seed", "4"]
    assert main(args) == 0
    out = capsys.readouterr().out
    roots = sorted(p for p in tmp_path.iterdir() if not p.name.startswith("."))
    assert [p.name.split("-")[0] for p in roots] == ["appearance", "motion"]
    for root in roots:
        assert str(root) in out and (root / "manifest.json").is_file()
        assert len(read_list(root / "train.txt")) == 2
    assert "horizontal flip swaps labels 0<->1" in out  # the motion pair left/right
    assert main(args) == 0 and "reused from cache" in capsys.readouterr().out
    assert main(["synth", "--size", "33", "--out", str(tmp_path)]) == 2
