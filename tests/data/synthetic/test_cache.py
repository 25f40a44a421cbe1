"""Written sets and the cache: files, determinism, decoded video, reuse and repair (tanet.data.synthetic.cache)."""
from __future__ import annotations

import hashlib
import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest

from tanet.data.synthetic import (
    APPEARANCE_CLASSES,
    GENERATOR_VERSION,
    MOTION_CLASSES,
    SyntheticSpec,
    dataset_dir,
    default_cache_dir,
    generate,
    render_clip,
    synthesize,
    video_seed,
)
from tanet.data.synthetic.spec import COLOURS
from tanet.errors import UsageError

from .conftest import PROBE, TINY, decode, read_list
from .pixels import centroids, check_motion_property, hue_distance, hue_of, largest_component


def test_default_cache_dir_honours_tanet_home(monkeypatch, tmp_path):
    monkeypatch.setenv("TANET_HOME", str(tmp_path))
    spec = SyntheticSpec(**TINY)
    assert dataset_dir(spec) == tmp_path / "synthetic" / f"motion-{spec.fingerprint()}"
    monkeypatch.delenv("TANET_HOME")
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert default_cache_dir() == Path.home() / ".cache" / "tanet" / "synthetic"


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
    assert manifest["spec"] == spec.to_dict() and manifest["version"] == GENERATOR_VERSION
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


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(kind="sports"), "kind"),
        (dict(preset="huge"), "preset"),
        (dict(colour="red"), "colour"),
        (dict(workers=0), "workers"),
        (dict(size=33), "even"),
    ],
)
def test_synthesize_rejects_bad_values_before_rendering(tmp_path, kwargs, message):
    with pytest.raises(UsageError, match=message):
        synthesize(out=tmp_path, **kwargs)
    assert not list(tmp_path.iterdir())


def test_two_writers_of_one_set_take_turns(tmp_path):
    """A second `synth` of a set another process is rendering waits for it and reuses its set, instead of
    rendering its own and replacing the finished folder under a reader."""
    root, go = tmp_path / "set", tmp_path / "go"
    # a writer that, inside the lock, says it started rendering and renders only once `go` exists
    script = (
        "import os, sys, time; from tanet.data.synthetic import SyntheticSpec, cache; "
        "real = cache._run_jobs\n"
        "def slow(*args):\n"
        "    print('rendering', flush=True)\n"
        "    while not os.path.exists(sys.argv[2]): time.sleep(0.02)\n"
        "    return real(*args)\n"
        f"cache._run_jobs = slow; info = cache.generate(SyntheticSpec(kind='motion', **{TINY!r}), sys.argv[1]); "
        "print('reused' if info.reused else 'generated', flush=True)"
    )
    command = [sys.executable, "-c", script, str(root), str(go)]
    first = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    second = None
    try:
        assert first.stdout.readline().strip() == "rendering"
        second = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # it blocks on the lock and says so (a second writer that did not wait would render: 'rendering')
        ready, _, _ = select.select([second.stdout, second.stderr], [], [], 120)
        assert ready == [second.stderr], "the second writer did not wait: " + (
            second.stdout.readline() if ready else "(silent)")
        waiting = second.stderr.readline()
        assert f"waiting for process {first.pid}, which is writing the synthetic set {root}" in waiting
        go.touch()
        assert first.wait(timeout=120) == 0 and second.wait(timeout=120) == 0
        assert first.stdout.read().strip() == "generated"
        assert second.stdout.read().strip() == "reused"  # it never rendered: the first one's set was kept
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()
    assert generate(SyntheticSpec(kind="motion", **TINY), root).reused
