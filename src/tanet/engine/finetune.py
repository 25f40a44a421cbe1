"""Starting a training run from a video checkpoint (``model.init_from`` / ``model.weights``).

TSM's ``--tune_from`` and MMAction2's ``load_from``: the backbone and the temporal modules come from
the checkpoint (tanet, official TAM or MMAction2 layout, or a published checkpoint by name); the
classifier too when it predicts the run's classes: the same count, and the same names when both the
checkpoint and the run name them (TSM's ``tune_from`` drops ``fc`` for a new data set for the same
reason). Otherwise it starts fresh, and the run summary says so.
Everything goes through the one loader, :func:`tanet.interop.loading.load_weights`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

from torch import nn

from tanet.checkpoint import CheckpointError
from tanet.engine.config import ModelConfig
from tanet.interop.loading import LoadedCheckpoint, LoadReport, load_weights, read_checkpoint
from tanet.interop.weights import get_weights, resolve_weights_file

__all__ = ["init_source", "init_from_checkpoint", "describe_init"]


def init_source(model: ModelConfig) -> Optional[Path]:
    """The checkpoint file a run starts from: ``model.init_from``, or the verified local file of the
    published ``model.weights`` (``model.weights_file`` or the cache); None to start fresh."""
    if model.init_from:
        return Path(model.init_from)
    if model.weights:
        try:
            entry = get_weights(model.weights)
        except KeyError as error:
            raise CheckpointError(None, f"model.weights: {error.args[0]}") from None
        return resolve_weights_file(entry, model.weights_file, allow_unverified=model.allow_unverified)
    return None


# architecture keys whose value the weights fix, and that the checkpoint records reliably
_COMPARED = ("name", "width", "num_segments", "tam_alpha", "tam_beta", "tam_kernel_size", "tam_branches",
             "temporal_stages", "inflate_size")


def _check_architecture(loaded: LoadedCheckpoint, model: nn.Module) -> None:
    """A clear error naming what differs when the recipe builds another architecture than the file's
    (the key-by-key report would list hundreds of keys)."""
    theirs = dict(loaded.model_config or {})
    ours = dict(getattr(model, "model_config", {}) or {})
    if loaded.source_format != "native" and not str(theirs.get("name", "")).startswith("tanet"):
        theirs.pop("num_segments", None)  # TSN/TSM/I3D weights do not record it
    differ = [key for key in _COMPARED if key in theirs and key in ours and theirs[key] != ours[key]
              and not (key == "temporal_stages" and not str(ours.get("name", "")).startswith("tanet"))]
    if differ:
        shown = ", ".join(f"{key} {theirs[key]!r} (the run: {ours[key]!r})" for key in differ)
        raise CheckpointError(loaded.path, f"cannot fine-tune from this {loaded.source_format} checkpoint: its "
                                           f"architecture differs from the recipe's: {shown}; use a recipe or "
                                           "flags that build the same architecture (--model, --num-segments, "
                                           "--set model.width=...)")


def init_from_checkpoint(model: nn.Module, path: Path, class_names: Optional[Sequence[str]] = None) -> LoadReport:
    """Load the backbone and temporal modules of the video checkpoint ``path`` into ``model``; its
    classifier too when the shapes fit and, where both sides name their classes (``class_names``:
    the run's), the names agree."""
    loaded = read_checkpoint(path)
    if loaded.backbone_only:
        raise CheckpointError(path, "this is a 2D ImageNet backbone, not a video checkpoint: start from it "
                                    "with model.pretrained (--pretrained FILE)")
    _check_architecture(loaded, model)
    other_classes = (class_names is not None and loaded.class_names is not None
                     and list(class_names) != list(loaded.class_names))
    return load_weights(model, loaded, classifier="reset" if other_classes else "auto")


def describe_init(report: LoadReport, num_classes: int) -> str:
    """One line for the run summary: where the weights came from and what became of the classifier."""
    source = f"init from {report.path} ({report.source_format} layout): backbone and temporal modules loaded"
    if report.classifier_reset:
        theirs = (report.checkpoint.model_config or {}).get("num_classes", "?")
        if theirs == num_classes:
            return (f"{source}; classifier re-initialised: the checkpoint's {theirs} classes are not this "
                    "run's (other class names)")
        return (f"{source}; classifier re-initialised: the checkpoint has {theirs} classes, "
                f"this run {num_classes}")
    return f"{source}; classifier loaded too ({num_classes} classes, as in the checkpoint)"
