"""The run folder's logs: ``log.jsonl`` and ``log.csv`` (+ TensorBoard when installed), rank 0 only."""
from __future__ import annotations

import csv
import json
from pathlib import Path

from tanet.utils.io import atomic_write, atomic_write_text

__all__ = ["RunLogger", "CSV_COLUMNS"]

# The columns of log.csv, known before the first epoch so that every row has the header's fields
# (a cell is empty where an epoch has no such value, e.g. val_* on an epoch without validation).
CSV_COLUMNS = (
    "epoch", "lr", "train_loss", "train_top1", "train_skipped", "train_clips_per_s",
    "val_top1", "val_top5", "val_mean_class_acc", "val_loss", "val_skipped", "epoch_time_s",
)


class RunLogger:
    """``log.jsonl`` + ``log.csv`` (+ TensorBoard when installed), written by rank 0 only.

    ``log.csv`` has the columns :data:`CSV_COLUMNS`, in that order; a record with a key outside
    them (a new metric) rewrites the file with that column added, so the header always matches
    every row.
    """

    def __init__(self, out_dir: Path, enabled: bool, tensorboard: bool):
        self.out_dir = out_dir
        self.enabled = enabled
        self.writer = None
        self.history: list[dict] = []
        self.columns = list(CSV_COLUMNS)
        if enabled and tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.writer = SummaryWriter(str(out_dir / "tensorboard"))
            except (ImportError, ModuleNotFoundError):
                self.writer = None

    def rewrite(self, history: list[dict]) -> None:
        """Make the log files match ``history`` exactly (after a resume)."""
        if not self.enabled:
            return
        self.history = [dict(record) for record in history]
        atomic_write_text(self.out_dir / "log.jsonl", "".join(json.dumps(r) + "\n" for r in self.history))
        self._rewrite_csv()

    def append(self, record: dict) -> None:
        if not self.enabled:
            return
        self.history.append(dict(record))
        with open(self.out_dir / "log.jsonl", "a") as handle:
            handle.write(json.dumps(record) + "\n")
        csv_path = self.out_dir / "log.csv"
        if any(key not in self.columns for key in record) or not csv_path.exists():
            self._rewrite_csv()
        else:
            with open(csv_path, "a", newline="") as handle:
                csv.DictWriter(handle, fieldnames=self.columns).writerow(record)
        if self.writer is not None:
            for key, value in record.items():
                if isinstance(value, (int, float)) and key != "epoch" and value is not None:
                    self.writer.add_scalar(key.replace("_", "/", 1), value, record["epoch"])
            self.writer.flush()

    def _rewrite_csv(self) -> None:
        for record in self.history:
            self.columns += [key for key in record if key not in self.columns]
        with atomic_write(self.out_dir / "log.csv", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=self.columns)
            writer.writeheader()
            writer.writerows(self.history)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
