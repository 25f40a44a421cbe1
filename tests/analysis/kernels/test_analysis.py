"""The whole study on two data sets: figures, kernels.json and kernels.npz agree with the raw arrays."""
from __future__ import annotations

import json

import numpy as np
import pytest

from tanet.analysis.kernels.analysis import KernelDataset, analyse_kernels
from tanet.analysis.kernels.statistics import js_divergence, kernel_spread, ks_distance, video_variation

from ..conftest import SEGMENTS


def test_two_datasets_write_figures_json_npz(tiny_sets, tiny_checkpoints, tmp_path):
    datasets = [
        KernelDataset("motion", tiny_checkpoints["tanet_a"], tiny_sets["motion"].val_list, tiny_sets["motion"].root,
                      tiny_checkpoints["i3d_a"]),
        KernelDataset("appearance", tiny_checkpoints["tanet_b"], tiny_sets["appearance"].val_list,
                      tiny_sets["appearance"].root, tiny_checkpoints["i3d_b"]),
    ]
    analyse_kernels(datasets, ["layer4.1"], tmp_path, progress=False)
    for suffix in ("png", "svg"):
        assert (tmp_path / f"kernels_layer4.1.{suffix}").stat().st_size > 1000
    from matplotlib.image import imread

    assert imread(tmp_path / "kernels_layer4.1.png").ndim == 3
    summary = json.loads((tmp_path / "kernels.json").read_text())
    raw = np.load(tmp_path / "kernels.npz")
    entry = summary["blocks"]["layer4.1"]
    assert entry["paper_name"] == "stage5_2b"
    for name in ("motion", "appearance"):
        stats = entry["datasets"][name]
        theta = raw[f"{name}/layer4.1/adaptive_kernel"]
        importance = raw[f"{name}/layer4.1/importance_map"]
        assert theta.shape[0] == 4 and theta.shape[2] == 3
        np.testing.assert_allclose(stats["theta_tap_mean"], theta.mean(axis=(0, 1)), rtol=1e-5)
        smooth_v = np.mean([abs(importance[n, c, t + 1] - importance[n, c, t]) for n in range(4)
                            for c in range(importance.shape[1]) for t in range(SEGMENTS - 1)])
        assert stats["importance_smoothness"] == pytest.approx(smooth_v, rel=1e-5)
        assert stats["importance_smoother_than_theta"] == (stats["importance_smoothness"] < stats["theta_smoothness"])
        normalised = raw[f"{name}/layer4.1/i3d_kernel_normalised"]
        np.testing.assert_allclose(np.abs(normalised).sum(axis=1), 1.0, rtol=1e-5)
        np.testing.assert_allclose(stats["i3d_tap_std"], normalised.std(axis=0), rtol=1e-4)
        # the four observations' statistics are those of the saved arrays
        views = raw[f"{name}/layer4.1/importance_map_views"]
        assert views.shape == (4, 2, *importance.shape[1:])
        assert (stats["importance_video_variance"], stats["importance_view_variance"]) == pytest.approx(
            video_variation(importance, views))
        assert stats["theta_spread"] == pytest.approx(kernel_spread(theta))
        assert stats["i3d_raw_spread"] == pytest.approx(kernel_spread(raw[f"{name}/layer4.1/i3d_kernel"]))
    (comparison,) = entry["comparisons"]
    assert comparison["datasets"] == ["motion", "appearance"]
    per_tap = [js_divergence(raw["motion/layer4.1/adaptive_kernel"][..., k],
                             raw["appearance/layer4.1/adaptive_kernel"][..., k], (0.0, 1.0)) for k in range(3)]
    assert comparison["theta_js"] == pytest.approx(np.mean(per_tap))
    assert 0.0 <= comparison["i3d_js"] <= 1.0
    ks = [ks_distance(raw["motion/layer4.1/i3d_kernel"][..., k], raw["appearance/layer4.1/i3d_kernel"][..., k])
          for k in range(3)]
    assert comparison["i3d_raw_ks"] == pytest.approx(np.mean(ks))
