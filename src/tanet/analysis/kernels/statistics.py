"""The numbers behind the paper's observations on V, Θ and the I3D kernels (numpy only)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

__all__ = [
    "BIN_WIDTH",
    "THETA_RANGE",
    "STATIC_RANGE",
    "DESCRIPTION",
    "BlockKernels",
    "normalise_static_kernels",
    "temporal_smoothness",
    "js_divergence",
    "kernel_spread",
    "KERNEL_CLAIMS",
    "kernel_claim_values",
]

# Θ lives in [0, 1] (softmax); L1-normalised I3D kernels in [-1, 1]. Both get bins of the same width so
# that the two Jensen–Shannon divergences are measured at the same resolution.
BIN_WIDTH = 0.02
THETA_RANGE = (0.0, 1.0)
STATIC_RANGE = (-1.0, 1.0)


@dataclass
class BlockKernels:
    """What one block gave for one data set (numpy arrays, float32)."""

    importance_map: np.ndarray  # V, (videos, C, T)
    adaptive_kernel: np.ndarray  # Θ, (videos, C, K)
    static_kernel: Optional[np.ndarray] = None  # I3D, (out, in, K), spatial taps summed
    static_kernel_normalised: Optional[np.ndarray] = None  # (pairs, K), |taps| sum to 1


def normalise_static_kernels(kernels: np.ndarray) -> np.ndarray:
    """(out, in, K) -> (pairs, K), each (output, input) channel pair's taps divided by Σ|taps|.

    Θ is a softmax (its taps sum to 1), a raw conv weight has an arbitrary scale per pair; dividing by
    the L1 norm puts both on the same footing (|taps| sum to 1) while keeping the signs. All-zero pairs
    are dropped.
    """
    flat = kernels.reshape(-1, kernels.shape[-1]).astype(np.float64)
    norms = np.abs(flat).sum(axis=1)
    keep = norms > 0
    return (flat[keep] / norms[keep, None]).astype(np.float32)


def temporal_smoothness(values: np.ndarray) -> float:
    """Mean |x[..., t+1] − x[..., t]| along the last axis (frames for V, taps for Θ)."""
    if values.shape[-1] < 2:
        return 0.0
    return float(np.abs(np.diff(values.astype(np.float64), axis=-1)).mean())


def kernel_spread(values: np.ndarray) -> float:
    """How wide a kernel's value distribution is: the standard deviation of each tap's values (over
    videos and channels, or channel pairs), averaged over the taps (last axis)."""
    flat = values.reshape(-1, values.shape[-1]).astype(np.float64)
    return float(flat.std(axis=0).mean())


def _histogram(values: np.ndarray, value_range: tuple[float, float]) -> np.ndarray:
    bins = int(round((value_range[1] - value_range[0]) / BIN_WIDTH))
    counts, _ = np.histogram(np.clip(values, *value_range), bins=bins, range=value_range)
    return counts.astype(np.float64)


def js_divergence(a: np.ndarray, b: np.ndarray, value_range: tuple[float, float]) -> float:
    """Jensen–Shannon divergence (bits, in [0, 1]) between the histograms of two samples.

    Both samples are binned on the same fixed grid over ``value_range`` (bin width :data:`BIN_WIDTH`).
    """
    p, q = _histogram(np.ravel(a), value_range), _histogram(np.ravel(b), value_range)
    if p.sum() == 0 or q.sum() == 0:
        raise ValueError("js_divergence needs two non-empty samples")
    p, q = p / p.sum(), q / q.sum()
    m = 0.5 * (p + q)

    def kl(x: np.ndarray) -> float:
        mask = x > 0
        return float(np.sum(x[mask] * np.log2(x[mask] / m[mask])))

    return float(min(max(0.5 * kl(p) + 0.5 * kl(q), 0.0), 1.0))


def _per_tap_js(a: np.ndarray, b: np.ndarray, value_range: tuple[float, float]) -> list[float]:
    """a, b: (..., K) -> JS divergence of each tap's pooled values."""
    taps = a.shape[-1]
    if b.shape[-1] != taps:
        raise ValueError(f"cannot compare kernels with {taps} and {b.shape[-1]} taps")
    a, b = a.reshape(-1, taps), b.reshape(-1, taps)
    return [js_divergence(a[:, k], b[:, k], value_range) for k in range(taps)]


def _block_stats(kernels: BlockKernels) -> dict:
    V, theta = kernels.importance_map, kernels.adaptive_kernel
    stats = {
        "num_videos": int(V.shape[0]),
        "channels": int(V.shape[1]),
        "num_segments": int(V.shape[2]),
        "kernel_size": int(theta.shape[2]),
        "importance_frame_mean": V.mean(axis=(0, 1)).tolist(),
        "importance_frame_std": V.std(axis=(0, 1)).tolist(),
        "theta_tap_mean": theta.mean(axis=(0, 1)).tolist(),
        "theta_tap_std": theta.std(axis=(0, 1)).tolist(),
        "importance_smoothness": temporal_smoothness(V),
        "theta_smoothness": temporal_smoothness(theta),
        "theta_spread": kernel_spread(theta),
    }
    stats["importance_smoother_than_theta"] = stats["importance_smoothness"] < stats["theta_smoothness"]
    if kernels.static_kernel_normalised is not None:
        normalised = kernels.static_kernel_normalised
        stats.update(
            i3d_tap_mean=normalised.mean(axis=0).tolist(),
            i3d_tap_std=normalised.std(axis=0).tolist(),
            i3d_raw_tap_mean=kernels.static_kernel.mean(axis=(0, 1)).tolist(),
            i3d_raw_tap_std=kernels.static_kernel.std(axis=(0, 1)).tolist(),
            i3d_smoothness=temporal_smoothness(normalised),
            i3d_raw_spread=kernel_spread(kernels.static_kernel),
        )
    return stats


def _block_comparison(a: BlockKernels, b: BlockKernels) -> dict:
    """How far apart two data sets' Θ (and I3D kernels, when both have them) are, per tap and on average."""
    theta_js = _per_tap_js(a.adaptive_kernel, b.adaptive_kernel, THETA_RANGE)
    comparison = {"theta_js_per_tap": theta_js, "theta_js": float(np.mean(theta_js)),
                  "i3d_js_per_tap": None, "i3d_js": None}
    if a.static_kernel_normalised is not None and b.static_kernel_normalised is not None:
        i3d_js = _per_tap_js(a.static_kernel_normalised, b.static_kernel_normalised, STATIC_RANGE)
        comparison.update(i3d_js_per_tap=i3d_js, i3d_js=float(np.mean(i3d_js)))
        # raw values on the same grid as Θ (bins of BIN_WIDTH; Θ's [0, 1] lies inside [-1, 1])
        raw_js = _per_tap_js(a.static_kernel, b.static_kernel, STATIC_RANGE)
        comparison.update(i3d_raw_js_per_tap=raw_js, i3d_raw_js=float(np.mean(raw_js)))
    return comparison


# The supplementary's three observations as differences that should be > 0, per block:
# (name, where, statistic A, statistic B); "set" statistics exist per data set, "pair" ones per pair of sets.
KERNEL_CLAIMS = (
    ("V is smoother over time than Θ", "set", "theta_smoothness", "importance_smoothness"),
    ("Θ differs between the two sets more than the I3D kernels do (raw values, Θ's bins)", "pair", "theta_js",
     "i3d_raw_js"),
    ("the I3D kernels are narrower than Θ (raw values, std per tap)", "set", "theta_spread", "i3d_raw_spread"),
)


def kernel_claim_values(summary: dict) -> dict:
    """``{(claim, block, where): (a, b)}`` from one :func:`~tanet.analysis.kernels.analyse_kernels` summary:
    the two statistics each observation compares (claim: a − b > 0), where = a data set or ``A vs B``."""
    values = {}
    for block, entry in summary.get("blocks", {}).items():
        for name, where, first, second in KERNEL_CLAIMS:
            if where == "set":
                for dataset, stats in entry["datasets"].items():
                    if first in stats and second in stats:
                        values[(name, block, dataset)] = (float(stats[first]), float(stats[second]))
            else:
                for comparison in entry.get("comparisons", []):
                    if comparison.get(second) is not None:
                        pair = " vs ".join(comparison["datasets"])
                        values[(name, block, pair)] = (float(comparison[first]), float(comparison[second]))
    return values


DESCRIPTION = {
    "importance_map": "V, the local branch's sigmoid importance map, per video and channel over the T frames",
    "theta": "Θ, the global branch's video-adaptive kernel (softmax over K taps), per video and channel",
    "i3d": (
        "the static temporal kernels of the I3D 3x1x1 checkpoint's inflated conv in the same block, one per "
        "(output, input) channel pair and tap (t x 3 x 3 convs: spatial taps summed); each pair is divided by "
        "the sum of its |taps| (L1 normalisation) so that, like Θ, the magnitudes of its taps sum to 1 (signs kept); raw statistics "
        "are given as i3d_raw_*"
    ),
    "importance_smoothness": "mean |V[t+1] - V[t]| over videos, channels and frames",
    "theta_smoothness": "mean |Θ[k+1] - Θ[k]| over videos, channels and taps",
    "theta_js": (
        "Jensen-Shannon divergence (bits, 0 = same, 1 = disjoint) between the two data sets' Θ values, per "
        f"tap over all videos and channels, histograms with bins of {BIN_WIDTH} on [0, 1]; theta_js is the mean over taps"
    ),
    "i3d_js": (
        "the same divergence between the two data sets' L1-normalised I3D kernels, per tap over all channel "
        f"pairs, bins of {BIN_WIDTH} on [-1, 1] (same bin width as for Θ)"
    ),
    "theta_spread": "standard deviation of Θ's values per tap (over videos and channels), mean over taps",
    "i3d_raw_spread": "the same for the raw I3D kernel values (over channel pairs): on Θ's axis, not normalised",
    "i3d_raw_js": f"the divergence between the two data sets' raw I3D kernel values, bins of {BIN_WIDTH} on [-1, 1]",
    "observations": (
        "the paper's three observations: V is smoother than Θ (importance_smoothness < theta_smoothness); the "
        "I3D kernels are narrowly distributed (small i3d_tap_std); Θ differs between data sets more than the I3D "
        "kernels do (theta_js > i3d_js)"
    ),
}
