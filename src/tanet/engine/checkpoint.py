"""Checkpoint files: atomic writes, safe loading, RNG state capture.

The native checkpoint is a plain ``dict`` of tensors, lists, dicts, numbers and strings,
so :func:`load_checkpoint_file` can use ``torch.load(weights_only=True)`` and never runs
pickled code. Keys written by the trainer::

    format        "tanet-checkpoint"
    version       1
    model         model state dict
    model_config  dict that rebuilds the architecture: tanet.create_model(**model_config)
    class_names   list[str] or None
    epoch         number of finished epochs
    optimizer, scheduler, scaler, rng, config, best_top1, history   (training state)
"""
from __future__ import annotations

import os
import pickle
import random
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Union

import numpy as np
import torch
from torch import nn

CHECKPOINT_FORMAT = "tanet-checkpoint"
CHECKPOINT_VERSION = 1


class CheckpointError(RuntimeError):
    """A checkpoint file is missing, corrupt, untrusted or does not fit the model."""

    def __init__(self, path: Union[str, os.PathLike, None], reason: str):
        self.path = None if path is None else str(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}" if path is not None else reason)


def save_checkpoint(path: Union[str, os.PathLike], state: Mapping[str, Any],
                    *, _before_replace: Optional[Callable[[str], None]] = None) -> Path:
    """Write ``state`` to ``path`` atomically.

    The bytes go to a temporary file in the same folder, are flushed and fsync'ed, and
    the temporary file is renamed over ``path`` with ``os.replace`` (atomic on POSIX and
    Windows). A crash at any point leaves either the old file or the new one, never a
    half-written file. ``_before_replace`` is a test hook called with the temporary path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(dict(state), handle)
            handle.flush()
            os.fsync(handle.fileno())
        if _before_replace is not None:
            _before_replace(tmp_name)
        os.replace(tmp_name, path)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(path.parent)
    return path


def _fsync_dir(folder: Path) -> None:
    # Make the rename itself durable; not possible on every platform (e.g. Windows).
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def load_checkpoint_file(path: Union[str, os.PathLike], map_location: Any = "cpu") -> dict:
    """Read a checkpoint with ``torch.load(weights_only=True)``; clear errors otherwise.

    Returns the stored dict. A file holding anything but tensors and plain containers is
    refused (``weights_only`` never unpickles arbitrary objects).
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointError(path, "no such checkpoint file")
    if path.is_dir():
        raise CheckpointError(path, "is a folder, not a checkpoint file")
    if path.stat().st_size == 0:
        raise CheckpointError(path, "file is empty (an interrupted download or copy?)")
    try:
        data = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        raise CheckpointError(
            path, "refused to load: the file holds Python objects that are not plain tensors/"
            f"containers, and untrusted pickles are never executed ({_first_line(error)})"
        ) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as error:
        raise CheckpointError(path, f"not a readable PyTorch checkpoint (truncated or corrupt?): "
                                    f"{_first_line(error)}") from None
    if not isinstance(data, dict):
        raise CheckpointError(path, f"expected a dict at the top level, got {type(data).__name__}")
    return data


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def extract_model_state(checkpoint: Mapping[str, Any], source: Any = None) -> dict:
    """The model state dict inside a checkpoint dict (native layout, or a bare state dict)."""
    if checkpoint.get("format") == CHECKPOINT_FORMAT:
        return dict(checkpoint["model"])
    for key in ("model", "state_dict"):
        if isinstance(checkpoint.get(key), Mapping):
            return dict(checkpoint[key])
    if checkpoint and all(isinstance(v, torch.Tensor) for v in checkpoint.values()):
        return dict(checkpoint)
    raise CheckpointError(source, "no model weights found (expected a 'model' or 'state_dict' "
                                  f"entry, or a bare state dict); top-level keys: {sorted(checkpoint)[:10]}")


def load_model_state(model: nn.Module, state_dict: Mapping[str, torch.Tensor], *,
                     source: Any = None, strict: bool = True) -> None:
    """Load ``state_dict`` into ``model``, naming missing/unexpected/mis-shaped keys on error.

    This is the single native entry point for putting weights into a model; foreign
    layouts (official TAM, MMAction2) are converted to this layout before calling it.
    A ``module.`` prefix (DataParallel/DDP) is stripped.
    """
    state_dict = {_strip_prefix(k): v for k, v in state_dict.items()}
    own = model.state_dict()
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
    if strict and missing:
        problems.append("missing keys: " + _listing(missing))
    if strict and unexpected:
        problems.append("unexpected keys: " + _listing(unexpected))
    if problems:
        raise CheckpointError(source, "weights do not fit the model; " + "; ".join(problems))
    model.load_state_dict(state_dict, strict=strict)


def _strip_prefix(key: str) -> str:
    return key[len("module."):] if key.startswith("module.") else key


def _listing(keys: list[str], limit: int = 12) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f", ... ({len(keys) - limit} more)" if len(keys) > limit else "")


def load_trained_model(path: Union[str, os.PathLike], map_location: Any = "cpu",
                       **overrides: Any) -> tuple[nn.Module, dict]:
    """Rebuild the model stored in a tanet checkpoint and load its weights.

    The architecture comes from the checkpoint's ``model_config`` (``overrides`` replace
    entries, e.g. ``num_segments=16`` to test with more frames). Returns ``(model in eval
    mode, checkpoint dict)``.
    """
    import tanet

    checkpoint = load_checkpoint_file(path, map_location=map_location)
    model_config = checkpoint.get("model_config")
    if not isinstance(model_config, dict) or "name" not in model_config:
        raise CheckpointError(path, "no 'model_config' entry: the architecture cannot be rebuilt "
                                    "(was it written by `tanet train`?)")
    kwargs = {k: v for k, v in model_config.items() if k not in ("name", "pretrained")}
    kwargs.update(overrides)
    try:
        model = tanet.create_model(model_config["name"], **kwargs)
    except (TypeError, ValueError, KeyError) as error:
        raise CheckpointError(path, f"cannot rebuild model {model_config['name']!r} from "
                                    f"model_config {model_config}: {error}") from None
    load_model_state(model, extract_model_state(checkpoint, source=path), source=path)
    model.eval()
    return model, checkpoint


# ----------------------------------------------------------------------- RNG state

def capture_rng_state() -> dict:
    """Python, NumPy and torch (CPU, CUDA) generator states as tensors and plain values."""
    py_version, py_state, py_gauss = random.getstate()
    np_state = np.random.get_state()
    state = {
        "python": torch.tensor(py_state, dtype=torch.int64),
        "python_version": py_version,
        "python_gauss": py_gauss,
        "numpy_keys": torch.from_numpy(np_state[1].astype(np.int64)),
        "numpy_pos": int(np_state[2]),
        "numpy_has_gauss": int(np_state[3]),
        "numpy_gauss": float(np_state[4]),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: Mapping[str, Any]) -> None:
    """Inverse of :func:`capture_rng_state`."""
    random.setstate((state["python_version"], tuple(int(v) for v in state["python"].tolist()),
                     state["python_gauss"]))
    np.random.set_state(("MT19937", state["numpy_keys"].numpy().astype(np.uint32),
                         state["numpy_pos"], state["numpy_has_gauss"], state["numpy_gauss"]))
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        cuda_states = list(state["cuda"])
        if len(cuda_states) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all([s.cpu() for s in cuda_states])


__all__ = [
    "CHECKPOINT_FORMAT", "CHECKPOINT_VERSION", "CheckpointError", "save_checkpoint",
    "load_checkpoint_file", "extract_model_state", "load_model_state", "load_trained_model",
    "capture_rng_state", "restore_rng_state",
]
