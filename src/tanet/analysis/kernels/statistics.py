"""The numbers behind the supplementary's four observations on V, Θ and the I3D kernels (numpy only).

Each observation is a comparison "a > b" of two statistics of one block (on one data set, or between the
two data sets), decided over seeds by the demo (:data:`KERNEL_CLAIMS`, :func:`kernel_claim_values`):

1. **V is smoother than Θ**: ``theta_smoothness`` > ``importance_smoothness``, each the mean |difference|
   between neighbours along time (V: adjacent frames; Θ: adjacent taps). Lower = smoother.
2. **V pays different attention to each video**: V's temporal profile varies across videos
   (``importance_video_variance``) more than between two views of one video (``importance_view_variance``,
   the per-video null). See :func:`video_variation`: the null is what the variance across videos would be
   if V did not depend on the video, only on how the video is cropped. Compared as log10 of each.
3. **The I3D 3×1×1 kernels are narrower than Θ**: ``theta_spread`` > ``i3d_raw_spread``, the standard deviation
   per tap of the raw values (Θ over videos and channels; I3D over its (output, input) channel pairs), the
   quantity the paper's histograms show. Lower = narrower.
4. **Θ differs between the two sets more than the I3D kernels do**: ``theta_ks`` > ``i3d_raw_ks``, the
   two-sample Kolmogorov–Smirnov distance per tap between the sets' values (mean over taps). KS is
   scale-free: a narrow distribution is not "similar" merely because it fits in a few histogram bins
   (the Jensen–Shannon divergences on fixed bins, ``theta_js`` / ``i3d_raw_js``, are kept beside it).
"""
from __future__ import annotations

import math
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
    "ks_distance",
    "video_variation",
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
    # V of two other views of each video (crops at both ends of the frame), (videos, 2, C, T): the null of
    # observation 2
    importance_map_views: Optional[np.ndarray] = None


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


def ks_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov–Smirnov distance: the largest gap between the two empirical CDFs, in [0, 1]
    (0 = same distribution of values, 1 = disjoint). Unchanged by any increasing map applied to both samples,
    so it does not depend on the values' scale."""
    a, b = np.sort(np.ravel(a).astype(np.float64)), np.sort(np.ravel(b).astype(np.float64))
    if a.size == 0 or b.size == 0:
        raise ValueError("ks_distance needs two non-empty samples")
    points = np.concatenate([a, b])
    cdf_a = np.searchsorted(a, points, side="right") / a.size
    cdf_b = np.searchsorted(b, points, side="right") / b.size
    return float(np.abs(cdf_a - cdf_b).max())


def video_variation(importance_map: np.ndarray, views: np.ndarray) -> tuple[float, float]:
    """How much V's temporal profile depends on the video: ``(across videos, between two views of one video)``.

    ``importance_map`` (videos, C, T): V of each video's centre crop; ``views`` (videos, 2, C, T): V of two
    other crops of the same frames. Each profile is centred on its own mean over frames, so only the shape
    of the attention over time counts, not its level. Across videos: the variance over videos of the centred
    profile (ddof 1), averaged over channels and frames. The per-video null: the same variance if V depended
    only on the crop, not on the video, estimated from two views a, b of one video as mean((a − b)² / 2).
    The two views lie further apart (both ends of the frame) than either from the centre crop, so the null
    errs on the large side.
    """
    if importance_map.shape[0] < 2:
        raise ValueError("video_variation needs at least two videos")
    if views.shape[1] != 2 or views.shape[0] != importance_map.shape[0] or views.shape[2:] != importance_map.shape[1:]:
        raise ValueError(f"views of shape {views.shape} do not pair with V of shape {importance_map.shape}")
    centred = importance_map.astype(np.float64)
    centred = centred - centred.mean(axis=-1, keepdims=True)
    across = float(centred.var(axis=0, ddof=1).mean())
    pair = views.astype(np.float64)
    pair = pair - pair.mean(axis=-1, keepdims=True)
    within = float((0.5 * (pair[:, 0] - pair[:, 1]) ** 2).mean())
    return across, within


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


def _per_tap(a: np.ndarray, b: np.ndarray, distance) -> list[float]:
    """a, b: (..., K) -> ``distance`` between the two samples of each tap's pooled values."""
    taps = a.shape[-1]
    if b.shape[-1] != taps:
        raise ValueError(f"cannot compare kernels with {taps} and {b.shape[-1]} taps")
    a, b = a.reshape(-1, taps), b.reshape(-1, taps)
    return [distance(a[:, k], b[:, k]) for k in range(taps)]


def _per_tap_js(a: np.ndarray, b: np.ndarray, value_range: tuple[float, float]) -> list[float]:
    """a, b: (..., K) -> JS divergence of each tap's pooled values."""
    return _per_tap(a, b, lambda x, y: js_divergence(x, y, value_range))


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
    if kernels.importance_map_views is not None and V.shape[0] >= 2:
        across, within = video_variation(V, kernels.importance_map_views)
        stats.update(importance_video_variance=across, importance_view_variance=within)
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
    comparison["theta_ks_per_tap"] = _per_tap(a.adaptive_kernel, b.adaptive_kernel, ks_distance)
    comparison["theta_ks"] = float(np.mean(comparison["theta_ks_per_tap"]))
    if a.static_kernel is not None and b.static_kernel is not None:
        comparison["i3d_raw_ks_per_tap"] = _per_tap(a.static_kernel, b.static_kernel, ks_distance)
        comparison["i3d_raw_ks"] = float(np.mean(comparison["i3d_raw_ks_per_tap"]))
    return comparison


# The supplementary's four observations as "a > b" per block: (name, where, statistic a, statistic b, scale).
# "set" statistics exist per data set, "pair" ones per pair of sets; scale "log" compares log10(a) − log10(b).
KERNEL_CLAIMS = (
    ("V is smoother than Θ (mean |neighbour difference|, lower = smoother)", "set", "theta_smoothness",
     "importance_smoothness", "linear"),
    ("V varies across videos more than the per-video null (log10 variance ratio)", "set",
     "importance_video_variance", "importance_view_variance", "log"),
    ("the I3D 3×1×1 kernels are narrower than Θ (raw values, std per tap)", "set", "theta_spread",
     "i3d_raw_spread", "linear"),
    ("Θ differs between the two sets more than the I3D kernels do (KS distance per tap)", "pair", "theta_ks",
     "i3d_raw_ks", "linear"),
)


def kernel_claim_values(summary: dict) -> dict:
    """``{(claim, block, where): (a, b)}`` from one :func:`~tanet.analysis.kernels.analyse_kernels` summary:
    the two statistics each observation compares (claim: a − b > 0; log10 taken for "log" claims), where = a
    data set or ``A vs B``."""
    def scaled(value: float, scale: str) -> float:
        return math.log10(value) if scale == "log" else float(value)

    values = {}
    for block, entry in summary.get("blocks", {}).items():
        for name, where, first, second, scale in KERNEL_CLAIMS:
            if where == "set":
                for dataset, stats in entry["datasets"].items():
                    if stats.get(first) is not None and stats.get(second) is not None:
                        values[(name, block, dataset)] = (scaled(stats[first], scale), scaled(stats[second], scale))
            else:
                for comparison in entry.get("comparisons", []):
                    if comparison.get(first) is not None and comparison.get(second) is not None:
                        pair = " vs ".join(comparison["datasets"])
                        values[(name, block, pair)] = (scaled(comparison[first], scale),
                                                       scaled(comparison[second], scale))
    return values


DESCRIPTION = {
    "importance_map": "V, the local branch's sigmoid importance map, per video and channel over the T frames",
    "theta": "Θ, the global branch's video-adaptive kernel (softmax over K taps), per video and channel",
    "i3d": (
        "the static temporal kernels of the I3D checkpoint's inflated conv in the same block, one per (output, "
        "input) channel pair and tap: the raw 3x1x1 weights (t x 3 x 3 convs of BasicBlock models: spatial taps "
        "summed); i3d_tap_* are L1-normalised per pair (|taps| sum to 1, signs kept), i3d_raw_* are raw"
    ),
    "importance_smoothness": "mean |V[t+1] - V[t]| over videos, channels and frames; lower = smoother",
    "theta_smoothness": "mean |Θ[k+1] - Θ[k]| over videos, channels and taps; lower = smoother",
    "importance_video_variance": (
        "variance across videos of V's centred temporal profile (V minus its mean over frames), centre crop, "
        "mean over channels and frames; higher = attention differs more between videos"
    ),
    "importance_view_variance": (
        "the per-video null: the same variance estimated between two crops (both ends of the frame) of each "
        "video, mean((a - b)^2 / 2); what importance_video_variance would be if V did not depend on the video"
    ),
    "theta_spread": "standard deviation of Θ's values per tap (over videos and channels), mean over taps; lower = narrower",
    "i3d_raw_spread": "the same for the raw I3D kernel values (over channel pairs); lower = narrower",
    "theta_ks": (
        "Kolmogorov-Smirnov distance (0 = same distribution, 1 = disjoint) between the two data sets' Θ values, "
        "per tap over all videos and channels, mean over taps; higher = the sets differ more"
    ),
    "i3d_raw_ks": "the same distance between the two data sets' raw I3D kernel values",
    "theta_js": (
        "Jensen-Shannon divergence (bits, 0 = same, 1 = disjoint) between the two data sets' Θ values, per "
        f"tap, histograms with bins of {BIN_WIDTH} on [0, 1], mean over taps"
    ),
    "i3d_js": f"the same divergence between the L1-normalised I3D kernels, bins of {BIN_WIDTH} on [-1, 1]",
    "i3d_raw_js": f"the same divergence between the raw I3D kernel values, bins of {BIN_WIDTH} on [-1, 1]",
    "observations": (
        "the supplementary's four observations, each 'a > b': V smoother than Θ (theta_smoothness > "
        "importance_smoothness); V varies across videos more than the per-video null (importance_video_variance "
        "> importance_view_variance); the I3D kernels narrower than Θ (theta_spread > i3d_raw_spread); Θ differs "
        "between the sets more than the I3D kernels (theta_ks > i3d_raw_ks)"
    ),
}
