"""Which frames of a video make a clip.

A sampler is a small strategy object: ``sampler(num_frames, rng) -> list[list[int]]``
returns one list of 0-based frame indices per clip (one clip for training, several views
for some test protocols). It is deterministic given the ``numpy.random.Generator``; test
mode ignores the generator.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

__all__ = ["ShortPolicy", "SegmentSampler", "DenseSampler", "fit_short"]

ShortPolicy = Literal["loop", "repeat_last"]


def fit_short(indices: list[int], num_frames: int, policy: ShortPolicy) -> list[int]:
    """Map indices past the end of a short video back inside it.

    ``"loop"`` plays the video again from the start (``i % num_frames``);
    ``"repeat_last"`` holds the last frame (``min(i, num_frames - 1)``).
    """
    if policy == "loop":
        return [i % num_frames for i in indices]
    if policy == "repeat_last":
        return [min(i, num_frames - 1) for i in indices]
    raise ValueError(f"short_policy must be 'loop' or 'repeat_last', got {policy!r}")


def _check(num_frames: int) -> None:
    if num_frames <= 0:
        raise ValueError(f"cannot sample from a video with {num_frames} frames")


@dataclass(frozen=True)
class SegmentSampler:
    """TSN segment sampling: split the video into ``num_segments`` equal segments.

    Segment ``k`` covers frames ``[floor(k*n/T), floor((k+1)*n/T))``. Training draws one
    frame uniformly inside each segment; testing takes each segment's centre
    ``floor((k + 0.5) * n / T)``. ``twice_sample`` (test) returns two clips: the centres
    and the segment starts ``floor(k * n / T)``. A video shorter than ``T`` frames is
    looped (``0,1,2,0,1,2,...``) or holds its last frame, by ``short_policy``.
    """

    num_segments: int
    train: bool = True
    twice_sample: bool = False
    short_policy: ShortPolicy = "loop"

    def __post_init__(self) -> None:
        if self.num_segments < 1:
            raise ValueError("num_segments must be >= 1")
        fit_short([0], 1, self.short_policy)  # validates the policy name

    @property
    def num_clips(self) -> int:
        return 2 if (self.twice_sample and not self.train) else 1

    def __call__(self, num_frames: int, rng: np.random.Generator | None = None) -> list[list[int]]:
        _check(num_frames)
        T = self.num_segments
        if num_frames < T:
            clip = fit_short(list(range(T)), num_frames, self.short_policy)
            return [clip] * self.num_clips
        bounds = [(k * num_frames) // T for k in range(T + 1)]
        if self.train:
            if rng is None:
                raise ValueError("training sampling needs a numpy Generator")
            return [[int(rng.integers(bounds[k], bounds[k + 1])) for k in range(T)]]
        centres = [int((k + 0.5) * num_frames / T) for k in range(T)]
        if self.twice_sample:
            return [centres, bounds[:-1]]
        return [centres]


@dataclass(frozen=True)
class DenseSampler:
    """I3D-style dense sampling (the official TAM Kinetics recipe).

    ``num_segments`` frames ``interval`` apart inside a window of
    ``num_segments * interval`` frames (64 for 8 x 8). Training puts the window at a
    uniformly random start in ``[0, n - window]``; testing uses ``num_clips`` windows
    with starts evenly spaced over ``[0, max(0, n - window)]`` (truncated to ints). Indices
    past the end of a short video are looped or clamped to the last frame (``short_policy``).
    """

    num_segments: int
    interval: int = 8
    num_clips: int = 1
    train: bool = True
    short_policy: ShortPolicy = "loop"

    def __post_init__(self) -> None:
        if self.num_segments < 1 or self.interval < 1 or self.num_clips < 1:
            raise ValueError("num_segments, interval and num_clips must be >= 1")
        fit_short([0], 1, self.short_policy)

    @property
    def window(self) -> int:
        return self.num_segments * self.interval

    def _clip(self, start: int, num_frames: int) -> list[int]:
        indices = [start + k * self.interval for k in range(self.num_segments)]
        return fit_short(indices, num_frames, self.short_policy)

    def __call__(self, num_frames: int, rng: np.random.Generator | None = None) -> list[list[int]]:
        _check(num_frames)
        last_start = max(0, num_frames - self.window)
        if self.train:
            if rng is None:
                raise ValueError("training sampling needs a numpy Generator")
            starts = [int(rng.integers(0, last_start + 1)) for _ in range(self.num_clips)]
        else:
            starts = [int(s) for s in np.linspace(0, last_start, num=self.num_clips)]
        return [self._clip(s, num_frames) for s in starts]
