"""``create_model``: a registered architecture, with weights from wherever the user has them.

As timm's ``_factory`` sits above its ``_registry``, this sits above :mod:`tanet.models` (names and
architectures) and below the engine. Every weight source goes through the one loader,
:func:`tanet.interop.loading.load_weights`:

* ``checkpoint=FILE`` — a video checkpoint (tanet, official TAM, MMAction2); the architecture
  arguments not given come from the file, and the weights must fit exactly; what the file leaves
  open (TSN or TSM, the frames of a TSN) must be given, never guessed;
* ``weights=NAME`` / ``pretrained=True`` — a published checkpoint of the registry, read from the
  cache or ``weights_path=FILE``, downloaded into ``$TANET_HOME/weights`` on first use and checked
  against its checksum;
* ``pretrained="imagenet"`` (or ``"imagenet:resnet50"``) — torchvision's ImageNet ResNet of the
  model's depth, downloaded on first use; ``pretrained=FILE`` — any 2D ImageNet ResNet file
  (torchvision/timm keys) for the 2D part; temporal modules and the classifier start fresh (the
  official recipes' initialisation); ``pretrained="scratch"`` — nothing, on purpose;
* ``init_from=FILE`` — fine-tuning: a video checkpoint's backbone and temporal modules; its
  classifier too when the class count matches, else a fresh one. ``init_partial=True`` also takes a
  checkpoint of another family (TSN/TSM -> TANet): the shared 2D backbone is loaded, the rest stays fresh.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Optional, Union

from torch import nn

from tanet.checkpoint import CheckpointError, refuse_nonfinite
from tanet.errors import UsageError
from tanet.interop.imagenet import is_imagenet, resolve_imagenet_file
from tanet.interop.loading import LoadedCheckpoint, LoadReport, load_weights, read_checkpoint, settle_architecture
from tanet.interop.partial import load_partial
from tanet.interop.weights import WEIGHTS, PretrainedWeights, get_weights, resolve_weights_file
from tanet.models import build_model

__all__ = ["create_model", "load_model", "load_pretrained_2d", "ModelRecord", "record_of", "SCRATCH"]

PathLike = Union[str, os.PathLike]
SCRATCH = "scratch"  # pretrained="scratch": no 2D weights, chosen


@dataclass(frozen=True)
class ModelRecord:
    """What a model loaded from a file remembers of it (``model.record``), so that inference on the model
    in memory preprocesses as the file says, without reading it again (:func:`tanet.predict`)."""

    source: str  # the file
    recipe: Optional[dict] = field(default=None, repr=False)  # the training recipe it stores (None: none)
    class_names: Optional[tuple] = None
    weights: Optional[str] = None  # the published checkpoint it is (registry name)
    source_sha256: Optional[str] = None  # the SHA-256 of the file a converted checkpoint came from


def record_of(loaded: LoadedCheckpoint, weights: Optional[str] = None) -> ModelRecord:
    """The :class:`ModelRecord` of a file read (``weights``: the registry name it was published as)."""
    recipe = loaded.data.get("config")
    converted = loaded.data.get("converted_from")
    return ModelRecord(loaded.path, recipe if isinstance(recipe, dict) else None,
                       tuple(loaded.class_names) if loaded.class_names else None, weights,
                       converted.get("sha256") if isinstance(converted, dict) else None)


def load_model(checkpoint: PathLike, *, name: Optional[str] = None, source_format: str = "auto",
               **overrides: Any) -> tuple[nn.Module, LoadedCheckpoint]:
    """Rebuild the model stored in ``checkpoint`` (any known layout), load its weights strictly.

    The architecture comes from the file (``model_config``, or read off the weights); ``name`` and
    ``overrides`` replace parts of it (e.g. ``num_segments=16`` to test with more frames) and settle
    what the file leaves open: a bare TSN/TSM state dict needs ``name`` and ``num_segments``, a bare
    TANet state dict with an ambiguous TAM position ``tam_position``
    (:class:`~tanet.interop.architecture.AmbiguousArchitectureError` otherwise). Returns the model in
    eval mode, carrying ``model.record`` (:class:`ModelRecord`), and what was read (class names,
    training config, ...).
    """
    loaded = read_checkpoint(Path(checkpoint), source_format)
    if loaded.backbone_only:
        raise CheckpointError(checkpoint, "this is a 2D image backbone, not a video model; use "
                                          "create_model(NAME, pretrained=FILE) to start a video model from it")
    model_name, architecture = settle_architecture(loaded, name, **overrides)
    try:
        model = build_model(model_name, **architecture)
    except UsageError:  # a misspelled --model, or a value no model takes: the command's to fix
        raise
    except (TypeError, ValueError) as error:
        raise CheckpointError(checkpoint, f"cannot build {model_name} with {architecture}: {error}") from None
    load_weights(model, loaded)
    model.record = record_of(loaded)
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
    download: bool = True,
    allow_unverified: bool = False,
    checkpoint: Optional[PathLike] = None,
    init_from: Optional[PathLike] = None,
    init_partial: bool = False,
    **architecture: Any,
) -> nn.Module:
    """Build a registered model (see :func:`tanet.list_models`) and load weights into it.

    Args:
        name: e.g. ``tanet_r50``, ``tsn_r18``, ``tsm_r50``, ``i3d311_r50``; may be left out with
            ``checkpoint=`` (read from the file).
        num_classes: classifier size (default 400); num_segments: frames per clip T (default 8).
        pretrained: ``True`` for the model's published weights (timm's form; see ``weights``);
            ``"imagenet"`` / ``"imagenet:resnet50"`` for torchvision's ImageNet ResNet (downloaded on
            first use), or a 2D ImageNet ResNet file, for the 2D part; ``"scratch"``: none.
        weights: a published checkpoint by name (``tanet.interop.list_weights()``), from the cache or
            ``weights_path=FILE``, else downloaded (``download=False``: never), checked against its
            SHA-256 (``allow_unverified=True`` as in :func:`tanet.interop.resolve_weights_file`).
        checkpoint: a video checkpoint file to rebuild (architecture from the file, strict weights).
        init_from: a video checkpoint to fine-tune from (classifier reset when the class count differs);
            with ``init_partial=True`` also one of another family (TSN/TSM -> TANet): what fits is loaded.
        **architecture: ``dropout``, ``width``, ``temporal_stages``, ``tam_position``, ``tam_alpha``,
            ``tam_beta``, ``tam_kernel_size``, ``tam_branches``, ``shift_fold_div``, ``inflate_size``, ...

    The model's ``model_config`` rebuilds the same architecture: ``create_model(**model.model_config)``.
    """
    if pretrained == SCRATCH:
        pretrained = None
    sources = [label for label, value in (("checkpoint", checkpoint), ("init_from", init_from),
                                           ("weights", weights), ("pretrained", pretrained)) if value not in (None, False)]
    if len(sources) > 1:
        raise UsageError(f"give one weight source, not {' and '.join(sources)}")
    if weights_path is not None and weights is None and pretrained is not True:
        raise UsageError("weights_path= needs weights= (a registry name) or pretrained=True; "
                         "use checkpoint=FILE for a plain file")
    if init_partial and init_from is None:
        raise UsageError("init_partial=True goes with init_from=FILE")
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
                             "(ImageNet 2D weights: pretrained='imagenet'; a 2D file: pretrained=FILE)")
        weights = published[0]
    if weights is not None:
        try:
            entry = get_weights(weights)
        except KeyError as error:
            raise UsageError(error.args[0]) from None
        path = _published(entry, name, num_classes, num_segments, weights_path, download, allow_unverified)
        model, loaded = load_model(path, name=name, num_segments=entry.num_segments, **architecture)
        if getattr(model, "class_names", None) is None and entry.load_class_names() is not None:
            model.class_names = entry.load_class_names()
        names = getattr(model, "class_names", None)
        model.record = replace(record_of(loaded, entry.name), class_names=tuple(names) if names else None)
        return model.train()
    model = build_model(name, num_classes, num_segments, **architecture)
    if init_from is not None:
        init_weights(model, init_from, partial=init_partial)
    elif pretrained not in (None, False):
        load_pretrained_2d(model, pretrained, download=download)
    return model


def init_weights(model: nn.Module, source: Union[PathLike, LoadedCheckpoint], *, partial: bool = False,
                 classifier: str = "auto") -> LoadReport:
    """Fine-tuning's load: the video checkpoint ``source`` into ``model``, its classifier as ``classifier``
    says (``"auto"``: when its shape fits). A checkpoint with NaN/inf weights is refused. ``partial``: a
    checkpoint of another family is welcome; the shared 2D backbone must fit, everything else the model
    has stays fresh and is listed in the report (:func:`tanet.interop.partial.load_partial`)."""
    loaded = source if isinstance(source, LoadedCheckpoint) else read_checkpoint(Path(source))
    if loaded.backbone_only:
        raise CheckpointError(loaded.path, "this is a 2D ImageNet backbone, not a video checkpoint: start from it "
                                           "with pretrained=FILE (CLI --pretrained FILE)")
    refuse_nonfinite(loaded.path, loaded.state_dict.items())
    if partial:
        return load_partial(model, loaded, classifier=classifier)
    return load_weights(model, loaded, classifier=classifier)


def load_pretrained_2d(model: nn.Module, source: PathLike, *, download: bool = True) -> list[str]:
    """Load a 2D ImageNet ResNet into the 2D part of ``model``: a file, or ``"imagenet"`` /
    ``"imagenet:resnet50"`` (torchvision's, downloaded on first use). Returns the keys left at their
    initialisation (the temporal modules). A video checkpoint is refused with a pointer to ``init_from``."""
    if is_imagenet(source):
        config = getattr(model, "model_config", {}) or {}
        source = resolve_imagenet_file(str(source), config.get("name"), config.get("width", 1.0), download=download)
    loaded = read_checkpoint(Path(source))
    if not loaded.backbone_only:
        raise CheckpointError(source, f"pretrained= takes a 2D ImageNet ResNet; this is a {loaded.source_format} "
                                      "video checkpoint: fine-tune from it with init_from=FILE (CLI --init-from)")
    report: LoadReport = load_weights(model, loaded)
    return report.left_at_init
