"""Load checkpoints of any known layout (native, official TAM, MMAction2) into tanet models."""
from __future__ import annotations

import os
from collections.abc import Mapping
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from tanet.engine.checkpoint import (
    CHECKPOINT_FORMAT,
    CheckpointError,
    extract_model_state,
    load_checkpoint_file,
    load_model_state,
)

from .architecture import ArchitectureError, infer_model_config
from .formats import UnknownFormatError, to_native

__all__ = ["LoadedCheckpoint", "read_checkpoint", "load_checkpoint", "create_model_with_weights"]


@dataclass
class LoadedCheckpoint:
    """A checkpoint file read and mapped to native keys."""

    path: str
    source_format: str  # "native", "official" or "mmaction2"
    state_dict: dict[str, torch.Tensor]
    model_config: dict[str, Any]  # create_model(**model_config) builds the matching model
    class_names: list[str] | None
    unrecognised_keys: list[str]


def _numpy_safe_globals() -> list[Any]:
    """numpy scalars/arrays of plain dtypes, as found in the metadata of MMAction2 checkpoints.

    ``weights_only`` loading stays on; these only rebuild numbers, never run code.
    """
    import numpy as np

    core = getattr(np, "_core", None) or np.core
    allowed: list[Any] = [core.multiarray.scalar, core.multiarray._reconstruct, np.ndarray, np.dtype]
    allowed += [type(np.dtype(name)) for name in ("bool", "int8", "int16", "int32", "int64", "uint8",
                                                   "float16", "float32", "float64")]
    return allowed


def _read_file(path: str | os.PathLike) -> dict:
    safe = getattr(torch.serialization, "safe_globals", None)
    with safe(_numpy_safe_globals()) if safe is not None else nullcontext():
        return load_checkpoint_file(path)


def _class_names_from_meta(data: Mapping[str, Any]) -> list[str] | None:
    meta = data.get("meta")
    if not isinstance(meta, Mapping):
        return None
    for holder in (meta, meta.get("dataset_meta")):
        if isinstance(holder, Mapping):
            for key in ("CLASSES", "classes"):
                names = holder.get(key)
                if isinstance(names, (list, tuple)) and all(isinstance(n, str) for n in names):
                    return list(names)
    return None


def read_checkpoint(path: str | os.PathLike, source_format: str = "auto") -> LoadedCheckpoint:
    """Read a checkpoint (``torch.load(weights_only=True)``), detect its layout, map it to native keys.

    The architecture comes from a native checkpoint's ``model_config``, else it is inferred from the
    weights (:func:`~tanet.interop.architecture.infer_model_config`).
    """
    data = _read_file(path)
    native_file = data.get("format") == CHECKPOINT_FORMAT
    state = extract_model_state(data, source=path)
    not_tensors = [key for key, value in state.items() if not isinstance(value, torch.Tensor)]
    if not_tensors:
        raise CheckpointError(path, f"the weights hold non-tensor entries: {not_tensors[:10]}")
    try:
        converted = to_native(state, "native" if native_file else source_format)
    except (UnknownFormatError, ValueError) as error:
        raise CheckpointError(path, str(error)) from None
    model_config = data.get("model_config") if native_file else None
    if not isinstance(model_config, dict) or "name" not in model_config:
        try:
            model_config = infer_model_config(converted.state_dict, temporal_shift=converted.temporal_shift)
        except ArchitectureError as error:
            raise CheckpointError(path, f"{converted.source_format} checkpoint: {error}") from None
    class_names = data.get("class_names") if native_file else _class_names_from_meta(data)
    return LoadedCheckpoint(
        str(path), converted.source_format, converted.state_dict, dict(model_config),
        list(class_names) if class_names else None, converted.unrecognised,
    )


def load_checkpoint(model: nn.Module, path: str | os.PathLike, *, source_format: str = "auto") -> LoadedCheckpoint:
    """Load weights of any known layout into ``model`` (strict).

    Detects the layout (native, official TAM ``module.base_model.*``, MMAction2 ``backbone.*`` +
    ``cls_head.*``), maps the keys and loads them; any missing, unexpected or mis-shaped key is a
    :class:`~tanet.engine.checkpoint.CheckpointError` that lists them and names the file. Returns what
    was read (layout, class names, the inferred architecture).
    """
    loaded = read_checkpoint(path, source_format)
    load_model_state(model, loaded.state_dict, source=f"{path} ({loaded.source_format} layout)")
    if loaded.class_names is not None:
        model.class_names = loaded.class_names
    return loaded


def create_model_with_weights(
    name: str,
    num_classes: int | None = None,
    num_segments: int | None = None,
    *,
    weights: Any = None,
    checkpoint: str | os.PathLike | None = None,
    weights_path: str | os.PathLike | None = None,
    download: bool = False,
    allow_unverified: bool = False,
    **kwargs: Any,
) -> nn.Module:
    """``create_model(name, ..., weights=...)`` / ``create_model(name, ..., checkpoint=PATH)``.

    With ``checkpoint`` the architecture arguments not given explicitly come from the file. With
    ``weights`` (a registry name or :class:`~tanet.interop.weights.PretrainedWeights`) the file is
    ``weights_path`` or the cached download, checked against its SHA-256 (see
    :func:`~tanet.interop.weights.resolve_weights_file`), and the class count and frames are the
    entry's. Explicit arguments that contradict the weights are an error.
    """
    from tanet.models.registry import create_model

    if weights is not None and checkpoint is not None:
        raise ValueError("pass either weights= (a registry entry) or checkpoint= (a file), not both")
    entry = None
    if weights is not None:
        from .weights import get_weights, resolve_weights_file

        entry = get_weights(weights)
        if entry.model != name:
            raise ValueError(f"weights {entry.name!r} are for {entry.model!r}, not {name!r}")
        for arg, given, expected in (("num_classes", num_classes, entry.num_classes),
                                     ("num_segments", num_segments, entry.num_segments)):
            if given is not None and given != expected:
                raise ValueError(f"weights {entry.name!r} have {arg}={expected}, got {arg}={given} "
                                 "(load them first, then call model.reset_classifier(n) to fine-tune)")
        checkpoint = resolve_weights_file(entry, weights_path, download=download, allow_unverified=allow_unverified)
    elif weights_path is not None:
        raise ValueError("weights_path= needs weights= (a registry name); use checkpoint=PATH for a plain file")
    loaded = read_checkpoint(Path(checkpoint))
    architecture = {k: v for k, v in loaded.model_config.items() if k not in ("name", "pretrained")}
    if num_classes is not None:
        architecture["num_classes"] = num_classes
    if num_segments is not None:
        architecture["num_segments"] = num_segments
    architecture.update(kwargs)
    model = create_model(name, **architecture)
    load_model_state(model, loaded.state_dict, source=f"{checkpoint} ({loaded.source_format} layout)")
    class_names = loaded.class_names
    if entry is not None:
        class_names = class_names or entry.load_class_names()
        model.pretrained_weights = entry
    if class_names is not None:
        model.class_names = class_names
    return model
