"""Exact frame indices of the samplers, against index sequences worked out by hand.

The official rule is liu-zhy/temporal-adaptive-module ``ops/dataset.py`` (commit 5fcb46f, new_length=1):
``_sample_indices`` (lines 146-169), ``_get_val_indices`` (171-193), ``_get_test_indices`` (195-243).
Its indices are 1-based; every expectation below is the official index minus 1, computed by hand from
those formulas (the arithmetic is written out next to each case).
"""
from __future__ import annotations

import numpy as np
import pytest

from tanet.data import DenseSampler, SegmentSampler, fit_short


def _reachable(sampler, num_frames, draws=600, seed=0):
    """Per position, the set of frames the training sampler ever draws."""
    rng = np.random.default_rng(seed)
    seen = [set() for _ in range(sampler.num_segments)]
    for _ in range(draws):
        (clip,) = sampler(num_frames, rng)
        for k, index in enumerate(clip):
            seen[k].add(index)
    return seen


# ------------------------------------------------------------------ segment sampling, training


@pytest.mark.parametrize("n,T,segments", [
    # average_duration = n // T; offset_k = k * average_duration + randint(average_duration)
    (30, 4, [range(0, 7), range(7, 14), range(14, 21), range(21, 28)]),  # 30 // 4 = 7: frames 28, 29 never
    (17, 8, [range(2 * k, 2 * k + 2) for k in range(8)]),  # 17 // 8 = 2: frame 16 never
    (8, 8, [range(k, k + 1) for k in range(8)]),  # 8 // 8 = 1: every frame once
    (3, 8, [range(0, 1)] * 8),  # 3 // 8 = 0 (n < T): frame 1 (index 0) repeated
])
def test_official_segment_training_by_hand(n, T, segments):
    seen = _reachable(SegmentSampler(T, mode="train", rule="official"), n)
    assert seen == [set(s) for s in segments]


def test_official_segment_training_draw_matches_the_formula():
    rng = np.random.default_rng(123)
    expected = [k * (100 // 8) + int(rng.integers(100 // 8)) for k in range(8)]
    assert SegmentSampler(8)(100, np.random.default_rng(123)) == [expected]  # official is the default rule


@pytest.mark.parametrize("n,T,segments,short", [
    # segment k covers [floor(k n / T), floor((k+1) n / T)): for n=30, T=4 bounds 0, 7, 15, 22, 30
    (30, 4, [range(0, 7), range(7, 15), range(15, 22), range(22, 30)], None),
    # n=17, T=8: bounds 0,2,4,6,8,10,12,14,17 -- the last segment takes the tail frame 16
    (17, 8, [range(0, 2), range(2, 4), range(4, 6), range(6, 8), range(8, 10), range(10, 12), range(12, 14),
             range(14, 17)], None),
    (3, 8, None, [0, 1, 2, 0, 1, 2, 0, 1]),  # short: 0..7 looped
])
def test_spread_segment_training_by_hand(n, T, segments, short):
    sampler = SegmentSampler(T, mode="train", rule="spread")
    if short is not None:
        assert sampler(n, np.random.default_rng(0)) == [short]
        return
    assert _reachable(sampler, n) == [set(s) for s in segments]


# ------------------------------------------------------------------ segment sampling, validation and test


@pytest.mark.parametrize("n,T,expected", [
    (30, 4, [3, 11, 18, 26]),  # tick 7.5: int(3.75), int(11.25), int(18.75), int(26.25)
    (9, 8, [0, 1, 2, 3, 5, 6, 7, 8]),  # tick 1.125: int(0.5625 + 1.125 k)
    (8, 8, [0] * 8),  # n == T: not n > T, so the official validation takes frame 1 T times
    (3, 8, [0] * 8),  # n < T: all frame 1
])
def test_official_segment_validation_by_hand(n, T, expected):
    assert SegmentSampler(T, mode="val", rule="official")(n) == [expected]


@pytest.mark.parametrize("n,T,expected", [
    (30, 4, [3, 11, 18, 26]),
    (80, 8, [5, 15, 25, 35, 45, 55, 65, 75]),
    (8, 8, list(range(8))),  # uniform-1 has no n > T check: int(0.5 + k) = k
    (3, 8, [0, 0, 0, 1, 1, 2, 2, 2]),  # tick 0.375: int(0.1875 + 0.375 k) = 0,0,0,1,1,2,2,2 (k=5: 2.0625)
])
def test_official_uniform_1_test_by_hand(n, T, expected):
    assert SegmentSampler(T, mode="test", rule="official")(n) == [expected]


@pytest.mark.parametrize("n,T,expected", [
    # starts = linspace(0, tick - 1, 2) truncated; clip = int(s + tick k) % n
    (30, 4, [[0, 7, 15, 22], [6, 13, 21, 28]]),  # tick 7.5: starts 0, int(6.5) = 6
    (80, 8, [[10 * k for k in range(8)], [9 + 10 * k for k in range(8)]]),  # tick 10: starts 0, 9
    (8, 8, [list(range(8))] * 2),  # tick 1: both starts 0
    # tick 0.375: linspace(0, -0.625, 2) = 0, -0.625, truncated toward zero (the official numpy) = 0, 0;
    # int(0.375 k) = 0,0,0,1,1,1,2,2. (numpy >= 2 would floor -0.625 to -1 and give other frames.)
    (3, 8, [[0, 0, 0, 1, 1, 1, 2, 2]] * 2),
])
def test_official_uniform_2_test_by_hand(n, T, expected):
    assert SegmentSampler(T, mode="test", rule="official", num_clips=2)(n) == expected


def test_uniform_2_is_not_twice_sample():
    # TSM / MMAction2 twice_sample: centres int(tick/2 + tick k), then starts int(tick k).
    twice = SegmentSampler(4, mode="test", num_clips=2, twice_sample=True)(30)
    assert twice == [[3, 11, 18, 26], [0, 7, 15, 22]]
    assert twice != SegmentSampler(4, mode="test", num_clips=2)(30)


def test_official_uniform_3_test_by_hand():
    # tick 10: linspace(0, 9, 3) = 0, 4.5, 9 -> starts 0, 4, 9
    clips = SegmentSampler(8, mode="test", num_clips=3)(80)
    assert [c[0] for c in clips] == [0, 4, 9]
    assert clips[1] == [4 + 10 * k for k in range(8)]


@pytest.mark.parametrize("mode", ["val", "test"])
def test_spread_segment_centres_and_short_videos(mode):
    assert SegmentSampler(4, mode=mode, rule="spread")(30) == [[3, 11, 18, 26]]
    assert SegmentSampler(8, mode=mode, rule="spread")(8) == [list(range(8))]
    assert SegmentSampler(8, mode=mode, rule="spread", short_policy="loop")(3) == [[0, 1, 2, 0, 1, 2, 0, 1]]
    assert SegmentSampler(8, mode=mode, rule="spread", short_policy="repeat_last")(3) == [[0, 1, 2, 2, 2, 2, 2, 2]]


# ------------------------------------------------------------------ dense sampling


def test_official_dense_training_start_range_by_hand():
    # n=70, window 64: sample_pos = max(1, 1 + 70 - 64) = 7; start = randint(0, 6) -> 0..5 (6 excluded)
    sampler = DenseSampler(8, interval=8, mode="train", rule="official")
    rng = np.random.default_rng(5)
    starts = set()
    for _ in range(400):
        (clip,) = sampler(70, rng)
        assert clip == [clip[0] + 8 * k for k in range(8)]
        starts.add(clip[0])
    assert starts == set(range(0, 6))
    # sample_pos 1 (n <= 64) and 2 (n = 65): start is always 0
    assert {sampler(65, rng)[0][0] for _ in range(50)} == {0}


def test_spread_dense_training_start_range():
    sampler = DenseSampler(8, interval=8, mode="train", rule="spread")
    rng = np.random.default_rng(5)
    assert {sampler(70, rng)[0][0] for _ in range(400)} == set(range(0, 7))  # 0..n-window inclusive


@pytest.mark.parametrize("n,start", [
    (300, 118),  # sample_pos 237 -> 237 // 2
    (101, 19),  # sample_pos 38 -> 19
    (70, 3),  # sample_pos 7 -> 3
    (64, 0),  # sample_pos 1 -> 0
])
@pytest.mark.parametrize("mode", ["val", "test"])
def test_official_dense_one_clip_is_the_middle_window(n, start, mode):
    assert DenseSampler(8, interval=8, mode=mode)(n) == [[start + 8 * k for k in range(8)]]


def test_spread_dense_one_clip_is_the_centred_window():
    assert DenseSampler(8, interval=8, mode="test", rule="spread")(101) == [[18 + 8 * k for k in range(8)]]


def test_official_dense_10_by_hand():
    # n=300: sample_pos - 1 = 236; linspace(0, 236, 10) truncated
    clips = DenseSampler(8, interval=8, num_clips=10, mode="test")(300)
    assert [c[0] for c in clips] == [0, 26, 52, 78, 104, 131, 157, 183, 209, 236]
    assert clips[3] == [78 + 8 * k for k in range(8)]


def test_dense_short_video():
    # n=40 < 64: official start 0, (8 k) % 40 wraps; spread loops or clamps.
    assert DenseSampler(8, 8, mode="test")(40) == [[0, 8, 16, 24, 32, 0, 8, 16]]
    assert DenseSampler(8, 8, mode="test", rule="spread", short_policy="loop")(40) == [[0, 8, 16, 24, 32, 0, 8, 16]]
    assert DenseSampler(8, 8, mode="test", rule="spread", short_policy="repeat_last")(40) == [[0, 8, 16, 24, 32, 39, 39, 39]]
    # dense-2 at n=66: sample_pos 3, starts linspace(0, 2, 2) = 0, 2
    assert DenseSampler(8, 8, mode="test", num_clips=2)(66) == [[8 * k for k in range(8)], [2 + 8 * k for k in range(8)]]


def test_deterministic_given_seed():
    for sampler in (SegmentSampler(8), SegmentSampler(8, rule="spread"), DenseSampler(8, 4)):
        a = sampler(100, np.random.default_rng(123))
        assert a == sampler(100, np.random.default_rng(123))


def test_fit_short_and_validation():
    assert fit_short([0, 5, 9], 4, "loop") == [0, 1, 1]
    assert fit_short([0, 5, 9], 4, "repeat_last") == [0, 3, 3]
    with pytest.raises(ValueError):
        SegmentSampler(8, short_policy="bounce")
    with pytest.raises(ValueError, match="rule"):
        SegmentSampler(8, rule="tsm")
    with pytest.raises(ValueError, match="mode"):
        DenseSampler(8, mode="eval")
    with pytest.raises(ValueError, match="one clip"):
        SegmentSampler(8, mode="val", num_clips=2)
    with pytest.raises(ValueError, match="twice_sample"):
        SegmentSampler(8, mode="test", twice_sample=True)
    with pytest.raises(ValueError):
        SegmentSampler(8, mode="test")(0)
    with pytest.raises(ValueError, match="Generator"):
        SegmentSampler(8, mode="train")(100)
