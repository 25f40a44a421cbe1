"""Which frames of a video make a clip.

A sampler is a small strategy object: ``sampler(num_frames, rng) -> list[list[int]]``
returns one list of 0-based frame indices per clip (one clip for training, several views
for some test protocols). It is deterministic given the ``numpy.random.Generator``; validation and
test modes ignore the generator.

Two rules (``rule``):

* ``"official"`` — the official TAM code's formulas, index for index (``ops/dataset.py`` of
  liu-zhy/temporal-adaptive-module, commit 5fcb46f; its indices are 1-based, ours 0-based). In
  training a video splits into T segments of ``n // T`` frames, so the last ``n mod T`` frames are
  never sampled (MMAction2's ``SampleFrames`` default, ``keep_tail_frames=False``, does the same);
  a video shorter than T frames repeats its first frame. Dense windows wrap around (``% n``).
* ``"spread"`` — segments ``[floor(k n / T), floor((k+1) n / T))`` cover the whole video, tail
  included (MMAction2's ``keep_tail_frames=True``); dense windows start anywhere in
  ``[0, n - window]``; a short video loops or holds its last frame (``short_policy``).

The shipped recipes use the official rule; the README says where the two differ.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

__all__ = ["ShortPolicy", "SamplingRule", "SampleMode", "SAMPLING_RULES", "SegmentSampler", "DenseSampler",
           "fit_short"]

ShortPolicy = Literal["loop", "repeat_last"]
SamplingRule = Literal["official", "spread"]
SampleMode = Literal["train", "val", "test"]
SAMPLING_RULES: tuple[str, ...] = ("official", "spread")
_MODES = ("train", "val", "test")


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


def _truncated_linspace(stop: float, num: int) -> list[int]:
    """``np.linspace(0, stop, num=num, dtype=int)`` as the official code's numpy computed it: the
    float values truncated toward zero (numpy >= 2 floors integer linspace, which differs for a
    negative ``stop``)."""
    return [int(value) for value in np.linspace(0, stop, num=num).tolist()]


def _validate(mode: str, rule: str, num_clips: int, short_policy: str) -> None:
    if mode not in _MODES:
        raise ValueError(f"mode must be one of {', '.join(_MODES)}, got {mode!r}")
    if rule not in SAMPLING_RULES:
        raise ValueError(f"rule must be one of {', '.join(SAMPLING_RULES)}, got {rule!r}")
    if num_clips < 1:
        raise ValueError("num_clips must be >= 1")
    if mode != "test" and num_clips != 1:
        raise ValueError(f"{mode} sampling takes one clip; several clips are a test protocol")
    fit_short([0], 1, short_policy)  # validates the policy name


@dataclass(frozen=True)
class SegmentSampler:
    """TSN segment sampling: one frame from each of ``num_segments`` segments of the video.

    ``mode="train"`` draws a frame inside each segment; ``"val"`` and ``"test"`` take each segment's
    centre (one clip) or, for ``num_clips`` N > 1 in test mode, the official ``uniform-N`` clips:
    the centres' grid shifted by N starts spread over the first segment. ``twice_sample`` (test,
    2 clips) is TSM's / MMAction2's other two-clip set instead: the centres, then the segment starts.

    Official rule (``ops/dataset.py``), n frames, T segments, ``tick = n / T``:

    * train (``_sample_indices``, lines 156-169): ``k * (n // T) + randint(n // T)``; n < T: all 0;
    * val (``_get_val_indices``, lines 171-193): n > T: ``int(tick / 2 + tick * k)``, else all 0
      (so at n == T validation takes the first frame T times, as the official code does);
    * test (``_get_test_indices``, lines 195-243): ``uniform-1``: ``int(tick / 2 + tick * k)`` for
      every n; ``uniform-N``: starts ``s`` = ``linspace(0, tick - 1, N)`` truncated, indices
      ``int(s + tick * k) % n``.

    Spread rule: segment k covers ``[floor(k n / T), floor((k+1) n / T))``; train draws inside it,
    val/test take ``floor((k + 0.5) n / T)``; ``uniform-N`` as above; a video shorter than T frames
    is ``0, 1, ..., T-1`` looped or clamped by ``short_policy``.
    """

    num_segments: int
    mode: SampleMode = "train"
    rule: SamplingRule = "official"
    num_clips: int = 1
    twice_sample: bool = False
    short_policy: ShortPolicy = "loop"

    def __post_init__(self) -> None:
        if self.num_segments < 1:
            raise ValueError("num_segments must be >= 1")
        _validate(self.mode, self.rule, self.num_clips, self.short_policy)
        if self.twice_sample and (self.mode != "test" or self.num_clips != 2):
            raise ValueError("twice_sample is a test protocol of exactly 2 clips (mode='test', num_clips=2)")

    @property
    def train(self) -> bool:
        return self.mode == "train"

    def __call__(self, num_frames: int, rng: np.random.Generator | None = None) -> list[list[int]]:
        _check(num_frames)
        if self.mode == "train" and rng is None:
            raise ValueError("training sampling needs a numpy Generator")
        n, T = num_frames, self.num_segments
        if self.rule == "spread" and n < T:
            return [fit_short(list(range(T)), n, self.short_policy)] * self.num_clips
        tick = n / T
        if self.mode == "train":
            if self.rule == "official":
                average_duration = n // T
                if average_duration == 0:
                    return [[0] * T]
                return [[k * average_duration + int(rng.integers(average_duration)) for k in range(T)]]
            bounds = [(k * n) // T for k in range(T + 1)]
            return [[int(rng.integers(bounds[k], bounds[k + 1])) for k in range(T)]]
        if self.mode == "val" and self.rule == "official" and n <= T:
            return [[0] * T]
        if self.twice_sample:  # TSM ops/dataset.py _get_test_indices (twice_sample)
            return [[int(tick / 2.0 + tick * k) for k in range(T)], [int(tick * k) for k in range(T)]]
        if self.num_clips == 1:
            return [[int(tick / 2.0 + tick * k) for k in range(T)]]
        starts = _truncated_linspace(tick - 1, self.num_clips)
        return [[int(start + tick * k) % n for k in range(T)] for start in starts]


@dataclass(frozen=True)
class DenseSampler:
    """I3D-style dense sampling (the official TAM Kinetics recipe).

    ``num_segments`` frames ``interval`` apart in a window of ``num_segments * interval`` frames
    (64 for 8 x 8). Official rule (``ops/dataset.py``), with ``sample_pos = max(1, 1 + n - window)``
    and indices ``(start + k * interval) % n``:

    * train (lines 146-155): ``start = randint(0, sample_pos - 1)`` (numpy's upper bound is
      exclusive, so the last possible start ``n - window`` is never drawn), 0 when sample_pos is 1;
    * val and 1-clip test (lines 171-243): the middle window, ``start = sample_pos // 2``;
    * N-clip test (``dense-N``): starts ``linspace(0, sample_pos - 1, N)`` truncated.

    Spread rule: train starts anywhere in ``[0, n - window]``, one clip is the centred window
    ``(n - window) // 2``, N clips start at ``linspace(0, n - window, N)``; indices past the end of a
    short video loop or hold the last frame (``short_policy``).
    """

    num_segments: int
    interval: int = 8
    num_clips: int = 1
    mode: SampleMode = "train"
    rule: SamplingRule = "official"
    short_policy: ShortPolicy = "loop"

    def __post_init__(self) -> None:
        if self.num_segments < 1 or self.interval < 1:
            raise ValueError("num_segments and interval must be >= 1")
        _validate(self.mode, self.rule, self.num_clips, self.short_policy)

    @property
    def train(self) -> bool:
        return self.mode == "train"

    @property
    def window(self) -> int:
        return self.num_segments * self.interval

    def starts(self, num_frames: int, rng: np.random.Generator | None = None) -> list[int]:
        """The first frame of each window."""
        if self.rule == "official":
            sample_pos = max(1, 1 + num_frames - self.window)
            if self.mode == "train":
                return [0 if sample_pos == 1 else int(rng.integers(0, sample_pos - 1))]
            if self.num_clips == 1:
                return [sample_pos // 2]
            return _truncated_linspace(sample_pos - 1, self.num_clips)
        last_start = max(0, num_frames - self.window)
        if self.mode == "train":
            return [int(rng.integers(0, last_start + 1))]
        if self.num_clips == 1:
            return [last_start // 2]
        return _truncated_linspace(last_start, self.num_clips)

    def __call__(self, num_frames: int, rng: np.random.Generator | None = None) -> list[list[int]]:
        _check(num_frames)
        if self.mode == "train" and rng is None:
            raise ValueError("training sampling needs a numpy Generator")
        clips = []
        for start in self.starts(num_frames, rng):
            indices = [start + k * self.interval for k in range(self.num_segments)]
            if self.rule == "official":
                clips.append([i % num_frames for i in indices])
            else:
                clips.append(fit_short(indices, num_frames, self.short_policy))
        return clips
