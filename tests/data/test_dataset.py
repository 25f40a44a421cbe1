"""VideoDataset end to end on real encoded videos and JPEG folders."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from tanet.data import (
    CropBox,
    SegmentSampler,
    VideoDataset,
    VideoDecodeError,
    build_loader,
    build_test_dataset,
    build_train_dataset,
    collate_videos,
    normalize,
    resized_crop,
    test_transform,
    train_transform,
)
from tanet.data.dataset import _REPORTED_BAD_FILES

from .conftest import decode_all, synthetic_frames, write_video


@pytest.fixture(scope="module")
def dataset_root(tmp_path_factory):
    """Three good mp4s of different lengths, one corrupt file, and a JPEG-frame folder."""
    root = tmp_path_factory.mktemp("ds")
    for i, n in enumerate([40, 24, 5]):
        write_video(root / f"v{i}.mp4", synthetic_frames(n, 48, 64, seed=i), gop=8)
    (root / "bad.mp4").write_bytes(b"\x00" * 1000)
    from PIL import Image

    (root / "frames0").mkdir()
    for i, frame in enumerate(synthetic_frames(12, 48, 64, seed=9)):
        Image.fromarray(frame).save(root / "frames0" / f"img_{i + 1:05d}.jpg")
    (root / "videos.txt").write_text("v0.mp4 0\nv1.mp4 1\nbad.mp4 2\nv2.mp4 3\n")
    (root / "frames.txt").write_text("frames0 12 1\n")
    return root


def test_test_clip_equals_reference_pipeline(dataset_root):
    ds = VideoDataset(
        dataset_root / "videos.txt", dataset_root, sampler=SegmentSampler(4, mode="test"),
        transform=test_transform(32, 48), backend="pyav",
    )
    clip, label = ds[0]
    assert label == 0 and clip.shape == (3, 4, 32, 32)
    # Independent path: full PyAV decode, hand-computed centres (n=40, T=4 -> 5, 15, 25, 35),
    # centre 32 crop of the 48 x 64 frames (short side already 48).
    reference = torch.from_numpy(decode_all(dataset_root / "v0.mp4")[[5, 15, 25, 35]])
    expected = normalize(resized_crop(reference, CropBox(8, 16, 32, 32), (32, 32)))
    assert torch.allclose(clip, expected)


def test_frame_folder_entries(dataset_root):
    ds = VideoDataset(dataset_root / "frames.txt", dataset_root, sampler=SegmentSampler(3, mode="test"), transform=test_transform(48, 48))
    clip, label = ds[0]
    from PIL import Image

    # n=12, T=3: centres 2, 6, 10 -> files img_00003, img_00007, img_00011.
    files = [dataset_root / "frames0" / f"img_{i:05d}.jpg" for i in (3, 7, 11)]
    reference = torch.from_numpy(np.stack([np.asarray(Image.open(f).convert("RGB")) for f in files]))
    expected = normalize(resized_crop(reference, CropBox(0, 8, 48, 48), (48, 48)))
    assert label == 1 and torch.allclose(clip, expected)


def test_bad_video_skipped_with_one_warning(dataset_root):
    _REPORTED_BAD_FILES.clear()
    ds = build_train_dataset(dataset_root / "videos.txt", dataset_root, num_segments=4, size=32, scale_size=48, backend="pyav")
    with pytest.warns(RuntimeWarning, match="bad.mp4"):
        assert ds[2] is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a second read of the same file stays quiet
        assert ds[2] is None
    clips, labels, num_bad = collate_videos([ds[i] for i in range(len(ds))])
    assert clips.shape == (3, 3, 4, 32, 32) and labels.tolist() == [0, 1, 3] and num_bad == 1
    empty = collate_videos([None, None])
    assert empty[0].numel() == 0 and empty[2] == 2


def test_strict_raises(dataset_root):
    ds = build_train_dataset(dataset_root / "videos.txt", dataset_root, num_segments=4, size=32, scale_size=48, strict=True, backend="pyav")
    with pytest.raises(VideoDecodeError, match="bad.mp4"):
        ds[2]


def test_short_video_loops(dataset_root):
    ds = VideoDataset(
        dataset_root / "videos.txt", dataset_root, sampler=SegmentSampler(8, mode="test", rule="spread", short_policy="repeat_last"),
        transform=test_transform(32, 48), backend="pyav",
    )
    clip, _ = ds[3]  # 5 frames for 8 segments: 0 1 2 3 4 4 4 4
    assert torch.equal(clip[:, 4], clip[:, 7]) and not torch.equal(clip[:, 3], clip[:, 4])


def test_train_sampling_reproducible_and_changes_with_epoch(dataset_root):
    ds = build_train_dataset(dataset_root / "videos.txt", dataset_root, num_segments=4, size=32, scale_size=48, backend="pyav", seed=7)
    a, _ = ds[0]
    b, _ = ds[0]
    assert torch.equal(a, b)
    indices = [ds.sample_indices(0, 40) for _ in range(2)]
    ds.set_epoch(1)
    assert ds.sample_indices(0, 40) != indices[0] or not torch.equal(ds[0][0], a)


class _AlwaysFlip:
    """A train transform whose draw always flips (to test the label swap deterministically)."""

    def __init__(self):
        self.inner = train_transform(32, scale_size=48)

    def sample_params(self, height, width, rng):
        box = self.inner.sample_params(height, width, rng)
        return CropBox(box.top, box.left, box.height, box.width, True)

    def apply(self, frames, box):
        return self.inner.apply(frames, box)


def test_flip_swaps_labels(dataset_root):
    ds = VideoDataset(
        dataset_root / "videos.txt", dataset_root, sampler=SegmentSampler(4), transform=_AlwaysFlip(),
        label_map_on_flip={0: 1, 1: 0}, backend="pyav",
    )
    assert ds[0][1] == 1 and ds[1][1] == 0 and ds[3][1] == 3  # 3 has no partner


def test_build_train_dataset_flip_options(dataset_root, tmp_path):
    names = tmp_path / "classes.txt"
    names.write_text("Pushing something from left to right\nPushing something from right to left\nx\ny\n")
    with pytest.warns(UserWarning, match="from left to right"):
        ds = build_train_dataset(dataset_root / "videos.txt", dataset_root, num_segments=4, flip="swap", class_names=names)
    assert ds.label_map_on_flip == {0: 1, 1: 0}
    # flip=True (the default) swaps the pair too: mirroring a left-to-right push makes a right-to-left one
    with pytest.warns(UserWarning, match=r"'Pushing something from left to right' \(0\) <-> "
                                         r"'Pushing something from right to left' \(1\)"):
        ds = build_train_dataset(dataset_root / "videos.txt", dataset_root, num_segments=4, flip=True, class_names=names)
    assert ds.label_map_on_flip == {0: 1, 1: 0} and ds.never_flip == frozenset()
    with pytest.raises(ValueError, match="class_names"):
        build_train_dataset(dataset_root / "videos.txt", dataset_root, num_segments=4, flip="swap")
    with pytest.warns(UserWarning, match="unknown class names"):
        build_train_dataset(dataset_root / "videos.txt", dataset_root, num_segments=4, flip=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no flip: nothing to say
        ds = build_train_dataset(dataset_root / "videos.txt", dataset_root, num_segments=4, flip=False, class_names=names)
    assert not ds.transform.flip


def test_unpaired_direction_class_is_never_flipped(dataset_root, tmp_path):
    names = tmp_path / "classes.txt"
    names.write_text("left_to_right\nright_to_left\nx\nturn_left\n")
    with pytest.warns(UserWarning, match=r"never flipped: 'turn_left' \(3\)"):
        ds = build_train_dataset(dataset_root / "videos.txt", dataset_root, num_segments=4, size=32, class_names=names,
                                 backend="pyav")
    assert ds.label_map_on_flip == {0: 1, 1: 0} and ds.never_flip == {3}
    ds.transform = _AlwaysFlip()
    clip, label = ds[3]
    assert label == 3
    # The same draw rendered without and with the flip: the clip is the unflipped one.
    rng = ds.rng(3)
    indices = ds.sampler(5, rng)[0]
    frames = torch.from_numpy(decode_all(dataset_root / "v2.mp4")[indices])
    box = ds.transform.sample_params(48, 64, rng)
    assert box.flip
    unflipped = CropBox(box.top, box.left, box.height, box.width, False)
    assert torch.equal(clip, ds.transform.apply(frames, unflipped))
    assert not torch.equal(clip, ds.transform.apply(frames, box))
    flipped, mapped = ds[0]
    assert mapped == 1  # a paired class is flipped and relabelled


@pytest.mark.parametrize(
    "protocol,sampling,shape",
    [
        ("efficient", "segment", (3, 4, 32, 32)),
        ("accurate", "segment", (6, 3, 4, 48, 48)),
        ("twice_sample", "segment", (6, 3, 4, 48, 48)),
        ("accurate", "dense", (6, 3, 4, 48, 48)),
        ("dense", "segment", (30, 3, 4, 48, 48)),
    ],
)
def test_build_test_dataset_protocols(dataset_root, protocol, sampling, shape):
    ds = build_test_dataset(
        dataset_root / "videos.txt", dataset_root, num_segments=4, sampling=sampling, protocol=protocol,
        size=32, scale_size=48, backend="pyav", dense_interval=2,
    )
    clip, label = ds[0]
    assert tuple(clip.shape) == shape and label == 0


def test_accurate_is_the_official_uniform_2(dataset_root):
    ds = build_test_dataset(dataset_root / "videos.txt", dataset_root, num_segments=4, protocol="accurate", size=32,
                            scale_size=48, backend="pyav")
    views, _ = ds[0]
    reference = torch.from_numpy(decode_all(dataset_root / "v0.mp4"))
    crops = test_transform(48, 48, 3)
    # uniform-2 for n=40, T=4 (official ops/dataset.py _get_test_indices): tick 10, starts
    # linspace(0, 9, 2) = 0, 9 -> clips 0,10,20,30 and 9,19,29,39; views are clip-major.
    assert torch.allclose(views[:3], crops(reference[[0, 10, 20, 30]]))
    assert torch.allclose(views[3:], crops(reference[[9, 19, 29, 39]]))


def test_twice_sample_protocol_keeps_tsm_clips(dataset_root):
    ds = build_test_dataset(dataset_root / "videos.txt", dataset_root, num_segments=4, protocol="twice_sample",
                            size=32, scale_size=48, backend="pyav")
    views, _ = ds[0]
    reference = torch.from_numpy(decode_all(dataset_root / "v0.mp4"))
    crops = test_transform(48, 48, 3)
    # twice_sample for n=40, T=4: centres 5,15,25,35 then starts 0,10,20,30.
    assert torch.allclose(views[:3], crops(reference[[5, 15, 25, 35]]))
    assert torch.allclose(views[3:], crops(reference[[0, 10, 20, 30]]))
    with pytest.raises(ValueError, match="segment sampling"):
        build_test_dataset(dataset_root / "videos.txt", dataset_root, num_segments=4, protocol="twice_sample",
                           sampling="dense")


def test_validation_follows_the_official_validation_rule(dataset_root):
    # v2.mp4 has 5 frames; with T = 5 the official validation (n > T fails) takes frame 1 five times,
    # the official uniform-1 test takes frames 0..4.
    val = build_test_dataset(dataset_root / "videos.txt", dataset_root, num_segments=5, size=32, backend="pyav",
                             validation=True)
    test = build_test_dataset(dataset_root / "videos.txt", dataset_root, num_segments=5, size=32, backend="pyav")
    assert val.sample_indices(3, 5) == [[0] * 5] and test.sample_indices(3, 5) == [[0, 1, 2, 3, 4]]
    clip = val[3][0]
    assert all(torch.equal(clip[:, 0], clip[:, t]) for t in range(5))


def test_scale_size_is_derived_from_size(dataset_root):
    # official ops/models.py:448-453: scale_size = size * 256 // 224 (64 -> 73)
    train = build_train_dataset(dataset_root / "videos.txt", dataset_root, num_segments=4, size=64, flip=False)
    test = build_test_dataset(dataset_root / "videos.txt", dataset_root, num_segments=4, size=64)
    assert train.transform.scale_size == 73 and test.transform.scale_size == 73 and test.transform.size == 64
    assert build_test_dataset(dataset_root / "videos.txt", dataset_root, num_segments=4, size=64,
                              scale_size=80).transform.scale_size == 80


def test_loader_with_workers_counts_bad_files(dataset_root):
    ds = build_train_dataset(dataset_root / "videos.txt", dataset_root, num_segments=4, size=32, scale_size=48, backend="pyav")
    loader = build_loader(ds, batch_size=2, num_workers=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        batches = list(loader)
    assert sum(b[2] for b in batches) == 1
    assert sorted(torch.cat([b[1] for b in batches]).tolist()) == [0, 1, 3]
    # Same clips as loading in the main process (sampling does not depend on the worker).
    serial = collate_videos([ds[i] for i in range(len(ds))])
    assert torch.equal(torch.cat([b[0] for b in batches]), serial[0])
