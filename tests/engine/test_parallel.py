"""run_jobs: results in item order from worker processes, and a failing job named with its traceback."""
import math
import os

import pytest

from tanet.engine.parallel import run_jobs
from tanet.errors import TanetError


def test_results_in_item_order_in_processes_and_in_process():
    seen = []
    assert run_jobs(math.factorial, [5, 3, 4], 2, on_result=lambda item, result: seen.append((item, result))) == [
        120, 6, 24]
    assert sorted(seen) == [(3, 6), (4, 24), (5, 120)]
    assert run_jobs(math.factorial, [5, 3], 1) == [120, 6]


def test_a_failing_job_is_reported_after_the_others():
    seen = []
    with pytest.raises(TanetError, match=r"(?s)1 job\(s\) failed; the first \(-1\).*ValueError"):
        run_jobs(math.factorial, [3, -1, 4], 2, on_result=lambda item, result: seen.append(item))
    assert sorted(seen) == [3, 4]


_CALLS = []


def count_calls(item):
    """A job with state: how many jobs this process ran before it (module state lives as long as the worker)."""
    _CALLS.append(item)
    return os.getpid(), len(_CALLS)


def test_a_pool_keeps_its_workers_and_their_state_between_batches():
    from tanet.engine.parallel import WorkerPool

    with WorkerPool(2) as pool:
        started = pool.submit(count_calls, "warm-up")
        first = pool.map(count_calls, [1, 2, 3], started=[started])
        second = pool.map(count_calls, [4, 5, 6])
    pids = {pid for pid, _ in first + second}
    assert len(pids) <= 2 and os.getpid() not in pids
    # every worker's counter kept growing over the two batches: 1 warm-up + 6 jobs in all
    assert sum(max(count for pid_, count in first + second if pid_ == pid) for pid in pids) == 7
    # in this process (jobs=1): submit runs at once, map in order
    with WorkerPool(1) as pool:
        assert pool.submit(math.factorial, 4).result() == (True, 24)
        assert pool.map(math.factorial, [3, 2]) == [6, 2]
