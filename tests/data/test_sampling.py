"""Exact frame indices of the samplers, checked against hand computations."""
from __future__ import annotations

import numpy as np
import pytest

from tanet.data import DenseSampler, SegmentSampler, fit_short


def test_segment_test_centres_by_hand():
    # n=80, T=8: segments of 10 frames, centres at 5, 15, ..., 75.
    assert SegmentSampler(8, train=False)(80) == [[5, 15, 25, 35, 45, 55, 65, 75]]
    # n=30, T=4: segment length 7.5 -> centres floor(3.75), floor(11.25), floor(18.75), floor(26.25)
    assert SegmentSampler(4, train=False)(30) == [[3, 11, 18, 26]]


def test_twice_sample_centres_and_starts():
    clips = SegmentSampler(4, train=False, twice_sample=True)(30)
    assert clips == [[3, 11, 18, 26], [0, 7, 15, 22]]


def test_segment_train_one_frame_per_segment():
    sampler = SegmentSampler(4, train=True)
    # Segment bounds for n=30, T=4: [0,7) [7,15) [15,22) [22,30)
    bounds = [(0, 7), (7, 15), (15, 22), (22, 30)]
    seen = [set() for _ in bounds]
    rng = np.random.default_rng(0)
    for _ in range(400):
        (clip,) = sampler(30, rng)
        for k, (lo, hi) in enumerate(bounds):
            assert lo <= clip[k] < hi
            seen[k].add(clip[k])
    # Every frame of every segment is reachable.
    assert [len(s) for s in seen] == [7, 8, 7, 8]


def test_segment_train_deterministic_given_seed():
    sampler = SegmentSampler(8, train=True)
    a = sampler(100, np.random.default_rng(123))
    b = sampler(100, np.random.default_rng(123))
    c = sampler(100, np.random.default_rng(124))
    assert a == b and a != c
    # Same draw as doing it by hand with the same generator.
    rng = np.random.default_rng(123)
    expected = [int(rng.integers((k * 100) // 8, ((k + 1) * 100) // 8)) for k in range(8)]
    assert a == [expected]


@pytest.mark.parametrize("train", [True, False])
def test_short_video_policies(train):
    rng = np.random.default_rng(0)
    assert SegmentSampler(8, train=train, short_policy="loop")(3, rng) == [[0, 1, 2, 0, 1, 2, 0, 1]]
    assert SegmentSampler(8, train=train, short_policy="repeat_last")(3, rng) == [[0, 1, 2, 2, 2, 2, 2, 2]]
    # Exactly T frames: every frame once.
    assert SegmentSampler(8, train=train)(8, rng) == [list(range(8))]


def test_dense_test_windows_by_hand():
    # n=300, 8 x 8 -> window 64, last start 236; 10 starts = floor(linspace(0, 236, 10)).
    clips = DenseSampler(8, interval=8, num_clips=10, train=False)(300)
    starts = [0, 26, 52, 78, 104, 131, 157, 183, 209, 236]
    assert [c[0] for c in clips] == starts
    assert clips[3] == [78 + 8 * k for k in range(8)]
    assert DenseSampler(8, interval=8, num_clips=1, train=False)(300) == [[8 * k for k in range(8)]]


def test_dense_train_window_inside_video():
    sampler = DenseSampler(8, interval=8, train=True)
    rng = np.random.default_rng(5)
    starts = set()
    for _ in range(300):
        (clip,) = sampler(70, rng)
        assert np.all(np.diff(clip) == 8)
        assert 0 <= clip[0] <= 70 - 64 and clip[-1] < 70
        starts.add(clip[0])
    assert starts == set(range(0, 7))  # starts 0..6 all reachable


def test_dense_short_video():
    # 40 frames < window 64: start 0, indices 0,8,..,56 wrapped or clamped.
    assert DenseSampler(8, 8, train=False, short_policy="loop")(40) == [[0, 8, 16, 24, 32, 0, 8, 16]]
    assert DenseSampler(8, 8, train=False, short_policy="repeat_last")(40) == [[0, 8, 16, 24, 32, 39, 39, 39]]


def test_fit_short_and_validation():
    assert fit_short([0, 5, 9], 4, "loop") == [0, 1, 1]
    assert fit_short([0, 5, 9], 4, "repeat_last") == [0, 3, 3]
    with pytest.raises(ValueError):
        SegmentSampler(8, short_policy="bounce")
    with pytest.raises(ValueError):
        SegmentSampler(8, train=False)(0)
    with pytest.raises(ValueError, match="Generator"):
        SegmentSampler(8, train=True)(100)
