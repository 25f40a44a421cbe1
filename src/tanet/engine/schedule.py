"""Learning-rate schedules with linear warm-up, stepped once per iteration.

The schedule is a pure function of the iteration count, so its checkpointed state is a
single integer and a resumed run gets exactly the learning rates it would have had.
Each optimizer group keeps its ``lr_mult`` (official parameter-group multipliers); the
schedule sets ``group["lr"] = base_lr * group["lr_mult"] * factor(step)``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import torch


@dataclass
class WarmupSchedule:
    """Step or cosine decay over ``epochs`` with an optional linear warm-up.

    ``step``: factor ``gamma ** (number of milestones <= current epoch)``, changing at epoch
    boundaries as in the official TSN/TAM code. ``cosine``: ``min + (1 - min) * 0.5 *
    (1 + cos(pi * progress))`` with progress measured in iterations after the warm-up.
    Warm-up: factor rises linearly from ``warmup_start_factor`` to the decayed value over
    the first ``warmup_epochs`` (fractional epochs allowed).
    """

    name: str
    epochs: int
    iters_per_epoch: int
    milestones: Sequence[float] = field(default_factory=list)
    gamma: float = 0.1
    warmup_epochs: float = 0.0
    warmup_start_factor: float = 0.1
    min_lr_factor: float = 0.0

    def __post_init__(self) -> None:
        if self.name not in ("step", "cosine"):
            raise ValueError(f"unknown schedule {self.name!r}; expected 'step' or 'cosine'")
        if self.iters_per_epoch < 1:
            raise ValueError("iters_per_epoch must be >= 1")

    @property
    def total_steps(self) -> int:
        return self.epochs * self.iters_per_epoch

    def factor(self, step: int) -> float:
        """Learning-rate multiplier for global iteration ``step`` (0-based)."""
        epoch = step / self.iters_per_epoch
        if self.name == "step":
            decayed = self.gamma ** sum(1 for m in self.milestones if epoch >= m)
        else:
            warmup_steps = self.warmup_epochs * self.iters_per_epoch
            span = max(self.total_steps - warmup_steps, 1.0)
            progress = min(max((step - warmup_steps) / span, 0.0), 1.0)
            decayed = self.min_lr_factor + (1 - self.min_lr_factor) * 0.5 * (
                1 + math.cos(math.pi * progress))
        warmup_steps = self.warmup_epochs * self.iters_per_epoch
        if warmup_steps > 0 and step < warmup_steps:
            alpha = step / warmup_steps
            return decayed * (self.warmup_start_factor + (1 - self.warmup_start_factor) * alpha)
        return decayed


class ScheduledLR:
    """Applies a :class:`WarmupSchedule` to an optimizer, one ``step()`` per iteration."""

    def __init__(self, optimizer: torch.optim.Optimizer, schedule: WarmupSchedule, base_lr: float):
        self.optimizer = optimizer
        self.schedule = schedule
        self.base_lr = base_lr
        self.step_count = 0
        self._apply()

    def _apply(self) -> None:
        factor = self.schedule.factor(self.step_count)
        for group in self.optimizer.param_groups:
            group["lr"] = self.base_lr * group.get("lr_mult", 1.0) * factor

    def step(self) -> None:
        self.step_count += 1
        self._apply()

    @property
    def current_lr(self) -> float:
        """Learning rate before group multipliers (the recipe's ``lr`` times the factor)."""
        return self.base_lr * self.schedule.factor(self.step_count)

    def state_dict(self) -> dict:
        return {"step": self.step_count, "base_lr": self.base_lr}

    def load_state_dict(self, state: dict) -> None:
        self.step_count = int(state["step"])
        self.base_lr = float(state["base_lr"])
        self._apply()


__all__ = ["WarmupSchedule", "ScheduledLR"]
