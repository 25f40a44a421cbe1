"""run_jobs: results in item order from worker processes, and a failing job named with its traceback."""
import math

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
