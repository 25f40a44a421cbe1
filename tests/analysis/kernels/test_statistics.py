"""Statistics: the Jensen–Shannon divergence and the L1 normalisation of the I3D kernels."""
from __future__ import annotations

import numpy as np
import pytest

from tanet.analysis.kernels.statistics import js_divergence, ks_distance, normalise_static_kernels, video_variation


def test_js_divergence_reference_values():
    rng = np.random.default_rng(0)
    a = rng.uniform(0, 1, 1000)
    assert js_divergence(a, a, (0.0, 1.0)) == 0.0
    assert js_divergence(np.full(50, 0.1), np.full(70, 0.9), (0.0, 1.0)) == pytest.approx(1.0)
    # p = [1, 0], q = [1/2, 1/2] on two bins: JS = ½ KL(p‖m) + ½ KL(q‖m) with m = [3/4, 1/4]
    p = np.full(8, 0.11)
    q = np.concatenate([np.full(4, 0.11), np.full(4, 0.71)])
    m = np.array([0.75, 0.25])
    expected = 0.5 * np.log2(1 / m[0]) + 0.5 * (0.5 * np.log2(0.5 / m[0]) + 0.5 * np.log2(0.5 / m[1]))
    assert js_divergence(p, q, (0.0, 1.0)) == pytest.approx(expected)


def test_normalise_static_kernels_drops_zero_pairs():
    kernels = np.array([[[0.0, 2.0, -2.0], [0.0, 0.0, 0.0]]])
    np.testing.assert_allclose(normalise_static_kernels(kernels), [[0.0, 0.5, -0.5]])


def test_ks_distance_by_hand():
    # CDFs of {1, 2, 3} and {2.5, 4}: at 3, 1 vs 1/2; at 2, 2/3 vs 0 -> largest gap 2/3
    assert ks_distance(np.array([1.0, 2.0, 3.0]), np.array([2.5, 4.0])) == pytest.approx(2 / 3)
    assert ks_distance(np.array([0.1, 0.2]), np.array([0.5, 0.6])) == 1.0
    rng = np.random.default_rng(0)
    a, b = rng.normal(0, 1, 500), rng.normal(0.5, 1, 500)
    # scale-free: the same affine map on both samples leaves it unchanged (a narrow distribution is not "closer")
    assert ks_distance(a, b) == pytest.approx(ks_distance(0.01 * a + 3, 0.01 * b + 3))
    assert ks_distance(a, a) == 0.0


def test_video_variation_by_hand():
    # two videos, one channel, two frames; centring removes each profile's level
    centre = np.array([[[0.2, 0.4]], [[0.6, 0.6]]])  # centred: [-0.1, 0.1], [0, 0]
    # across videos per frame: var([-0.1, 0], ddof=1) = 0.005 and var([0.1, 0]) = 0.005 -> 0.005
    views = np.array([[[[0.0, 0.2]], [[0.1, 0.3]]],  # centred: [-0.1, 0.1] both: no difference
                      [[[0.5, 0.7]], [[0.5, 0.5]]]])  # centred: [-0.1, 0.1] vs [0, 0]
    across, within = video_variation(centre, views)
    assert across == pytest.approx(0.005)
    # within: mean of (a - b)^2 / 2 over videos and frames: (0 + 0 + 0.01/2 + 0.01/2) / 4 = 0.0025
    assert within == pytest.approx(0.0025)
    with pytest.raises(ValueError):
        video_variation(centre[:1], views[:1])
