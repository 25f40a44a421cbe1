"""Independent runs side by side in single-threaded worker processes: ``run_jobs(function, items, jobs)``, or a
:class:`WorkerPool` that keeps its workers (and what they cached: decoded clips) over several batches of jobs.

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

__all__ = ["WorkerPool", "run_jobs"]


def _safe(function: Callable, item):
    try:
        return True, function(item)
    except BaseException:  # noqa: BLE001 - reported in the parent with the worker's traceback
        return False, traceback.format_exc()


def _init_worker() -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)


class WorkerPool:
    """``jobs`` single-threaded worker processes that live as long as the ``with`` block (in this process when
    ``jobs <= 1``). :meth:`map` runs a batch of jobs on them; a worker keeps its module state between batches
    (e.g. the clips :mod:`tanet.data.memory` decoded), and :meth:`submit` starts one job without waiting."""

    def __init__(self, jobs: int):
        self.jobs = jobs
        self._pool: Optional[ProcessPoolExecutor] = None

    def __enter__(self) -> "WorkerPool":
        if self.jobs > 1:
            self._pool = ProcessPoolExecutor(max_workers=self.jobs, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_init_worker)
        return self

    def __exit__(self, *exc_info) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def submit(self, function: Callable, item):
        """A future of ``(ok, result or traceback)``; in-process pools run it now."""
        if self._pool is None:
            from concurrent.futures import Future

            future: Future = Future()
            future.set_result(_safe(function, item))
            return future
        return self._pool.submit(_safe, function, item)

    def map(self, function: Callable, items: Sequence, *, on_result: Optional[Callable] = None,
            started: Sequence = ()) -> list:
        """``[function(item) for item in items]`` on the workers; ``on_result(item, result)`` as each finishes.
        ``started``: futures of :meth:`submit` to wait for as well (their results are not returned). A failing
        item raises after the others finish."""
        results: list = [None] * len(items)
        failures = [("a started job", value) for ok, value in (f.result() for f in started if f.done()) if not ok]
        if self._pool is None:
            if failures:
                raise TanetError(f"a job failed:\n{failures[0][1]}")
            for index, item in enumerate(items):
                results[index] = function(item)
                if on_result:
                    on_result(item, results[index])
            return results
        failures = []
        futures = {self._pool.submit(_safe, function, item): index for index, item in enumerate(items)}
        # concurrent.futures, not multiprocessing.Pool: a worker that dies (killed, out of memory) fails the
        # call with BrokenProcessPool instead of hanging it
        try:
            for future in as_completed([*futures, *started]):
                ok, value = future.result()
                index = futures.get(future)
                if not ok:
                    failures.append((items[index] if index is not None else "a started job", value))
                    continue
                if index is None:
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


def run_jobs(function: Callable, items: Sequence, jobs: int, *, on_result: Optional[Callable] = None) -> list:
    """``[function(item) for item in items]`` in ``jobs`` single-threaded processes (in this process when
    ``jobs <= 1``); ``on_result(item, result)`` as each finishes. A failing item raises after the others finish."""
    with WorkerPool(min(jobs, len(items)) if len(items) > 1 else 1) as pool:
        return pool.map(function, items, on_result=on_result)
