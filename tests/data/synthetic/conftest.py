"""Shared sizes and file readers for the tests of the built-in synthetic sets (tanet.data.synthetic)."""
from __future__ import annotations

from pathlib import Path

import av
import numpy as np

TINY = dict(size=32, frames=8, train_per_class=2, val_per_class=1, num_classes=4)
# Property checks need a few more pixels and frames than the determinism/caching checks.
PROBE = dict(size=48, frames=10, train_per_class=1, val_per_class=0)


def decode(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def read_list(path: Path) -> list[tuple[str, int]]:
    entries = []
    for line in path.read_text().splitlines():
        rel, label = line.split(" ")
        entries.append((rel, int(label)))
    return entries
