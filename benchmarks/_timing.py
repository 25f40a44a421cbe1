"""Timing helpers shared by the benchmarks: interleaved candidates, several rounds, ratios as ranges.

The machine these run on is shared and noisy, so a figure is never one timing: each round runs every
candidate in turn (load changes hit all of them alike) and takes each one's median; a ratio is
computed per round, and the benchmark prints the median ratio with its range over the rounds.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F


def interleaved_rounds(
    candidates: dict[str, Callable[[], object]], rounds: int, calls_per_round: int, warmup: int = 1
) -> dict[str, list[float]]:
    """Per candidate, the median seconds of each round (``rounds`` values)."""
    for _ in range(warmup):
        for run in candidates.values():
            run()
    medians: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(rounds):
        samples: dict[str, list[float]] = {name: [] for name in candidates}
        for _ in range(calls_per_round):
            for name, run in candidates.items():
                start = time.perf_counter()
                run()
                samples[name].append(time.perf_counter() - start)
        for name, values in samples.items():
            medians[name].append(statistics.median(values))
    return medians


def ratios(numerator: Sequence[float], denominator: Sequence[float]) -> list[float]:
    """Round-by-round ratios of two candidates' medians."""
    return [a / b for a, b in zip(numerator, denominator)]


def fmt_range(values: Sequence[float], digits: int = 2) -> str:
    """``median (min–max)`` of per-round values."""
    return f"{statistics.median(values):.{digits}f} ({min(values):.{digits}f}–{max(values):.{digits}f})"


def summary(values: Sequence[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def machine_load() -> str:
    """The 1-minute load average and the core count, printed with every run (the figures depend on it)."""
    try:
        load = os.getloadavg()[0]
    except OSError:
        return f"{os.cpu_count()} cores"
    return f"load average {load:.2f} on {os.cpu_count()} cores"


def rss_bytes() -> int:
    """This process's resident memory now (Linux)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """--quick, --threads and --json, as every benchmark takes them."""
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: torch's own, all cores); 1 keeps a loaded machine's "
                             "figures steadier (no thread waiting on a preempted sibling)")
    parser.add_argument("--json", metavar="FILE", help="also write the figures to FILE")


def sgd_training_step(model: torch.nn.Module, clips: torch.Tensor, labels: torch.Tensor) -> Callable[[], None]:
    """One training step of ``model`` (cross-entropy, backward, SGD with momentum) as a callable."""
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9, weight_decay=1e-4)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(model(clips), labels).backward()
        optimizer.step()

    return step
