"""Statistics: the Jensen–Shannon divergence and the L1 normalisation of the I3D kernels."""
from __future__ import annotations

import numpy as np
import pytest

from tanet.analysis.kernels.statistics import js_divergence, normalise_static_kernels


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
