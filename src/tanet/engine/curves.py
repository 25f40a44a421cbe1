"""Training curves: loss, top-1 and learning rate per epoch, for one run (``curves.png`` in every run
folder, rewritten after each epoch) or several side by side (``tanet plot RUN [RUN...]``).

Figures are bare :class:`matplotlib.figure.Figure` s (no pyplot state, no GUI backend), written
atomically so that a viewer never sees half a PNG.
"""
from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Mapping, Optional, Sequence, Union

from tanet.errors import TanetError
from tanet.utils.io import atomic_write

__all__ = ["read_history", "plot_runs", "save_curves"]

PathLike = Union[str, os.PathLike]

# panel -> (title, [(record key, line label suffix, line style)])
PANELS = (
    ("loss", [("train_loss", "train", "-"), ("val_loss", "val", "--")]),
    ("top-1 (%)", [("train_top1", "train", "-"), ("val_top1", "val", "--")]),
    ("learning rate", [("lr", "", "-")]),
)


def read_history(run: PathLike) -> list[dict]:
    """The epoch records of a run: ``RUN/log.jsonl`` (or that file itself). A line cut short by a
    killed run is skipped with a warning."""
    path = Path(run)
    if path.is_dir():
        path = path / "log.jsonl"
    if not path.is_file():
        raise TanetError(f"{run}: no training log here (expected a run folder holding log.jsonl)")
    history = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            history.append(json.loads(line))
        except json.JSONDecodeError:
            warnings.warn(f"{path}:{number}: not a complete JSON record (a run killed while writing?); skipped",
                          stacklevel=2)
    return history


def _figure(histories: Mapping[str, Sequence[dict]], title: str):
    from matplotlib.figure import Figure

    figure = Figure(figsize=(13, 3.8), layout="constrained")
    axes = figure.subplots(1, len(PANELS))
    for colour, (run, history) in enumerate(histories.items()):
        for axis, (panel, lines) in zip(axes, PANELS):
            for key, label, style in lines:
                points = [(r["epoch"], r[key]) for r in history if isinstance(r.get(key), (int, float))]
                if not points:
                    continue
                epochs, values = zip(*points)
                name = " ".join(part for part in (run if len(histories) > 1 else "", label) if part)
                axis.plot(epochs, values, style, color=f"C{colour % 10}", marker="." if len(points) < 30 else None,
                          label=name or None)
    for axis, (panel, _) in zip(axes, PANELS):
        axis.set_title(panel)
        axis.set_xlabel("epoch")
        axis.grid(alpha=0.3)
        if axis.get_legend_handles_labels()[0]:
            axis.legend(fontsize=7)
    rates = [r["lr"] for h in histories.values() for r in h if isinstance(r.get("lr"), (int, float))]
    if rates and min(rates) > 0 and max(rates) / min(rates) > 20:  # step schedules span decades
        axes[2].set_yscale("log")
    if title:
        figure.suptitle(title, fontsize=10)
    return figure


def plot_runs(histories: Mapping[str, Sequence[dict]], path: PathLike, *, title: str = "") -> Path:
    """One figure with loss, top-1 and learning rate per epoch, one colour per run (train solid,
    validation dashed); written atomically."""
    path = Path(path)
    figure = _figure(histories, title)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, "wb") as handle:
        figure.savefig(handle, format="png", dpi=100)
    return path


def save_curves(history: Sequence[dict], out_dir: PathLike, *, title: Optional[str] = None) -> Path:
    """``out_dir/curves.png`` for one run's history."""
    out_dir = Path(out_dir)
    title = title if title is not None else str(out_dir)
    return plot_runs({out_dir.name: history}, out_dir / "curves.png", title=title)
