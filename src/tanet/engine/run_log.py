"""The run folder's logs: ``log.jsonl``, ``log.csv`` and ``curves.png`` (+ TensorBoard when
installed), rank 0 only."""
from __future__ import annotations

import csv
import json
import sys
import time
from pathlib import Path
from typing import Any

from tanet.engine.curves import save_curves
from tanet.utils.io import atomic_write, atomic_write_text

__all__ = ["RunLogger", "CSV_COLUMNS", "save_run_config"]

# The columns of log.csv, known before the first epoch so that every row has the header's fields
# (a cell is empty where an epoch has no such value, e.g. val_* on an epoch without validation).
CSV_COLUMNS = (
    "epoch", "lr", "train_loss", "train_top1", "train_skipped", "train_clips_per_s",
    "val_top1", "val_top5", "val_mean_class_acc", "val_loss", "val_skipped", "epoch_time_s",
)

TENSORBOARD_MISSING = ("TensorBoard logging is on (runtime.tensorboard) but the tensorboard package is not "
                       "installed: pip install 'tanet[tensorboard]', or set runtime.tensorboard=false; "
                       "curves.png and log.csv are written either way")


def save_run_config(resolved: Any, path: Path) -> None:
    """``config.yaml``: the recipe as given (loadable with ``load_config``; derived keys left null, so that
    a changed ``--size`` re-derives them), then, as comments, every derived value the run used and why."""
    import yaml

    lines = [yaml.safe_dump(resolved.recipe.to_dict(), sort_keys=False).rstrip(),
             "# resolved at the start of the run (derived values; set a key to fix it):"]
    for key, reason in resolved.derived.items():
        value = resolved.config.to_dict()
        for part in key.split("."):
            value = value[part]
        lines.append(f"#   {key}: {value!r}  ({reason})")
    atomic_write_text(path, "\n".join(lines) + "\n")


class RunLogger:
    """``log.jsonl`` + ``log.csv`` + ``curves.png`` (+ TensorBoard when installed: per epoch, and per
    iteration through :meth:`log_step`), written by rank 0 only.

    ``curves.png`` is redrawn after an epoch when ``curves_every_s`` seconds have passed since it was
    last drawn or the logger opened (drawing takes ~0.3 s: every epoch of a real run, not every second
    of a tiny one), and always when the logger closes. ``log.csv`` has the columns :data:`CSV_COLUMNS`,
    in that order; a record with a key outside them (a new metric) rewrites the file with that
    column added, so the header always matches every row.
    """

    def __init__(self, out_dir: Path, enabled: bool, tensorboard: "bool | str", curves_every_s: float = 10.0):
        self.out_dir = out_dir
        self.enabled = enabled
        self.writer = None
        self.history: list[dict] = []  # for log.csv and curves.png
        self.columns = list(CSV_COLUMNS)
        self.curves_every_s = curves_every_s
        self._curves_drawn_at = time.monotonic()  # of the last drawing (or the start)
        self._curves_current = True
        if enabled and tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                if tensorboard is True:  # asked for; "auto" goes without it silently
                    print(TENSORBOARD_MISSING, file=sys.stderr, flush=True)
            else:
                self.writer = SummaryWriter(str(out_dir / "tensorboard"))

    def rewrite(self, history: list[dict]) -> None:
        """Make the log files match ``history`` exactly (after a resume)."""
        if not self.enabled:
            return
        self.history = [dict(record) for record in history]
        if history:
            self._draw_curves()
        atomic_write_text(self.out_dir / "log.jsonl", "".join(json.dumps(r) + "\n" for r in self.history))
        self._rewrite_csv()

    def append(self, record: dict) -> None:
        if not self.enabled:
            return
        with open(self.out_dir / "log.jsonl", "a") as handle:
            handle.write(json.dumps(record) + "\n")
        self.history.append(dict(record))
        csv_path = self.out_dir / "log.csv"
        if any(key not in self.columns for key in record) or not csv_path.exists():
            self._rewrite_csv()
        else:
            with open(csv_path, "a", newline="") as handle:
                csv.DictWriter(handle, fieldnames=self.columns).writerow(record)
        self._curves_current = False
        if time.monotonic() - self._curves_drawn_at >= self.curves_every_s:
            self._draw_curves()
        if self.writer is not None:
            for key, value in record.items():
                if isinstance(value, (int, float)) and key != "epoch" and value is not None:
                    self.writer.add_scalar(key.replace("_", "/", 1), value, record["epoch"])
            self.writer.flush()

    def log_step(self, step: int, loss: float, lr: float) -> None:
        """One optimizer step (``step`` counts from 1 over the whole run): TensorBoard's
        ``train_step/loss`` and ``train_step/lr``."""
        if self.writer is not None:
            self.writer.add_scalar("train_step/loss", loss, step)
            self.writer.add_scalar("train_step/lr", lr, step)

    def _rewrite_csv(self) -> None:
        for record in self.history:
            self.columns += [key for key in record if key not in self.columns]
        with atomic_write(self.out_dir / "log.csv", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=self.columns)
            writer.writeheader()
            writer.writerows(self.history)

    def _draw_curves(self) -> None:
        save_curves(self.history, self.out_dir)
        self._curves_drawn_at, self._curves_current = time.monotonic(), True

    def close(self) -> None:
        if self.enabled and self.history and not self._curves_current:
            try:
                self._draw_curves()
            except Exception as error:  # noqa: BLE001 - never hide why a run stopped behind a plotting error
                print(f"curves.png not redrawn: {error}", file=sys.stderr)
        if self.writer is not None:
            self.writer.close()
