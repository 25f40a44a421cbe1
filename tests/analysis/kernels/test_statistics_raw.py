"""The raw-value kernel statistics behind the supplementary's observations, by hand."""
import numpy as np
import pytest

from tanet.analysis.kernels.statistics import kernel_claim_values, kernel_spread


def test_kernel_spread_is_the_mean_per_tap_std():
    # tap 0 values 0, 2 (std 1); tap 1 values 1, 1 (std 0) -> mean 0.5
    assert kernel_spread(np.array([[0.0, 1.0], [2.0, 1.0]])) == pytest.approx(0.5)
    # (out, in, K) raw kernels pool their channel pairs per tap
    assert kernel_spread(np.array([[[0.0, 1.0]], [[2.0, 1.0]]])) == pytest.approx(0.5)


def test_kernel_claim_values_pick_the_compared_statistics():
    summary = {"blocks": {"layer4.1": {
        "datasets": {"motion": {"theta_smoothness": 0.3, "importance_smoothness": 0.1, "theta_spread": 0.2,
                                "i3d_raw_spread": 0.05, "importance_video_variance": 0.01,
                                "importance_view_variance": 0.001}},
        "comparisons": [{"datasets": ["motion", "appearance"], "theta_ks": 0.4, "i3d_raw_ks": 0.1}]}}}
    values = kernel_claim_values(summary)
    assert values[("V is smoother than Θ (mean |neighbour difference|, lower = smoother)", "layer4.1", "motion")] \
        == (0.3, 0.1)
    assert values[("the I3D 3×1×1 kernels are narrower than Θ (raw values, std per tap)", "layer4.1", "motion")] \
        == (0.2, 0.05)
    # the variance ratio is compared on a log10 scale: log10(0.01) - log10(0.001) = 1
    first, second = values[("V varies across videos more than the per-video null (log10 variance ratio)", "layer4.1",
                            "motion")]
    assert (first, second) == pytest.approx((-2.0, -3.0))
    key = ("Θ differs between the two sets more than the I3D kernels do (KS distance per tap)", "layer4.1",
           "motion vs appearance")
    assert values[key] == (0.4, 0.1)
    # a statistic that was not measured (no I3D checkpoint) gives no claim value
    del summary["blocks"]["layer4.1"]["datasets"]["motion"]["i3d_raw_spread"]
    assert not any("narrower" in name for name, _, _ in kernel_claim_values(summary))
