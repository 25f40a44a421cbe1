"""Clip transforms: geometry by hand, pixels against an independent float reference."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tanet.data import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    CropBox,
    flip_label_map,
    multi_scale_crop_params,
    normalize,
    resized_crop,
    eval_crop_params,
    test_transform,
    train_transform,
)
from tanet.data.transforms import FIXED_CROP_POSITIONS


def _frames(t=4, h=60, w=80, seed=0):
    return torch.from_numpy(np.random.default_rng(seed).integers(0, 256, (t, h, w, 3), dtype=np.uint8))


def test_multi_scale_crop_sizes_and_positions_by_hand():
    # A 256 x 340 frame at scale_size 256 is not rescaled: crop sides are int(256*s) with
    # 224 snapping to 224 -> {256, 224, 192, 168}; neighbouring scales may pair up.
    rng = np.random.default_rng(0)
    sides = [256, 224, 192, 168]
    allowed_pairs = {(sides[i], sides[j]) for i in range(4) for j in range(4) if abs(i - j) <= 1}
    seen_pairs, seen_positions = set(), set()
    for _ in range(2000):
        box = multi_scale_crop_params(256, 340, rng, size=224, scale_size=256)
        pair = (box.height, box.width)
        assert pair in allowed_pairs
        step_x, step_y = (340 - box.width) // 4, (256 - box.height) // 4
        position = (box.left // step_x if step_x else None, box.top // step_y if step_y else None)
        assert box.left % max(step_x, 1) == 0 and box.top % max(step_y, 1) == 0
        seen_pairs.add(pair)
        if step_x and step_y:
            seen_positions.add(position)
        assert not box.flip
    assert seen_pairs == allowed_pairs
    assert seen_positions == set(FIXED_CROP_POSITIONS)


def test_multi_scale_crop_maps_back_to_original_pixels():
    # 128 x 170 is the 256 x 340 frame at half size: every box scales by 1/2.
    a = multi_scale_crop_params(256, 340, np.random.default_rng(3), size=224, scale_size=256)
    b = multi_scale_crop_params(128, 170, np.random.default_rng(3), size=224, scale_size=256)
    assert (b.top, b.left, b.height, b.width) == (round(a.top / 2), round(a.left / 2), round(a.height / 2), round(a.width / 2))


def test_random_crop_and_flip_probability():
    rng = np.random.default_rng(1)
    boxes = [multi_scale_crop_params(100, 100, rng, 64, 100, fixed_crops=False, flip=True) for _ in range(1000)]
    assert all(0 <= b.top <= 100 - b.height and 0 <= b.left <= 100 - b.width for b in boxes)
    assert 400 < sum(b.flip for b in boxes) < 600


def test_resized_crop_matches_float_reference():
    frames = _frames()
    box = CropBox(5, 7, 40, 50)
    got = resized_crop(frames, box, (32, 32))
    reference = F.interpolate(
        frames[:, 5:45, 7:57].permute(0, 3, 1, 2).double(), size=(32, 32), mode="bilinear", antialias=True, align_corners=False
    )
    assert got.dtype == torch.uint8 and got.shape == (4, 3, 32, 32)
    assert (got.double() - reference).abs().max() <= 1.0  # uint8 rounding only


def test_normalize_by_hand():
    clip = torch.full((2, 3, 4, 4), 128, dtype=torch.uint8)
    out = normalize(clip)
    assert out.shape == (3, 2, 4, 4) and out.dtype == torch.float32
    for c in range(3):
        expected = (128 / 255 - IMAGENET_MEAN[c]) / IMAGENET_STD[c]
        assert torch.allclose(out[c], torch.tensor(expected, dtype=torch.float32), atol=1e-5)
    # Float input is taken as 0..1.
    assert torch.allclose(normalize(clip.float() / 255), out, atol=1e-5)


def test_normalize_moves_every_pixel_to_its_channel_and_frame():
    """Distinct values per frame, channel and pixel, in the channels-last memory the resize gives:
    out[c, t] is frame t's channel c, normalised (a float64 formula as the reference)."""
    frames = torch.randint(0, 256, (3, 5, 7, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    clip = frames.permute(0, 3, 1, 2)  # (T, 3, H, W), channels-last in memory
    out = normalize(clip)
    assert out.shape == (3, 3, 5, 7) and out.is_contiguous()
    mean = torch.tensor(IMAGENET_MEAN, dtype=torch.float64).view(3, 1, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=torch.float64).view(3, 1, 1, 1)
    expected = (frames.permute(3, 0, 1, 2).double() / 255 - mean) / std
    assert torch.allclose(out.double(), expected, atol=1e-5)


def test_train_transform_shares_one_draw_across_frames():
    one = _frames(t=1)
    frames = one.repeat(6, 1, 1, 1)  # six identical frames
    clip = train_transform(32, scale_size=64)(frames, np.random.default_rng(0))
    assert clip.shape == (3, 6, 32, 32) and clip.dtype == torch.float32
    for t in range(1, 6):
        assert torch.equal(clip[:, t], clip[:, 0])


def test_train_flip_mirrors_the_same_crop():
    transform = train_transform(32, scale_size=64)
    frames = _frames()
    box = transform.sample_params(60, 80, np.random.default_rng(0))
    plain = transform.apply(frames, CropBox(box.top, box.left, box.height, box.width, False))
    flipped = transform.apply(frames, CropBox(box.top, box.left, box.height, box.width, True))
    assert torch.equal(flipped, plain.flip(-1))
    # flip=False never flips.
    no_flip = train_transform(32, flip=False, scale_size=64)
    assert not any(no_flip.sample_params(60, 80, np.random.default_rng(s)).flip for s in range(50))


def test_test_crops_by_hand():
    # 256 x 340 (already short side 256): three 256 crops along the width at 0, 42, 84.
    boxes = eval_crop_params(256, 340, size=256, scale_size=256, num_crops=3)
    assert [(b.top, b.left, b.height, b.width) for b in boxes] == [(0, 0, 256, 256), (0, 42, 256, 256), (0, 84, 256, 256)]
    # Portrait video: along the height.
    boxes = eval_crop_params(340, 256, size=256, scale_size=256, num_crops=3)
    assert [(b.top, b.left) for b in boxes] == [(0, 0), (42, 0), (84, 0)]
    # Centre 224 crop of 256 x 340: top 16, left 58.
    (centre,) = eval_crop_params(256, 340, size=224, scale_size=256, num_crops=1)
    assert (centre.top, centre.left, centre.height, centre.width) == (16, 58, 224, 224)
    ten = eval_crop_params(256, 340, size=224, scale_size=256, num_crops=10)
    assert [(b.top, b.left) for b in ten[:5]] == [(0, 0), (0, 116), (32, 0), (32, 116), (16, 58)]
    assert [b.flip for b in ten] == [False] * 5 + [True] * 5
    # Frames at 2x resolution: the same boxes doubled.
    (big,) = eval_crop_params(512, 680, size=224, scale_size=256, num_crops=1)
    assert (big.top, big.left, big.height, big.width) == (32, 116, 448, 448)


def test_test_transform_shapes_and_centre_pixels():
    frames = _frames(t=3, h=64, w=96)
    single = test_transform(size=32, scale_size=64, num_crops=1)(frames)
    assert single.shape == (3, 3, 32, 32)
    # Reference: centre 32 crop of the unscaled (short side already 64) frame, resized by nothing.
    expected = normalize(frames[:, 16:48, 32:64].permute(0, 3, 1, 2))
    assert torch.allclose(single, expected)
    assert test_transform(size=64, scale_size=64, num_crops=3)(frames).shape == (3, 3, 3, 64, 64)
    assert test_transform(size=32, scale_size=64, num_crops=10)(frames).shape == (10, 3, 3, 32, 32)
    with pytest.raises(ValueError):
        test_transform(num_crops=5)


SOMETHING_NAMES = [
    "Pushing something from left to right",
    "Pushing something from right to left",
    "Pulling [something] from left to right",
    "Pulling [something] from right to left",
    "Turning the camera left while filming something",
    "Turning the camera right while filming something",
    "Moving something up",
    "Putting something on the left side",  # no "right side" class: must not be mapped
    "Holding something",
]


def test_flip_label_map_something_something():
    mapping = flip_label_map(SOMETHING_NAMES)
    assert mapping == {0: 1, 1: 0, 2: 3, 3: 2, 4: 5, 5: 4}
    # Case, brackets and spacing do not matter.
    assert flip_label_map(["Pushing [Something] from LEFT to right", "pushing something  from right to left"]) == {0: 1, 1: 0}
    # Kinetics-like names: nothing to swap.
    assert flip_label_map(["abseiling", "playing guitar", "writing"]) == {}
    with pytest.raises(ValueError, match="duplicate"):
        flip_label_map(["a", "A"])
