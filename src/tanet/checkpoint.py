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

Checkpoints of other code may carry Python objects beside their weights (MMAction2's runner writes
mmengine's ``message_hub``); :func:`load_checkpoint_inert` reads such files without running any of
their code: every global outside a small allowlist (tensor rebuilding, ``OrderedDict``, numpy
numbers) becomes an inert placeholder, allowed only outside the weights, and is reported by name.

Every path that puts weights into a model ends in :func:`load_state_checked`, which names the file
and lists missing, unexpected and mis-shaped keys.
"""
from __future__ import annotations

import _compat_pickle
import collections
import os
import pickle
import warnings
import re
import types
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
    "load_checkpoint_inert",
    "strip_ansi",
    "is_native_checkpoint",
    "extract_model_state",
    "strip_module_prefix",
    "load_state_checked",
    "nonfinite_tensors",
    "refuse_nonfinite",
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
        refused = _refused_global(error)
        raise CheckpointError(
            path, "refused to load: the file holds Python objects that are not plain tensors/containers"
            + (f" ({refused})" if refused else "") + ", and untrusted pickles are never executed"
        ) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as error:
        raise CheckpointError(path, f"not a readable PyTorch checkpoint (truncated or corrupt?): "
                                    f"{_first_line(error)}") from None
    if not isinstance(data, dict):
        raise CheckpointError(path, f"expected a dict at the top level, got {type(data).__name__}")
    return data


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def strip_ansi(text: str) -> str:
    """``text`` without terminal colour codes (torch puts some in its error messages)."""
    return _ANSI.sub("", text)


def _first_line(error: BaseException) -> str:
    text = strip_ansi(str(error)).strip().splitlines()
    return text[0] if text else type(error).__name__


def _refused_global(error: BaseException) -> str:
    """The class torch's weights-only unpickler refused, from its (long, coloured) message."""
    text = strip_ansi(str(error))
    match = re.search(r"GLOBAL ([\w.]+)", text)
    if match:
        return f"class {match.group(1)}"
    if "Unsupported operand" in text:  # a pickle stream torch.save never writes (e.g. pickle.dump)
        return "a plain pickle, not a file written by torch.save"
    detail = re.search(r"WeightsUnpickler error:\s*(.+)", text)
    return detail.group(1).strip() if detail else _first_line(error)


# --------------------------------------------------------------------------- inert unpickling


class _Inert:
    """Stands for an object whose class the file names but which is never rebuilt: construction,
    ``__setstate__`` and item/append calls from the pickle stream do nothing."""

    _global_name = "?"

    def __new__(cls, *args: Any, **kwargs: Any):
        return object.__new__(cls)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __setstate__(self, state: Any) -> None:
        pass

    def __setitem__(self, key: Any, value: Any) -> None:
        pass

    def append(self, value: Any) -> None:
        pass

    def extend(self, values: Any) -> None:
        pass

    def __repr__(self) -> str:
        return f"<not loaded: {self._global_name}>"


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks, metadata=None):
    # as torch's, but a tensor never gets hooks (callables) from the file
    return torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad,
                                           collections.OrderedDict(), metadata)


def _rebuild_parameter(data, requires_grad, backward_hooks):
    return torch._utils._rebuild_parameter(data, requires_grad, collections.OrderedDict())


def _latin1_bytes(text: str, encoding: str = "latin1") -> bytes:
    """``_codecs.encode`` as protocol-2 pickles use it for bytes, and for nothing else."""
    if encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError(f"refused _codecs.encode(..., {encoding!r})")
    return text.encode("latin1")


def _allowed_globals() -> dict[tuple[str, str], Any]:
    """The globals rebuilt for real: tensors, ``OrderedDict``, plain builtins, numpy numbers/arrays.
    None of them runs code from the file (no ``getattr``, no arbitrary callables, no tensor hooks)."""
    import numpy as np

    allowed: dict[tuple[str, str], Any] = {
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
        ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
        ("torch", "Size"): torch.Size,
        ("torch", "device"): torch.device,
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("collections", "Counter"): collections.Counter,
        ("_codecs", "encode"): _latin1_bytes,  # bytes in protocol-2 pickles
        ("builtins", "set"): set,
        ("builtins", "frozenset"): frozenset,
        ("builtins", "complex"): complex,
        ("builtins", "bytearray"): bytearray,
        ("numpy", "dtype"): np.dtype,
        ("numpy", "ndarray"): np.ndarray,
    }
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        core = getattr(np, "_core", None) or np.core
        allowed[(module, "scalar")] = core.multiarray.scalar
        allowed[(module, "_reconstruct")] = core.multiarray._reconstruct
    for name in ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
                 "float16", "float32", "float64"):
        dtype_class = type(np.dtype(name))
        allowed[("numpy.dtypes", dtype_class.__name__)] = dtype_class
    for name in dir(torch):
        if isinstance(getattr(torch, name, None), torch.dtype):
            allowed[("torch", name)] = getattr(torch, name)
    return allowed


def _inert_pickle_module(ignored: list[str]) -> types.ModuleType:
    """A ``pickle_module`` for ``torch.load`` whose unpickler rebuilds only allowed globals."""
    allowed = _allowed_globals()
    placeholders: dict[str, type] = {}

    class Unpickler(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> Any:
            if (module, name) in _compat_pickle.NAME_MAPPING:  # Python 2 names in protocol-2 pickles
                module, name = _compat_pickle.NAME_MAPPING[(module, name)]
            module = _compat_pickle.IMPORT_MAPPING.get(module, module)
            if (module, name) in allowed:
                return allowed[(module, name)]
            full = f"{module}.{name}"
            if full not in placeholders:
                placeholders[full] = type(f"Inert[{full}]", (_Inert,), {"_global_name": full})
                ignored.append(full)
            return placeholders[full]

    module = types.ModuleType("tanet_inert_pickle")
    module.Unpickler = Unpickler
    module.load = lambda file, **kwargs: Unpickler(file, **kwargs).load()
    return module


def _without_placeholders(value: Any) -> Any:
    """The loaded structure with each placeholder replaced by its ``<not loaded: ...>`` text."""
    if isinstance(value, _Inert):
        return repr(value)
    if isinstance(value, dict) and not isinstance(value, torch.Tensor):
        cleaned = type(value)() if type(value) in (dict, collections.OrderedDict) else {}
        for key, item in value.items():
            cleaned[_without_placeholders(key)] = _without_placeholders(item)
        return cleaned
    if isinstance(value, (list, tuple)):
        items = [_without_placeholders(item) for item in value]
        return items if isinstance(value, list) else tuple(items)
    return value


def _placeholders_in(weights: Mapping[str, Any]) -> list[str]:
    return [f"{key} ({value._global_name})" for key, value in weights.items() if isinstance(value, _Inert)] + [
        f"{key} ({type(value).__name__})" for key, value in weights.items()
        if not isinstance(value, (torch.Tensor, _Inert))]


def load_checkpoint_inert(path: PathLike, map_location: Any = "cpu") -> tuple[dict, list[str]]:
    """Read a checkpoint that may carry Python objects beside its weights, running none of their code.

    Tries :func:`load_checkpoint_file` (``weights_only``) first. If the file holds other objects (an
    MMAction2/mmengine ``epoch_N.pth`` with its ``message_hub``), it is read again with an unpickler
    that rebuilds only tensors, ``OrderedDict``, plain builtins and numpy numbers, and turns every
    other global into an inert placeholder (shown as ``"<not loaded: module.Class>"`` in the result).
    Placeholders are accepted only outside the weights (``state_dict`` / ``model`` / a bare state
    dict), which must hold tensors only. Returns the checkpoint dict and the ignored global names.
    """
    try:
        return load_checkpoint_file(path, map_location), []
    except CheckpointError as error:
        if not error.reason.startswith("refused to load"):
            raise
    ignored: list[str] = []
    try:
        data = torch.load(Path(path), map_location=map_location, weights_only=False,
                          pickle_module=_inert_pickle_module(ignored))
    except Exception as error:  # noqa: BLE001 - whatever a foreign pickle does, report it as one line
        if "Invalid magic number" in str(error):  # torch's legacy reader on a stream torch.save never writes
            raise CheckpointError(path, "not a PyTorch checkpoint: a plain pickle (pickle.dump), not a file "
                                        "written by torch.save; save the weights with torch.save") from None
        raise CheckpointError(path, f"cannot read the weights without running the file's code: "
                                    f"{type(error).__name__}: {_first_line(error)}") from None
    if not isinstance(data, dict):
        raise CheckpointError(path, f"expected a dict at the top level, got {type(data).__name__}")
    weights = extract_model_state(data, source=path)
    bad = _placeholders_in(weights)
    if bad:
        raise CheckpointError(path, "refused to load: the weights hold Python objects that are not tensors: "
                                    + _listing(bad) + "; untrusted pickles are never executed")
    return _without_placeholders(data), ignored


def is_native_checkpoint(data: Mapping[str, Any]) -> bool:
    return data.get("format") == CHECKPOINT_FORMAT


def extract_model_state(checkpoint: Mapping[str, Any], source: Any = None) -> dict:
    """The model state dict inside a checkpoint dict: native ``model``, a ``state_dict`` / ``model``
    / ``model_state`` wrapper (MMAction2, torchvision/timm training scripts), or a bare state dict."""
    if is_native_checkpoint(checkpoint):
        return dict(checkpoint["model"])
    wrappers = ("state_dict", "model", "model_state")
    for key in wrappers:
        if isinstance(checkpoint.get(key), Mapping):
            return dict(checkpoint[key])
    if checkpoint and all(isinstance(v, torch.Tensor) for v in checkpoint.values()):
        return dict(checkpoint)
    for key in wrappers:
        value = checkpoint.get(key)
        if value is not None:  # e.g. torch.save({"model": model}): a whole pickled module, not its weights
            what = value._global_name if isinstance(value, _Inert) else type(value).__name__
            raise CheckpointError(source, f"its {key!r} entry is a pickled Python object ({what}), not a state "
                                          "dict of tensors; tanet reads weights only and never runs a file's code, "
                                          "so it cannot rebuild that object: save the weights instead, "
                                          f"torch.save({{{key!r}: model.state_dict()}}, FILE)")
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


def nonfinite_tensors(tensors: Iterable[tuple[str, torch.Tensor]]) -> tuple[list[str], int]:
    """The names of the floating-point tensors holding NaN/inf, and how many tensors were looked at."""
    bad, total = [], 0
    for name, tensor in tensors:
        total += 1
        if isinstance(tensor, torch.Tensor) and tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            bad.append(name)
    return bad, total


def refuse_nonfinite(source: Any, tensors: Iterable[tuple[str, torch.Tensor]]) -> None:
    """A :class:`CheckpointError` when any weight or buffer holds NaN/inf (a diverged training): every
    score such weights give, and every fine-tuning started from them, would be meaningless."""
    bad, total = nonfinite_tensors(tensors)
    if bad:
        raise CheckpointError(source, f"holds NaN/inf values in {len(bad)} of {total} weight and buffer tensors "
                                      f"(e.g. {', '.join(bad[:3])}): the training that wrote it diverged; use a "
                                      "checkpoint of an earlier epoch")
