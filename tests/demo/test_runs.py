"""One demo run is bit-identical when repeated: in the same process after another run, and in worker processes."""
from __future__ import annotations

import json

import pytest
import torch

from tanet.demo.runs import QUICK_PLAN, DEPTH_WIDTHS, Job, demo_models, job_overrides, run_job


def test_demo_models_follow_the_depth():
    # a BasicBlock has no 1x1 conv: I3D 3x3x3; a bottleneck gets the paper's I3D 3x1x1
    assert demo_models(18) == {"tanet": "tanet_r18", "tsn": "tsn_r18", "tsm": "tsm_r18", "i3d": "i3d333_r18"}
    assert demo_models(26)["i3d"] == "i3d311_r26" and demo_models(26)["tanet"] == "tanet_r26"
    assert set(DEPTH_WIDTHS) >= {18, 26}


def _job(plan, tmp_path, name: str, model: str, seed: int, pretrained: str) -> Job:
    run_dir = tmp_path / name
    overrides = job_overrides(plan, "motion", plan.models[model], run_dir, seed, pretrained=pretrained)
    # a few steps are enough to show that nothing but the seed moves the numbers
    overrides += ["runtime.max_steps_per_epoch=3", "data.synthetic.num_classes=2"]
    return Job("motion", model, seed, str(run_dir), tuple(overrides), plan.recipe)


def _weights(job: Job) -> dict:
    return torch.load(f"{job.run_dir}/last.pt", map_location="cpu", weights_only=False)["model"]


def _tested(job: Job) -> dict:
    metrics = json.loads(open(f"{job.run_dir}/test/metrics.json").read())
    return {k: v for k, v in metrics.items() if k not in ("checkpoint", "clips_per_s", "seconds")}


@pytest.mark.slow
def test_one_seed_twice_gives_bit_identical_weights_and_numbers(tmp_path, monkeypatch):
    from tanet.engine.parallel import WorkerPool
    from tanet.engine.pretrain2d import Pretrain2DOptions, ensure_pretrained_2d

    monkeypatch.setenv("TANET_HOME", str(tmp_path / "home"))
    plan = QUICK_PLAN
    start, _ = ensure_pretrained_2d(Pretrain2DOptions(depth=plan.depth, width=plan.width, **plan.pretrain),
                                    log=lambda text: None)
    first = _job(plan, tmp_path, "first", "tanet", 7, str(start))
    other = _job(plan, tmp_path, "other", "tanet", 8, str(start))
    again = _job(plan, tmp_path, "again", "tanet", 7, str(start))
    rows = [run_job(first), run_job(other), run_job(again)]  # one process: the run between leaves no trace
    with WorkerPool(2) as pool:  # and two fresh worker processes side by side, as the demo runs them
        in_workers = [_job(plan, tmp_path, f"worker{i}", "tanet", 7, str(start)) for i in range(2)]
        rows += pool.map(run_job, in_workers)
    reference = _weights(first)
    for job in [again, *in_workers]:
        weights = _weights(job)
        assert weights.keys() == reference.keys()
        assert all(torch.equal(weights[key], reference[key]) for key in reference), job.run_dir
        assert _tested(job) == _tested(first)
    assert [r["top1"] for r in rows[2:]] == [rows[0]["top1"]] * 3
    assert [r["history"] for r in rows[2:]] == [rows[0]["history"]] * 3
    # the seed does matter
    assert not all(torch.equal(_weights(other)[key], reference[key]) for key in reference)
