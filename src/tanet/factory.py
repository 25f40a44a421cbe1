"""``create_model``: a registered architecture, with weights from wherever the user has them.

As timm's ``_factory`` sits above its ``_registry``, this sits above :mod:`tanet.models` (names and
architectures) and below the engine. Every weight source goes through the one loader,
:func:`tanet.interop.loading.load_weights`:

* ``checkpoint=FILE`` — a video checkpoint (tanet, official TAM, MMAction2); the architecture
  arguments not given come from the file, and the weights must fit exactly;
* ``weights=NAME`` / ``pretrained=True`` — a published checkpoint of the registry, read from the
  cache or ``weights_path=FILE`` and checked against its checksum (nothing is downloaded unless
  ``download=True``);
* ``pretrained=FILE`` — a 2D ImageNet ResNet (torchvision/timm keys) for the 2D part; temporal
  modules and the classifier start fresh (the official recipes' initialisation);
* ``init_from=FILE`` — fine-tuning: a video checkpoint's backbone and temporal modules; its
  classifier too when the class count matches, else a fresh one.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional, Union

from torch import nn

from tanet.checkpoint import CheckpointError
from tanet.errors import UsageError
from tanet.interop.loading import LoadedCheckpoint, LoadReport, load_weights, read_checkpoint
from tanet.interop.weights import WEIGHTS, PretrainedWeights, get_weights, resolve_weights_file
from tanet.models import build_model

__all__ = ["create_model", "load_model", "load_pretrained_2d"]

PathLike = Union[str, os.PathLike]


def _architecture_from(loaded: LoadedCheckpoint, name: Optional[str], overrides: dict) -> tuple[str, dict]:
    config = dict(loaded.model_config or {})
    file_name = config.pop("name", None)
    config.pop("pretrained", None)
    config.update({key: value for key, value in overrides.items() if value is not None})
    return name or file_name, config


def load_model(checkpoint: PathLike, *, name: Optional[str] = None, source_format: str = "auto",
               **overrides: Any) -> tuple[nn.Module, LoadedCheckpoint]:
    """Rebuild the model stored in ``checkpoint`` (any known layout), load its weights strictly.

    The architecture comes from the file (``model_config``, or inferred from the weights); ``name`` and
    ``overrides`` replace parts of it (e.g. ``num_segments=16`` to test with more frames). Returns the
    model in eval mode and what was read (class names, training config, ...).
    """
    loaded = read_checkpoint(Path(checkpoint), source_format)
    if loaded.backbone_only:
        raise CheckpointError(checkpoint, "this is a 2D image backbone, not a video model; use "
                                          "create_model(NAME, pretrained=FILE) to start a video model from it")
    model_name, architecture = _architecture_from(loaded, name, overrides)
    try:
        model = build_model(model_name, **architecture)
    except (TypeError, ValueError) as error:
        raise CheckpointError(checkpoint, f"cannot build {model_name} with {architecture}: {error}") from None
    load_weights(model, loaded)
    return model.eval(), loaded


def _published(entry: PretrainedWeights, name: str, num_classes, num_segments, weights_path, download,
               allow_unverified) -> Path:
    if entry.model != name:
        raise UsageError(f"weights {entry.name!r} are for {entry.model!r}, not {name!r}")
    for arg, given, expected in (("num_classes", num_classes, entry.num_classes),
                                 ("num_segments", num_segments, entry.num_segments)):
        if given is not None and given != expected:
            raise UsageError(f"weights {entry.name!r} have {arg}={expected}, got {arg}={given} "
                             "(to fine-tune on other classes use init_from=FILE)")
    return resolve_weights_file(entry, weights_path, download=download, allow_unverified=allow_unverified)


def create_model(
    name: Optional[str] = None,
    num_classes: Optional[int] = None,
    num_segments: Optional[int] = None,
    *,
    pretrained: Union[bool, PathLike, None] = None,
    weights: Union[str, PretrainedWeights, None] = None,
    weights_path: Optional[PathLike] = None,
    download: bool = False,
    allow_unverified: bool = False,
    checkpoint: Optional[PathLike] = None,
    init_from: Optional[PathLike] = None,
    **architecture: Any,
) -> nn.Module:
    """Build a registered model (see :func:`tanet.list_models`) and load weights into it.

    Args:
        name: e.g. ``tanet_r50``, ``tsn_r18``, ``tsm_r50``, ``i3d311_r50``; may be left out with
            ``checkpoint=`` (read from the file).
        num_classes: classifier size (default 400); num_segments: frames per clip T (default 8).
        pretrained: ``True`` for the model's published weights (timm's form; see ``weights``), or a
            2D ImageNet ResNet file for the 2D part.
        weights: a published checkpoint by name (``tanet.interop.list_weights()``), from the cache or
            ``weights_path=FILE``, checked against its SHA-256 (``download=True``,
            ``allow_unverified=True`` as in :func:`tanet.interop.resolve_weights_file`).
        checkpoint: a video checkpoint file to rebuild (architecture from the file, strict weights).
        init_from: a video checkpoint to fine-tune from (classifier reset when the class count differs).
        **architecture: ``dropout``, ``width``, ``temporal_stages``, ``tam_position``, ``tam_alpha``,
            ``tam_beta``, ``tam_kernel_size``, ``tam_branches``, ``shift_fold_div``, ``inflate_size``, ...

    The model's ``model_config`` rebuilds the same architecture: ``create_model(**model.model_config)``.
    """
    sources = [label for label, value in (("checkpoint", checkpoint), ("init_from", init_from),
                                           ("weights", weights), ("pretrained", pretrained)) if value not in (None, False)]
    if len(sources) > 1:
        raise UsageError(f"give one weight source, not {' and '.join(sources)}")
    if weights_path is not None and weights is None and pretrained is not True:
        raise UsageError("weights_path= needs weights= (a registry name) or pretrained=True; "
                         "use checkpoint=FILE for a plain file")
    if checkpoint is not None:
        model, _ = load_model(checkpoint, name=name, num_classes=num_classes, num_segments=num_segments, **architecture)
        return model.train()
    if name is None:
        raise UsageError("create_model needs a model name (see tanet.list_models()) or checkpoint=FILE")
    if pretrained is True and weights is None:
        # the registry lists each model's reference weights first (the official release)
        published = [entry for entry in WEIGHTS.values() if entry.model == name]
        if not published:
            raise UsageError(f"no published weights for {name!r}; published weights exist for "
                             f"{', '.join(sorted({entry.model for entry in WEIGHTS.values()}))} "
                             "(a 2D ImageNet file: pretrained=FILE)")
        weights = published[0]
    if weights is not None:
        entry = get_weights(weights)
        path = _published(entry, name, num_classes, num_segments, weights_path, download, allow_unverified)
        model, _ = load_model(path, name=name, **architecture)
        if getattr(model, "class_names", None) is None and entry.load_class_names() is not None:
            model.class_names = entry.load_class_names()
        return model.train()
    model = build_model(name, num_classes, num_segments, **architecture)
    if init_from is not None:
        load_weights(model, init_from, classifier="auto")
    elif pretrained not in (None, False):
        load_pretrained_2d(model, pretrained)
    return model


def load_pretrained_2d(model: nn.Module, source: PathLike) -> list[str]:
    """Load a 2D ImageNet ResNet file into the 2D part of ``model``; returns the keys left at their
    initialisation (the temporal modules). A video checkpoint is refused with a pointer to ``init_from``."""
    loaded = read_checkpoint(Path(source))
    if not loaded.backbone_only:
        raise CheckpointError(source, f"pretrained= takes a 2D ImageNet ResNet; this is a {loaded.source_format} "
                                      "video checkpoint: fine-tune from it with init_from=FILE (CLI --init-from)")
    report: LoadReport = load_weights(model, loaded)
    return report.left_at_init

