"""Independent runs side by side: ``run_jobs(function, items, jobs)`` in single-threaded worker processes.

Tiny models on a few CPU cores: N processes with one thread each do about N times the work of one
process (the convolutions are too small to split over threads, and OpenMP threads of processes that
share cores spin against each other). Workers are started with ``spawn`` (no forked torch state).
"""
from __future__ import annotations

import multiprocessing
import os
import traceback
from typing import Callable, Optional, Sequence

__all__ = ["run_jobs"]


def _safe(function: Callable, item):
    try:
        return True, function(item)
    except BaseException:  # noqa: BLE001 - reported in the parent with the worker's traceback
        return False, traceback.format_exc()


def _call(payload):
    index, function, item = payload
    return index, *_safe(function, item)


def _init_worker() -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)


def run_jobs(function: Callable, items: Sequence, jobs: int, *, on_result: Optional[Callable] = None) -> list:
    """``[function(item) for item in items]`` in ``jobs`` single-threaded processes (in this process when
    ``jobs <= 1``); ``on_result(item, result)`` as each finishes. A failing item raises after the others finish."""
    results: list = [None] * len(items)
    failures = []
    if jobs <= 1 or len(items) <= 1:
        for index, item in enumerate(items):
            results[index] = function(item)
            if on_result:
                on_result(item, results[index])
        return results
    context = multiprocessing.get_context("spawn")
    with context.Pool(min(jobs, len(items)), initializer=_init_worker, maxtasksperchild=None) as pool:
        pending = pool.imap_unordered(_call, [(index, function, item) for index, item in enumerate(items)])
        for index, ok, value in pending:
            if not ok:
                failures.append((items[index], value))
                continue
            results[index] = value
            if on_result:
                on_result(items[index], value)
    if failures:
        item, trace = failures[0]
        raise RuntimeError(f"{len(failures)} job(s) failed; the first ({item}):\n{trace}")
    return results
