"""Independent runs side by side: ``run_jobs(function, items, jobs)`` in single-threaded worker processes.

Tiny models on a few CPU cores: independent runs, one per core, each single-threaded (the convolutions
are too small to split over threads, and OpenMP threads of processes that share cores spin against each
other). Workers are started with ``spawn`` (no forked torch state).
"""
from __future__ import annotations

import multiprocessing
import os
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from typing import Callable, Optional, Sequence

from tanet.errors import TanetError

__all__ = ["run_jobs"]


def _safe(function: Callable, item):
    try:
        return True, function(item)
    except BaseException:  # noqa: BLE001 - reported in the parent with the worker's traceback
        return False, traceback.format_exc()


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
    # concurrent.futures, not multiprocessing.Pool: a worker that dies (killed, out of memory) fails the
    # call with BrokenProcessPool instead of hanging it
    with ProcessPoolExecutor(max_workers=min(jobs, len(items)), mp_context=context,
                             initializer=_init_worker) as pool:
        futures = {pool.submit(_safe, function, item): index for index, item in enumerate(items)}
        try:
            for future in as_completed(futures):
                index = futures[future]
                ok, value = future.result()
                if not ok:
                    failures.append((items[index], value))
                    continue
                results[index] = value
                if on_result:
                    on_result(items[index], value)
        except BrokenProcessPool as error:
            raise TanetError(f"a worker process died before finishing its job ({error}); "
                               "finished jobs are kept: rerun to continue") from None
    if failures:
        item, trace = failures[0]
        raise TanetError(f"{len(failures)} job(s) failed; the first ({item}):\n{trace}")
    return results
