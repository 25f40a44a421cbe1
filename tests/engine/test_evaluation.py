"""Metrics against hand computations; multi-view averaging; chunking."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from tanet.data import Batch
from tanet.engine.evaluation import (
    evaluate,
    format_metrics_table,
    metrics_from_counts,
    predict_views,
    save_confusion_png,
)


class TableModel(nn.Module):
    """Returns a stored score row per clip, looked up by the clip's first pixel value."""

    def __init__(self, table: torch.Tensor):
        super().__init__()
        self.table = table
        self.anchor = nn.Parameter(torch.zeros(1))  # so the model has a device
        self.calls = []

    def forward(self, clips):
        self.calls.append(clips.shape[0])
        return self.table[clips[:, 0, 0, 0, 0].long()]


def _clips(ids):
    clips = torch.zeros(len(ids), 3, 2, 4, 4)
    clips[:, 0, 0, 0, 0] = torch.tensor(ids, dtype=torch.float)
    return clips


def test_metrics_by_hand():
    # 6 samples, 3 classes. Scores chosen so that (true, top-1, in top-2):
    table = torch.tensor([
        [0.9, 0.05, 0.05],  # true 0 -> 0
        [0.2, 0.5, 0.3],    # true 0 -> 1 (0 ranks 3rd)
        [0.1, 0.8, 0.1],    # true 1 -> 1
        [0.6, 0.3, 0.1],    # true 1 -> 0 (1 ranks 2nd)
        [0.4, 0.1, 0.5],    # true 2 -> 2
        [0.3, 0.3, 0.4],    # true 2 -> 2
    ])
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    loader = [Batch(_clips([0, 1, 2]), labels[:3], 0), Batch(_clips([3, 4, 5]), labels[3:], 1)]
    metrics = evaluate(TableModel(table), loader, num_classes=3)
    assert metrics["top1"] == pytest.approx(100 * 4 / 6)
    assert metrics["top5"] == pytest.approx(100.0)  # k is capped at the number of classes
    # per-class accuracy 1/2, 1/2, 2/2 -> mean 2/3
    assert metrics["mean_class_acc"] == pytest.approx(100 * (0.5 + 0.5 + 1.0) / 3)
    assert metrics["num_samples"] == 6 and metrics["num_skipped"] == 1
    expected = torch.tensor([[1, 1, 0], [1, 1, 0], [0, 0, 2]])
    assert torch.equal(metrics["confusion"], expected)


def test_top5_with_more_classes():
    torch.manual_seed(0)
    scores = torch.randn(50, 12)
    labels = torch.randint(0, 12, (50,))
    loader = [Batch(_clips(list(range(50))), labels, 0)]
    metrics = evaluate(TableModel(scores), loader, num_classes=12)
    ranks = (scores > scores.gather(1, labels[:, None])).sum(1)  # 0 = best
    assert metrics["top1"] == pytest.approx(100 * (ranks == 0).float().mean().item())
    assert metrics["top5"] == pytest.approx(100 * (ranks < 5).float().mean().item())


def test_mean_class_accuracy_skips_absent_classes():
    confusion = torch.tensor([[3, 1, 0], [0, 0, 0], [0, 2, 2]])
    metrics = metrics_from_counts(confusion, top5_hits=7)
    assert metrics["mean_class_acc"] == pytest.approx(100 * (0.75 + 0.5) / 2)
    assert metrics["top1"] == pytest.approx(100 * 5 / 8)


def test_score_and_probability_averaging_differ_as_expected():
    # Three views of one video: logits [10, 0], [0, 2], [0, 2]. Mean logits favour class 0
    # (3.33 vs 1.33); mean probabilities favour class 1 (0.41 vs 0.59: a very confident
    # view counts at most 1 once turned into a probability) -- hand computed.
    table = torch.tensor([[10.0, 0.0], [0.0, 2.0]])
    clips = _clips([0, 1, 1]).unsqueeze(0)  # (N=1, V=3, C, T, H, W)
    model = TableModel(table)
    scores = predict_views(model, clips, average="score")
    torch.testing.assert_close(scores, torch.tensor([[10 / 3, 4 / 3]]))
    probs = predict_views(model, clips, average="prob")
    p_confident = 1 / (1 + torch.exp(torch.tensor(-10.0)))
    p_two = 1 / (1 + torch.exp(torch.tensor(2.0)))
    class0 = (p_confident + 2 * p_two) / 3
    torch.testing.assert_close(probs, torch.stack([class0, 1 - class0]).unsqueeze(0))
    assert scores.argmax().item() == 0 and probs.argmax().item() == 1


def test_views_are_processed_in_bounded_chunks():
    torch.manual_seed(1)
    table = torch.randn(30, 5)
    clips = _clips(list(range(30))).reshape(3, 10, 3, 2, 4, 4)  # 3 videos x 10 views
    model = TableModel(table)
    chunked = predict_views(model, clips, view_chunk=4)
    assert max(model.calls) <= 4 and sum(model.calls) == 30
    whole = predict_views(TableModel(table), clips, view_chunk=30)
    torch.testing.assert_close(chunked, whole)
    torch.testing.assert_close(whole, table.reshape(3, 10, 5).mean(1))


def test_table_and_png(tmp_path):
    metrics = metrics_from_counts(torch.tensor([[2, 0], [1, 1]]), top5_hits=4)
    text = format_metrics_table(metrics, title="demo")
    assert "75.00" in text and "demo" in text
    path = save_confusion_png(torch.tensor([[2, 0], [1, 1]]), tmp_path / "c.png", ["a", "b"])
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_confusion_figure_writes_each_cells_count():
    import matplotlib.pyplot as plt

    from tanet.engine.evaluation import confusion_figure

    confusion = torch.tensor([[5, 1, 0], [2, 3, 0], [0, 0, 7]])
    fig = confusion_figure(confusion, ["a", "b", "c"])
    texts = [(round(t.get_position()[1]), round(t.get_position()[0]), t.get_text()) for t in fig.axes[0].texts]
    plt.close(fig)
    assert sorted(texts) == [(row, column, str(int(confusion[row, column]))) for row in range(3) for column in range(3)]


def test_per_class_accuracy_by_hand_and_top5_left_out_of_the_table():
    from tanet.engine.evaluation import format_per_class, per_class_accuracy

    rows = per_class_accuracy(torch.tensor([[3, 1], [0, 0]]), ["left", "right"])
    assert rows == [{"name": "left", "videos": 4, "correct": 3, "accuracy": 75.0},
                    {"name": "right", "videos": 0, "correct": 0, "accuracy": None}]
    table = format_per_class(rows)
    assert "left" in table and "75.0" in table and table.splitlines()[-1].split()[-1] == "-"
    many = per_class_accuracy(torch.diag(torch.arange(1, 41)) + 1)
    assert "the 30 least accurate of 40 classes" in format_per_class(many)
    metrics = metrics_from_counts(torch.tensor([[2, 0], [1, 1]]), top5_hits=4)
    assert "top-5" in format_metrics_table(metrics)
    assert "top-5" not in format_metrics_table({**metrics, "top5": None})
