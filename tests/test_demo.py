"""`tanet demo --quick` end to end, and the pair accuracies it reports."""
import json

import pytest
import torch

from tanet.cli import main
from tanet.demo import pair_accuracies


def test_pair_accuracies_by_hand():
    # 4 classes = 2 pairs (0,1) and (2,3); rows are true classes
    confusion = torch.tensor([[3, 1, 0, 0], [2, 2, 0, 0], [0, 0, 4, 0], [1, 0, 1, 2]])
    result = pair_accuracies(confusion)
    # same pair: 3+1+2+2+4+0+1+2 = 15 of 16; correct: 3+2+4+2 = 11
    assert result["pair_top1"] == pytest.approx(100 * 15 / 16)
    assert result["within_pair_top1"] == pytest.approx(100 * 11 / 15)


@pytest.mark.slow
def test_demo_quick_end_to_end(tmp_path, monkeypatch):
    from tanet.analysis.evidence import paired_difference, verdict

    monkeypatch.setenv("TANET_HOME", str(tmp_path / "home"))
    out = tmp_path / "demo"
    assert main(["demo", "--quick", "--out", str(out), "--no-progress"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["protocol"] == "pretrained" and metrics["seeds"] == [0, 1]
    assert (tmp_path / "home" / "pretrain2d").is_dir()  # the shared 2D start was trained and cached
    for kind in ("motion", "appearance"):
        assert set(metrics[kind]) == {"tanet", "tsn", "tsm", "i3d"}
        for model, row in metrics[kind].items():
            assert len(row["top1_seeds"]) == 2 and 0 <= row["top1"] <= row["top5"] <= 100
            # every seed's run is kept, and the reported numbers are those of its test
            for seed, value in zip(row["seeds"], row["top1_seeds"]):
                tested = json.loads((out / "runs" / kind / model / f"seed{seed}" / "test" / "metrics.json").read_text())
                assert value == pytest.approx(tested["top1"], abs=0.01)
            assert row["top1"] == pytest.approx(sum(row["top1_seeds"]) / 2, abs=0.01)
            assert row["top1_std"] == pytest.approx(abs(row["top1_seeds"][0] - row["top1_seeds"][1]) / 2 ** 0.5, abs=0.01)
    # the first claim is TANet − TSN on the motion set, decided by the interval of the paired differences
    first = metrics["claims"][0]
    expected = paired_difference(metrics["motion"]["tanet"]["top1_seeds"], metrics["motion"]["tsn"]["top1_seeds"])
    assert first["name"].startswith("motion set: TANet above TSN")
    assert first["interval"] == pytest.approx([expected.low, expected.high], abs=0.01)
    assert first["verdict"] == verdict(expected)
    assert any(c["name"].startswith("kernels ") for c in metrics["claims"])
    assert set(metrics["models"]) == {"tanet", "tsn", "tsm", "i3d"} and metrics["timing"]["total_s"] > 0
    report = (out / "report.md").read_text()
    assert "## Claims" in report and "| tanet (tanet_r26) |" in report and "## Where the time went" in report
    assert "runs/motion/tanet/seed1/test/confusion.png" in report
    for figure in ("accuracy.png", "curves.png"):
        assert (out / figure).stat().st_size > 0
    kernels = json.loads((out / "kernels" / "seed0" / "kernels.json").read_text())
    assert set(kernels["blocks"]) == {"layer3.1", "layer4.1"}
    # a rerun reuses the finished runs: same numbers, no retraining
    checkpoint = out / "runs" / "appearance" / "tsn" / "seed0" / "last.pt"
    mtime = checkpoint.stat().st_mtime
    assert main(["demo", "--quick", "--out", str(out), "--no-progress", "--no-kernels"]) == 0
    assert checkpoint.stat().st_mtime == mtime
    again = json.loads((out / "metrics.json").read_text())
    assert again["appearance"]["tsn"]["top1_seeds"] == metrics["appearance"]["tsn"]["top1_seeds"]


def test_protocols_set_the_start_and_the_epochs(tmp_path):
    from tanet.demo import DEFAULT_PLAN, QUICK_PLAN
    from tanet.demo.runs import train_config
    from tanet.engine.config import load_config

    models = DEFAULT_PLAN.models
    scratch = train_config(DEFAULT_PLAN, "appearance", models["tsm"], tmp_path, 2, pretrained=None)
    assert scratch.model.pretrained == "scratch" and scratch.schedule.epochs == load_config("demo").schedule.epochs
    assert scratch.runtime.seed == 2 and scratch.data.synthetic.num_classes == 6
    assert scratch.data.backend == "memory" and scratch.data.num_workers == 0
    assert scratch.model.width == DEFAULT_PLAN.width and scratch.model.name == models["tsm"]
    started = train_config(DEFAULT_PLAN, "motion", models["tsm"], tmp_path, 0, pretrained=str(tmp_path / "w.pth"))
    assert started.model.pretrained == str(tmp_path / "w.pth")
    # the epochs that run are the shipped recipe's: what configs/*.yaml (and the README) say
    assert started.schedule.epochs == load_config(DEFAULT_PLAN.recipe).schedule.epochs
    for pretrained in (None, str(tmp_path / "w.pth")):
        quick = train_config(QUICK_PLAN, "motion", QUICK_PLAN.models["tanet"], tmp_path, 0, pretrained=pretrained)
        assert quick.schedule.epochs == load_config("demo_quick").schedule.epochs == 2
    # --epochs overrides both protocols
    import dataclasses

    longer = dataclasses.replace(DEFAULT_PLAN, epochs=3)
    assert train_config(longer, "motion", models["tsn"], tmp_path, 0, pretrained=None).schedule.epochs == 3
