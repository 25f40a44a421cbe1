"""engine.run_summary: the epoch line."""
from tanet.engine.run_summary import epoch_line

RECORD = {"epoch": 2, "train_loss": 0.5, "train_top1": 80.0, "train_skipped": 0, "val_top1": 75.0,
          "val_top5": 100.0, "val_skipped": 0, "epoch_time_s": 3.0}


def test_top5_only_with_more_than_five_classes():
    # with 5 classes or fewer every label is among the top 5: a top-5 of 100 % says nothing
    assert "top-5" not in epoch_line(RECORD, 4, 6.0, 2, num_classes=4)
    assert "top-5 100.00%" in epoch_line(RECORD, 4, 6.0, 2, num_classes=6)


def test_eta_from_the_epochs_left():
    # 2 epochs took 6 s: 2 left take 6 s more
    assert epoch_line(RECORD, 4, 6.0, 2).endswith("| 3.0s, ETA 0:00:06")
