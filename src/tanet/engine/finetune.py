"""Starting a training run from a video checkpoint (``model.init_from`` / ``model.weights``).

TSM's ``--tune_from`` and MMAction2's ``load_from``: the backbone and the temporal modules come from
the checkpoint (tanet, official TAM or MMAction2 layout, or a published checkpoint by name); the
classifier too when it predicts the run's classes: the same count, and the same names when both the
checkpoint and the run name them (TSM's ``tune_from`` drops ``fc`` for a new data set for the same
reason). Otherwise it starts fresh, and the run summary says so. A checkpoint of another family
(TSN or TSM into a TANet) is refused unless asked for (``partial``): then its 2D backbone is loaded
and what stays fresh is listed. A checkpoint with NaN/inf weights is refused.
Everything goes through the one loader, :func:`tanet.interop.loading.load_weights`.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Optional, Sequence

from torch import nn

from tanet.checkpoint import CheckpointError
from tanet.engine.config import ModelConfig
from tanet.factory import SCRATCH, init_weights
from tanet.interop.loading import LoadedCheckpoint, LoadReport, read_checkpoint
from tanet.interop.partial import temporal_keys
from tanet.interop.weights import get_weights, resolve_weights_file

__all__ = ["init_source", "init_from_checkpoint", "describe_init", "WEIGHT_SOURCES", "command_line_source"]

# the model keys that name where the weights come from; a run takes one of them
WEIGHT_SOURCES = ("pretrained", "init_from", "weights")


def init_source(model: ModelConfig) -> Optional[Path]:
    """The checkpoint file a run starts from: ``model.init_from``, or the verified local file of the
    published ``model.weights`` (``model.weights_file``, the cache, or a download); None to start fresh."""
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


def _depth(name: Any) -> Optional[str]:
    match = re.search(r"_r(\d+)$", str(name))
    return match.group(1) if match else None


def _check_architecture(loaded: LoadedCheckpoint, model: nn.Module, partial: bool) -> None:
    """A clear error naming what differs when the recipe builds another architecture than the file's
    (the key-by-key report would list hundreds of keys). What the file leaves open (TSN or TSM, T, an
    ambiguous TAM position) the run's model settles when it is one of the candidates. ``partial``:
    only the 2D backbone (depth, width) must agree."""
    theirs = dict(loaded.model_config or {})
    ours = dict(getattr(model, "model_config", {}) or {})
    if partial:
        theirs = {"depth": _depth(theirs.get("name") or loaded.undetermined.get("name", ("?",))[0]),
                  "width": theirs.get("width")}
        ours = {"depth": _depth(ours.get("name")), "width": ours.get("width")}
        compared: tuple = ("depth", "width")
    else:
        compared = _COMPARED
        for key, candidates in loaded.undetermined.items():
            if candidates and key in ours and ours[key] not in candidates:
                raise CheckpointError(loaded.path, f"cannot fine-tune from this checkpoint: its {key} is "
                                                   f"{' or '.join(map(str, candidates))}, the run's {ours[key]!r}"
                                                   + _PARTIAL_HINT * (key == "name"))
    if loaded.source_format != "native" and not str(theirs.get("name", "")).startswith("tanet"):
        theirs.pop("num_segments", None)  # TSN/TSM/I3D weights do not depend on it
    differ = [key for key in compared if key in theirs and key in ours and theirs[key] != ours[key]
              and not (key == "temporal_stages" and not str(ours.get("name", "")).startswith("tanet"))]
    if differ:
        shown = ", ".join(f"{key} {theirs[key]!r} (the run: {ours[key]!r})" for key in differ)
        hint = _PARTIAL_HINT if "name" in differ and _depth(theirs.get("name")) == _depth(ours.get("name")) else ""
        raise CheckpointError(loaded.path, f"cannot fine-tune from this {loaded.source_format} checkpoint: its "
                                           f"architecture differs from the recipe's: {shown}; use a recipe or "
                                           "flags that build the same architecture (--model, --num-segments, "
                                           "--set model.width=...)" + hint)


_PARTIAL_HINT = ("; to start this model from a checkpoint of another family (its 2D backbone loaded, the rest "
                 "fresh) ask for it: --init-partial (model.init_partial: true)")


def init_from_checkpoint(model: nn.Module, path: Path, class_names: Optional[Sequence[str]] = None, *,
                         partial: bool = False) -> LoadReport:
    """Load the backbone and temporal modules of the video checkpoint ``path`` into ``model``; its
    classifier too when the shapes fit and, where both sides name their classes (``class_names``:
    the run's), the names agree. ``partial``: the checkpoint may be of another family (TSN/TSM ->
    TANet); the shared 2D backbone must fit, and the report lists what stays fresh."""
    loaded = read_checkpoint(path)
    if loaded.backbone_only:
        raise CheckpointError(path, "this is a 2D ImageNet backbone, not a video checkpoint: start from it "
                                    "with model.pretrained (--pretrained FILE)")
    _check_architecture(loaded, model, partial)
    other_classes = (class_names is not None and loaded.class_names is not None
                     and list(class_names) != list(loaded.class_names))
    return init_weights(model, loaded, partial=partial, classifier="reset" if other_classes else "auto")


def _blocks(keys: Sequence[str]) -> str:
    """``backbone.layer1.0.tam.G.0.weight``... -> "the TAMs of 8 blocks (layer1.0, layer1.1, ...)"."""
    blocks = sorted({key.split(".tam.")[0].removeprefix("backbone.") for key in keys},
                    key=lambda block: [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", block)])
    shown = ", ".join(blocks[:4]) + (", ..." if len(blocks) > 4 else "")
    return f"the TAMs of {len(blocks)} blocks ({shown}; {len(keys)} tensors)"


def describe_init(report: LoadReport, num_classes: int) -> str:
    """One line for the run summary: where the weights came from, what stays fresh, and what became of
    the classifier."""
    config = report.checkpoint.model_config or {}
    if report.partial:
        family = config.get("name") or " or ".join(report.checkpoint.undetermined.get("name", ("another family",)))
        unused = temporal_keys(report.dropped_keys)
        shared = [key for key in temporal_keys(report.checkpoint.state_dict) if key not in unused]
        source = (f"init from {report.path} ({report.source_format} layout, {family}, --init-partial): 2D backbone"
                  + (f" and {_blocks(shared)}" if shared else "") + " loaded")
        fresh = temporal_keys(report.left_at_init)
        if fresh:
            source += f"; fresh: {_blocks(fresh)}"
        if unused:
            source += f"; not used: {_blocks(unused)} of the checkpoint"
    else:
        source = f"init from {report.path} ({report.source_format} layout): backbone and temporal modules loaded"
    if report.classifier_reset:
        theirs = config.get("num_classes", "?")
        if theirs == num_classes:
            return (f"{source}; classifier re-initialised: the checkpoint's {theirs} classes are not this "
                    "run's (other class names)")
        return (f"{source}; classifier re-initialised: the checkpoint has {theirs} classes, "
                f"this run {num_classes}")
    return f"{source}; classifier loaded too ({num_classes} classes, as in the checkpoint)"


def command_line_source(recipe_model: Mapping[str, Any], given: Mapping[str, Any]) -> tuple[list[str], Optional[str]]:
    """When the command line names a weight source (``given``: ``pretrained`` / ``init_from`` /
    ``weights`` -> value, as flags set them) and the recipe another, the command line wins: returns the
    ``--set``-style items that clear the recipe's other sources (``model.pretrained=null``, ...) and the
    one summary line that says so (None when nothing of the recipe's was replaced).

    ``--pretrained scratch`` replaces the recipe's video checkpoint too (from scratch, on purpose); the
    recipe's ``pretrained: scratch`` is no source and is never reported as replaced.
    """
    chosen = {key: value for key, value in given.items() if key in WEIGHT_SOURCES and value not in (None, "")}
    if not chosen:
        return [], None
    replaced = {key: recipe_model.get(key) for key in WEIGHT_SOURCES
                if key not in chosen and recipe_model.get(key) not in (None, "", SCRATCH)}
    # "--init-from X --pretrained scratch": the scratch says only that no 2D file is wanted
    redundant = ["model.pretrained=null"] if chosen.get("pretrained") == SCRATCH and len(chosen) > 1 else []
    if not replaced:
        return redundant, None
    flags = " and ".join(f"--{key.replace('_', '-')} {value}" for key, value in chosen.items())
    overridden = ", ".join(f"model.{key} ({value})" for key, value in replaced.items())
    return [f"model.{key}=null" for key in replaced] + redundant, f"{flags} replaces the recipe's {overridden}"
