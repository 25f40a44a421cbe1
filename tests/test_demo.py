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
    monkeypatch.setenv("TANET_HOME", str(tmp_path / "home"))
    out = tmp_path / "demo"
    assert main(["demo", "--quick", "--out", str(out), "--no-progress"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics) == {"motion", "appearance"}
    for kind in metrics:
        assert set(metrics[kind]) == {"tanet", "tsn", "tsm", "i3d"}
        for row in metrics[kind].values():
            assert 0 <= row["top1"] <= row["top5"] <= 100
    # the reported numbers are those of the test runs written beside them
    tested = json.loads((out / "runs" / "motion" / "tanet" / "test" / "metrics.json").read_text())
    assert metrics["motion"]["tanet"]["top1"] == pytest.approx(tested["top1"], abs=0.01)
    report = (out / "report.md").read_text()
    assert "## What held" in report and "| tanet (tanet_r18) |" in report
    assert (out / "accuracy.png").stat().st_size > 0
    kernels = json.loads((out / "kernels" / "kernels.json").read_text())
    assert set(kernels["blocks"]) == {"layer3.1", "layer4.1"}
    # a rerun reuses the finished runs: same numbers, no retraining
    checkpoint = out / "runs" / "appearance" / "tsn" / "last.pt"
    mtime = checkpoint.stat().st_mtime
    assert main(["demo", "--quick", "--out", str(out), "--no-progress", "--no-kernels"]) == 0
    assert checkpoint.stat().st_mtime == mtime
    assert json.loads((out / "metrics.json").read_text())["appearance"]["tsn"]["top1"] == metrics["appearance"]["tsn"]["top1"]
