"""What one trained ablation cell (a row of the grid, one seed) leaves behind, and the grid keys that are
model options: shared by the runner (:mod:`tanet.analysis.ablate`) and the tables
(:mod:`tanet.analysis.ablation_tables`), so that neither imports the other."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from tanet.engine.config import TemporalConfig

__all__ = ["MODEL_OPTIONS", "AblationResult"]

# The paper's knobs (the model.temporal section), usable as bare grid keys.
MODEL_OPTIONS = tuple(TemporalConfig.__dataclass_fields__)


@dataclass
class AblationResult:
    """A finished row (what ``result.json`` holds)."""

    sweep: str
    label: str
    overrides: dict
    top1: float
    top5: float
    mean_class_acc: float
    params_m: float
    gflops: float
    train_time_s: float
    epochs: int
    config_hash: str
    run_dir: str
    checkpoint: str
    seed: int = 0
    reused: bool = field(default=False, compare=False)

    def to_dict(self) -> dict:
        data = asdict(self)
        data.pop("reused")
        return data
