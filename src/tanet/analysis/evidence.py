"""Evidence over seeds: per-cell mean ± std, paired differences with a 95 % t interval, and verdicts.

One run is not evidence. Every comparison the demo and the ablation make is run with several seeds;
a claim "A is better than B" is decided by the 95 % confidence interval of the paired (same seed)
difference A − B, ``mean ± t(0.975, n−1) · sd / √n``:

* **held**: the interval lies entirely on the claimed side of 0;
* **not shown**: it contains 0 (or there are fewer than two seeds);
* **did not hold**: it lies entirely on the other side.

How fragile a verdict is: :func:`seeds_to_decide` is the number of seeds at which an interval with the
measured mean and spread would just exclude the claim's threshold. A verdict reached with about as many
seeds as the run had may come out otherwise on the next seeds or the next machine; a "not shown" that
needs 40 seeds is one the run was not sized to decide.

numpy only (no scipy): Student's t quantiles come from a table for 1..30 degrees of freedom and a
Cornish–Fisher expansion beyond (error < 1e-3 there).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal, Optional, Sequence

import numpy as np

__all__ = ["T975", "t_quantile_975", "CellStats", "Interval", "Claim", "HELD", "NOT_SHOWN", "DID_NOT_HOLD",
           "SEEDS_TO_DECIDE_NOTE", "summarize", "paired_difference", "verdict", "seeds_to_decide", "claim"]

HELD, NOT_SHOWN, DID_NOT_HOLD = "held", "not shown", "did not hold"
# what the "seeds to decide" column means, under every table that has one (the demo's report, the ablation's)
SEEDS_TO_DECIDE_NOTE = ("Seeds to decide: how many seeds would put the interval on one side of the claim's threshold "
                        "if further seeds spread as these did; a verdict reached with about that many seeds may come "
                        "out otherwise on the next seeds or the next machine.")
Side = Literal["greater", "less"]

# t(0.975, df) for df = 1..30 (standard two-sided 95 % table)
T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
        2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
        2.045, 2.042)
_Z975 = 1.959963984540054


def t_quantile_975(df: int) -> float:
    """The 0.975 quantile of Student's t with ``df`` degrees of freedom."""
    if df < 1:
        raise ValueError(f"degrees of freedom must be >= 1, got {df}")
    if df <= len(T975):
        return T975[df - 1]
    z = _Z975
    return (z + (z ** 3 + z) / (4 * df) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * df ** 2)
            + (3 * z ** 7 + 19 * z ** 5 + 17 * z ** 3 - 15 * z) / (384 * df ** 3))


@dataclass(frozen=True)
class CellStats:
    """One cell (a model on a set, an ablation row) over seeds."""

    mean: float
    std: Optional[float]  # sample standard deviation (ddof=1); None for one seed
    values: tuple  # per seed, in seed order

    @property
    def n(self) -> int:
        return len(self.values)

    def text(self, digits: int = 1) -> str:
        spread = "" if self.std is None else f" ± {self.std:.{digits}f}"
        return f"{self.mean:.{digits}f}{spread}"


@dataclass(frozen=True)
class Interval:
    """The mean of paired differences and its 95 % t interval (None bounds for fewer than 2 pairs)."""

    mean: float
    low: Optional[float]
    high: Optional[float]
    differences: tuple

    @property
    def n(self) -> int:
        return len(self.differences)

    @property
    def half_width(self) -> Optional[float]:
        """Half the interval's width, ``t(0.975, n−1) · sd / √n``: how far the true mean may lie from the
        measured one (None for fewer than 2 pairs)."""
        return None if self.low is None else (self.high - self.low) / 2

    def as_list(self) -> Optional[list]:
        return None if self.low is None else [round(self.low, 3), round(self.high, 3)]

    def text(self, digits: Optional[int] = None) -> str:
        if digits is None:  # points of accuracy: 1 decimal; small statistics (kernels): 4
            digits = 1 if max(abs(v) for v in (self.mean, self.low or 0.0, self.high or 0.0)) >= 1 else 4
        if self.low is None:
            return f"{self.mean:+.{digits}f} (one seed: no interval)"
        return (f"{self.mean:+.{digits}f} ± {self.half_width:.{digits}f} "
                f"[{self.low:+.{digits}f}, {self.high:+.{digits}f}]")


@dataclass
class Claim:
    """A claim, its verdict and the interval that decided it (what ``metrics.json`` lists)."""

    name: str
    verdict: str
    interval: Interval
    detail: str = ""
    side: str = "greater"
    extra: dict = field(default_factory=dict)
    # seeds that would decide it at the measured mean and spread (:func:`seeds_to_decide`; None: unknown or > 1000)
    seeds_needed: Optional[int] = None

    def to_dict(self) -> dict:
        half = self.interval.half_width
        return {"name": self.name, "verdict": self.verdict, "interval": self.interval.as_list(),
                "mean_difference": round(self.interval.mean, 3),
                "half_width": None if half is None else round(half, 3),
                "differences": [round(d, 3) for d in self.interval.differences],
                "claimed_side": self.side, "seeds_to_decide": self.seeds_needed, "detail": self.detail, **self.extra}

    def seeds_text(self) -> str:
        """The ``seeds to decide`` column of the reports: ``"3"``, ``"more than 1000"`` or ``"one seed: unknown"``."""
        if self.interval.n < 2:
            return "one seed: unknown"
        return "more than 1000" if self.seeds_needed is None else str(self.seeds_needed)

    def line(self) -> str:
        return (f"[{self.verdict}] {self.name}: {self.interval.text()}; seeds to decide: {self.seeds_text()}"
                + (f" ({self.detail})" if self.detail else ""))


def summarize(values: Sequence[float]) -> CellStats:
    """Mean, sample std (ddof=1) and the values of one cell."""
    array = np.asarray(list(values), dtype=np.float64)
    if array.size == 0:
        raise ValueError("summarize needs at least one value")
    std = float(array.std(ddof=1)) if array.size > 1 else None
    return CellStats(float(array.mean()), std, tuple(float(v) for v in array))


def paired_difference(a: Sequence[float], b: Sequence[float]) -> Interval:
    """95 % t interval of the mean of ``a[i] − b[i]`` (pairs share a seed)."""
    if len(a) != len(b):
        raise ValueError(f"paired values need the same seeds: {len(a)} vs {len(b)} values")
    differences = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    if differences.size == 0:
        raise ValueError("paired_difference needs at least one pair")
    mean = float(differences.mean())
    if differences.size < 2:
        return Interval(mean, None, None, tuple(float(d) for d in differences))
    half = t_quantile_975(differences.size - 1) * float(differences.std(ddof=1)) / math.sqrt(differences.size)
    return Interval(mean, mean - half, mean + half, tuple(float(d) for d in differences))


def verdict(interval: Interval, side: Side = "greater") -> str:
    """``held`` / ``not shown`` / ``did not hold`` for the claim "the difference is > 0" (``side="greater"``)
    or "< 0" (``"less"``)."""
    if side not in ("greater", "less"):
        raise ValueError(f"side must be 'greater' or 'less', got {side!r}")
    if interval.low is None:
        return NOT_SHOWN
    low, high = (interval.low, interval.high) if side == "greater" else (-interval.high, -interval.low)
    if low > 0:
        return HELD
    if high < 0:
        return DID_NOT_HOLD
    return NOT_SHOWN


def seeds_to_decide(interval: Interval, threshold: float = 0.0, limit: int = 1000) -> Optional[int]:
    """The smallest number of seeds n >= 2 for which ``t(0.975, n−1) · sd / √n < |mean − threshold|``, with
    this interval's mean and sample sd of the differences: how many seeds would decide the claim if further
    seeds spread as these did. None when it cannot be said (fewer than 2 differences, the mean on the
    threshold) or when it would take more than ``limit``."""
    if interval.n < 2:
        return None
    distance = abs(interval.mean - threshold)
    sd = float(np.std(np.asarray(interval.differences, dtype=np.float64), ddof=1))
    if sd == 0.0:
        return 2 if distance > 0 else None
    if distance == 0.0:
        return None
    # t(0.975, n-1) > 1.96, so n must exceed (1.96 sd / distance)^2; step up from there
    n = max(2, int((_Z975 * sd / distance) ** 2))
    while n <= limit:
        if t_quantile_975(n - 1) * sd / math.sqrt(n) < distance:
            return n
        n += 1
    return None


def claim(name: str, a: Sequence[float], b: Sequence[float], *, side: Side = "greater", margin: float = 0.0,
          detail: str = "", **extra) -> Claim:
    """The claim ``name``: ``a − b`` (paired by seed) is above ``margin`` (``side="greater"``) or below
    ``-margin`` (``"less"``), decided by the interval of ``a − b``."""
    interval = paired_difference(a, b)
    shift = margin if side == "greater" else -margin
    shifted = Interval(interval.mean - shift, None if interval.low is None else interval.low - shift,
                       None if interval.high is None else interval.high - shift, interval.differences)
    extra = {"margin": margin, **extra} if margin else dict(extra)
    return Claim(name, verdict(shifted, side), interval, detail, side, extra, seeds_to_decide(interval, shift))
