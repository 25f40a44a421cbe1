"""A checkpoint of the official TAM code or MMAction2 -> a native tanet checkpoint (``tanet convert``).

The foreign TSN wrappers take input (N, T*C, H, W) (frames stacked on channels); tanet models take
(N, C, T, H, W). Only the weights change layout; the converted model computes the same logits.
The output is the native checkpoint (``format``, ``version``, ``model``, ``model_config``,
``class_names``) so ``tanet test --checkpoint OUT`` and ``tanet predict`` work on it.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional, Sequence, Union

from tanet.checkpoint import CHECKPOINT_FORMAT, CHECKPOINT_VERSION, CheckpointError, save_checkpoint
from tanet.data.lists import read_class_names
from tanet.errors import TanetError, UsageError
from tanet.models import build_model

from .loading import load_weights, read_checkpoint, settle_architecture
from .weights import kinetics400_class_names, sha256_file

__all__ = ["convert_checkpoint"]


def _class_names(spec: Union[str, os.PathLike, Sequence[str]], num_classes: int) -> list[str]:
    if isinstance(spec, (str, os.PathLike)):
        names = kinetics400_class_names() if str(spec) == "kinetics400" else read_class_names(spec)
    else:
        names = list(spec)
    if len(names) != num_classes:
        raise TanetError(f"{len(names)} class names for a model with {num_classes} classes")
    return names


def convert_checkpoint(
    source: Union[str, os.PathLike],
    destination: Union[str, os.PathLike],
    *,
    source_format: str = "auto",
    model: Optional[str] = None,
    num_segments: Optional[int] = None,
    class_names: Union[str, os.PathLike, Sequence[str], None] = None,
    **model_overrides: Any,
) -> dict:
    """Convert ``source`` to a native checkpoint at ``destination``; returns the written dict.

    The architecture is inferred from the weights (depth, width, classes, TAM shape and frames);
    ``model``, ``num_segments`` and ``model_overrides`` (e.g. ``tam_position``) override it, and must be
    given where the file leaves them open (``num_segments`` of TSN/TSM/I3D weights, TSN or TSM for a
    bare state dict): nothing is guessed (:func:`~tanet.interop.loading.settle_architecture`). ``class_names``
    is a file (one per line), a list, or ``"kinetics400"``. The weights are loaded strictly into the
    rebuilt model before anything is written.
    """
    loaded = read_checkpoint(Path(source), source_format)
    if loaded.backbone_only:
        raise CheckpointError(source, "a 2D image backbone has no video architecture to convert; "
                                      "use it with --pretrained when training")
    name, config = settle_architecture(loaded, model, num_segments=num_segments, **model_overrides)
    try:
        built = build_model(name, **config)
    except UsageError:  # a misspelled --model, or a value no model takes: the command's to fix
        raise
    except (TypeError, ValueError) as error:
        raise CheckpointError(source, f"cannot build {name} with {config}: {error}") from None
    load_weights(built, loaded)
    names = _class_names(class_names, built.num_classes) if class_names is not None else loaded.class_names
    state = {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "model": built.state_dict(),
        "model_config": built.model_config,
        "class_names": names,
        "converted_from": {"path": str(source), "format": loaded.source_format, "sha256": sha256_file(source)},
    }
    save_checkpoint(destination, state)
    return state
