"""The run folder's logs: ``log.jsonl`` and ``log.csv`` (+ TensorBoard when installed), rank 0 only."""
from __future__ import annotations

import csv
import json
from pathlib import Path

__all__ = ["RunLogger"]


class RunLogger:
    """``log.jsonl`` + ``log.csv`` (+ TensorBoard when installed), written by rank 0 only."""

    def __init__(self, out_dir: Path, enabled: bool, tensorboard: bool):
        self.out_dir = out_dir
        self.enabled = enabled
        self.writer = None
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
        (self.out_dir / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in history))
        csv_path = self.out_dir / "log.csv"
        if csv_path.exists():
            csv_path.unlink()
        for record in history:
            self._append_csv(record)

    def append(self, record: dict) -> None:
        if not self.enabled:
            return
        with open(self.out_dir / "log.jsonl", "a") as handle:
            handle.write(json.dumps(record) + "\n")
        self._append_csv(record)
        if self.writer is not None:
            for key, value in record.items():
                if isinstance(value, (int, float)) and key != "epoch" and value is not None:
                    self.writer.add_scalar(key.replace("_", "/", 1), value, record["epoch"])
            self.writer.flush()

    def _append_csv(self, record: dict) -> None:
        csv_path = self.out_dir / "log.csv"
        new = not csv_path.exists()
        with open(csv_path, "a", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(record))
            if new:
                writer.writeheader()
            writer.writerow(record)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
