"""Checkpoint files: the native format, atomic saving, safe loading, and the one key report.

The native checkpoint is a plain ``dict`` of tensors, lists, dicts, numbers and strings, so
:func:`load_checkpoint_file` reads it with ``torch.load(weights_only=True)`` and never runs pickled
code. Keys::

    format        "tanet-checkpoint"
    version       1
    model         model state dict
    model_config  dict that rebuilds the architecture: tanet.create_model(**model_config)
    class_names   list[str] or None
    epoch, optimizer, scheduler, scaler, rng_per_rank, config, best_top1, history   (training state)

Every path that puts weights into a model ends in :func:`load_state_checked`, which names the file
and lists missing, unexpected and mis-shaped keys.
"""
from __future__ import annotations

import os
import pickle
import warnings
import zipfile
from collections.abc import Iterable, Mapping
from contextlib import nullcontext
from pathlib import Path
from typing import Any, Callable, Optional, Union

import torch
from torch import nn

from tanet.errors import TanetError
from tanet.utils.io import atomic_write

__all__ = [
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_VERSION",
    "CheckpointError",
    "save_checkpoint",
    "load_checkpoint_file",
    "is_native_checkpoint",
    "extract_model_state",
    "strip_module_prefix",
    "load_state_checked",
]

CHECKPOINT_FORMAT = "tanet-checkpoint"
CHECKPOINT_VERSION = 1

PathLike = Union[str, os.PathLike]


class CheckpointError(TanetError, RuntimeError):
    """A checkpoint file is missing, corrupt, untrusted or does not fit the model."""

    def __init__(self, path: Optional[PathLike], reason: str):
        self.path = None if path is None else str(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}" if path is not None else reason)

    def __reduce__(self):
        return (type(self), (self.path, self.reason))


def save_checkpoint(path: PathLike, state: Mapping[str, Any], *,
                    _before_replace: Optional[Callable[[str], None]] = None) -> Path:
    """Write ``state`` to ``path`` atomically and durably (fsync'ed temporary file, then rename).

    A crash at any point leaves either the old file or the new one, never a half-written file.
    ``_before_replace`` is a test hook called with the temporary path.
    """
    with atomic_write(path, "wb", durable=True, before_replace=_before_replace) as handle:
        torch.save(dict(state), handle)
    return Path(path)


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


def load_checkpoint_file(path: PathLike, map_location: Any = "cpu", *, allow_numpy: bool = True) -> dict:
    """Read a checkpoint with ``torch.load(weights_only=True)``; clear errors otherwise.

    Returns the stored dict. A file holding anything but tensors, plain containers (and, with
    ``allow_numpy``, numpy numbers) is refused: untrusted pickles are never executed.
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointError(path, "no such checkpoint file")
    if path.is_dir():
        raise CheckpointError(path, "is a folder, not a checkpoint file")
    if path.stat().st_size == 0:
        raise CheckpointError(path, "file is empty (an interrupted download or copy?)")
    safe = getattr(torch.serialization, "safe_globals", None)
    context = safe(_numpy_safe_globals()) if (allow_numpy and safe is not None) else nullcontext()
    try:
        with context, warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Detected pickle protocol")  # a plain pickle; refused below
            data = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        raise CheckpointError(
            path, "refused to load: not a checkpoint of plain tensors and containers, and untrusted "
            f"pickles are never executed ({_unpickler_reason(error)})"
        ) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as error:
        raise CheckpointError(path, f"not a readable PyTorch checkpoint (truncated or corrupt?): "
                                    f"{_first_line(error)}") from None
    if not isinstance(data, dict):
        raise CheckpointError(path, f"expected a dict at the top level, got {type(data).__name__}")
    return data


def _unpickler_reason(error: BaseException) -> str:
    """The line of torch's long weights-only message that says what was refused."""
    text = str(error)
    marker = "WeightsUnpickler error:"
    if marker in text:
        reason = next((line.strip() for line in text.split(marker, 1)[1].splitlines() if line.strip()), "")
        if reason:
            return reason
    return _first_line(error)


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def is_native_checkpoint(data: Mapping[str, Any]) -> bool:
    return data.get("format") == CHECKPOINT_FORMAT


def extract_model_state(checkpoint: Mapping[str, Any], source: Any = None) -> dict:
    """The model state dict inside a checkpoint dict: native ``model``, a ``state_dict`` / ``model``
    / ``model_state`` wrapper (MMAction2, torchvision/timm training scripts), or a bare state dict."""
    if is_native_checkpoint(checkpoint):
        return dict(checkpoint["model"])
    for key in ("state_dict", "model", "model_state"):
        if isinstance(checkpoint.get(key), Mapping):
            return dict(checkpoint[key])
    if checkpoint and all(isinstance(v, torch.Tensor) for v in checkpoint.values()):
        return dict(checkpoint)
    raise CheckpointError(source, "no model weights found (expected a 'model' or 'state_dict' "
                                  f"entry, or a bare state dict); top-level keys: {sorted(checkpoint)[:10]}")


def strip_module_prefix(state: Mapping[str, Any]) -> dict[str, Any]:
    """Drop the ``module.`` prefix that DataParallel / DDP put on every key."""
    return {key[len("module."):] if key.startswith("module.") else key: value for key, value in state.items()}


def _listing(keys: list[str], limit: int = 12) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f", ... ({len(keys) - limit} more)" if len(keys) > limit else "")


def load_state_checked(model: nn.Module, state_dict: Mapping[str, torch.Tensor], *, source: Any = None,
                       allow_missing: Iterable[str] = (), strict: bool = True) -> list[str]:
    """Load ``state_dict`` into ``model``, naming the file and every missing, unexpected and
    mis-shaped key on error. Returns the model keys left at their initialisation.

    ``allow_missing``: model keys that may be absent (e.g. temporal modules when loading a 2D
    backbone). ``strict=False`` tolerates any missing or unexpected key (shapes are always checked).
    A ``module.`` prefix (DataParallel/DDP) is stripped.
    """
    state_dict = strip_module_prefix(state_dict)
    own = model.state_dict()
    allowed = set(allow_missing)
    mismatched = [
        f"{k} (checkpoint {tuple(v.shape)}, model {tuple(own[k].shape)})"
        for k, v in state_dict.items()
        if k in own and isinstance(v, torch.Tensor) and v.shape != own[k].shape
    ]
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    problems = []
    if mismatched:
        problems.append("shape mismatch: " + _listing(mismatched))
    if strict and [k for k in missing if k not in allowed]:
        problems.append("missing keys: " + _listing([k for k in missing if k not in allowed]))
    if strict and unexpected:
        problems.append("unexpected keys: " + _listing(unexpected))
    if problems:
        raise CheckpointError(source, "weights do not fit the model; " + "; ".join(problems))
    model.load_state_dict({k: v for k, v in state_dict.items() if k in own}, strict=False)
    return missing
