"""What a training checkpoint holds, and putting a run back into that state on resume.

``last.pt`` / ``best.pt`` hold the model, optimizer, schedule, scaler and every process's RNG states,
the recipe as given (``config``) and as resolved (``resolved``), the history, and where the best
validation score so far is kept (``best_from``), so that a resumed run equals an uninterrupted one bit for
bit and says only what is true about its files.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

from torch import nn

from tanet.checkpoint import CHECKPOINT_FORMAT, CHECKPOINT_VERSION, CheckpointError, load_checkpoint_file, load_state_checked
from tanet.engine.run_guards import resume_changes

__all__ = ["training_state", "ResumedState", "restore_training_state", "describe_best"]


def training_state(*, model: nn.Module, model_config: dict, class_names: Optional[Sequence[str]], epoch: int,
                   optimizer, scheduler, scaler, rng_per_rank: list, recipe: dict, resolved: dict,
                   best_top1: Optional[float], best_from: Optional[str], history: list, metrics: dict) -> dict:
    """The checkpoint dict of one epoch (see the module docstring)."""
    return {
        "format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION,
        "model": model.state_dict(), "model_config": model_config,
        "class_names": list(class_names) if class_names is not None else None, "epoch": epoch,
        "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
        "scaler": scaler.state_dict(), "rng_per_rank": rng_per_rank, "config": recipe, "resolved": resolved,
        "best_top1": best_top1, "best_from": best_from, "history": history, "metrics": metrics,
    }


@dataclass
class ResumedState:
    """What a resume restored besides the weights and optimizer: where to go on, and what changed."""

    epoch: int
    best_top1: Optional[float]
    best_from: Optional[str]  # the checkpoint file that holds the best weights (None: unknown)
    history: list = field(default_factory=list)
    rng_per_rank: list = field(default_factory=list)
    changed: list = field(default_factory=list)  # "key old -> new", applied from here on


def restore_training_state(path: Path, *, model: nn.Module, optimizer, scheduler, scaler, base_lr: float,
                           resolved_now: dict, allowed: Sequence[str] = ()) -> ResumedState:
    """Load ``path`` into the model, optimizer, scheduler and scaler of a run built from ``resolved_now``
    (the run's resolved configuration as a dict). Refuses a file that is no tanet training checkpoint and a
    changed key that may not change (see :func:`tanet.engine.run_guards.resume_changes`)."""
    state = load_checkpoint_file(path)
    if state.get("format") != CHECKPOINT_FORMAT or "optimizer" not in state:
        raise CheckpointError(path, "not a tanet training checkpoint (no optimizer state); cannot resume from it")
    saved = state.get("resolved", {}).get("config") if isinstance(state.get("resolved"), dict) else None
    changed = resume_changes(saved if saved is not None else state.get("config"), resolved_now, path, allowed)
    load_state_checked(model, state["model"], source=path)
    # The recipe's hyperparameters win over the saved ones (the optimizer state keeps only the momentum /
    # moment buffers): a key changed on resume is applied, and is what the run records.
    recipe_groups = [{k: v for k, v in group.items() if k != "params"} for group in optimizer.param_groups]
    optimizer.load_state_dict(state["optimizer"])
    for group, values in zip(optimizer.param_groups, recipe_groups):
        group.update(values)
    scheduler.load_state_dict({**state["scheduler"], "base_lr": base_lr})
    if state.get("scaler"):
        scaler.load_state_dict(state["scaler"])
    best_top1 = state.get("best_top1")
    best_from = state.get("best_from")
    if best_top1 is not None and best_from is None:  # written before best_from was recorded
        beside = Path(path).parent / "best.pt"
        best_from = str(beside) if beside.exists() else None
    return ResumedState(epoch=int(state["epoch"]), best_top1=best_top1, best_from=best_from,
                        history=list(state.get("history", [])), rng_per_rank=list(state.get("rng_per_rank") or []),
                        changed=changed)


def describe_best(best_top1: Optional[float], best_from: Optional[str], best_path: Path) -> str:
    """Where the best validation score is kept, naming only files that exist."""
    if best_top1 is None:
        return "no validation score"
    score = f"best val top-1 {best_top1:.2f}%"
    if best_from is not None and Path(best_from).resolve() == best_path.resolve() and best_path.exists():
        return f"{score} in {best_path}"
    if best_from is not None and Path(best_from).exists():
        return f"{score}, reached before the resume, in {best_from} (this run wrote no {best_path.name})"
    return f"{score}, reached before the resume (its checkpoint is not at hand; this run wrote no {best_path.name})"

