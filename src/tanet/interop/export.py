"""Export to ONNX (onnxruntime is the optional ``onnx`` extra) and ``torch.export`` programs (``tanet export``).

The exported graph takes clips (N, 3, T, H, W) with a dynamic batch N (T, H, W are fixed at export)
and returns logits (N, num_classes). While exporting, TAM switches to a loop-free formulation of the
same adaptive convolution (see ``tanet.modules.tam._export_friendly_temporal_conv``). By default the
exported graph is the fused inference path (``inference="fused"``: BatchNorm folded into the
convolutions, see :mod:`tanet.models.inference`); the model passed in is left as it is.

What a deployment needs to feed the graph travels with it (:func:`export_metadata`): class names,
mean/std, T, the crop size and the model name, as ONNX ``metadata_props`` or a ``tanet_metadata.json``
extra file of the ``.pt2``. An ONNX model is one file unless its weights pass protobuf's 2 GB limit;
then they go to ``<file>.onnx.data`` beside it (ONNX's external data) and :func:`export_onnx` says so.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Literal, Optional, Sequence

import torch
from torch import nn

from tanet.data.transforms import IMAGENET_MEAN, IMAGENET_STD
from tanet.errors import UsageError
from tanet.models.inference import prepare_for_inference
from tanet.utils.io import atomic_write

ExportInference = Literal["eager", "fused"]

__all__ = ["example_clips", "export_metadata", "export_program", "save_program", "export_onnx", "onnx_metadata",
           "onnx_data_file", "check_onnx", "recorded_input_size", "ONNX_SINGLE_FILE_LIMIT"]

# protobuf cannot serialise a message of 2 GiB or more; keep a margin for the graph itself
ONNX_SINGLE_FILE_LIMIT = 2 ** 31 - 2 ** 27


def export_metadata(model: nn.Module, size: int, *, class_names: Optional[Sequence[str]] = None,
                    mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD) -> dict[str, str]:
    """What a program needs to feed the exported graph, as strings (JSON where structured): the input
    layout and shape, mean/std of the 0..1 RGB pixels, T, the crop size, the model and its classes."""
    config = dict(getattr(model, "model_config", {}) or {})
    names = list(class_names) if class_names is not None else getattr(model, "class_names", None)
    return {
        "model": str(config.get("name", type(model).__name__)),
        "model_config": json.dumps(config),
        "input": "clips (N, 3, T, H, W) float32, RGB in 0..1 normalised by mean/std; output: logits (N, classes)",
        "num_segments": str(model.num_segments),
        "size": str(size),
        "mean": json.dumps([float(v) for v in mean]),
        "std": json.dumps([float(v) for v in std]),
        "num_classes": str(model.num_classes),
        "class_names": json.dumps(list(names) if names is not None else None),
    }


def example_clips(model: nn.Module, batch_size: int = 2, size: int = 224) -> torch.Tensor:
    """A random clip batch of the shape the model takes."""
    return torch.randn(batch_size, 3, model.num_segments, size, size)


def _batch_dim() -> dict:
    return {0: torch.export.Dim("batch", min=1, max=4096)}


def _prepared(model: nn.Module, inference: ExportInference) -> nn.Module:
    """A converted copy for ``"fused"``; the model itself, in eval mode, for ``"eager"``."""
    if inference not in ("eager", "fused"):
        raise UsageError(f"export takes inference='eager' or 'fused', got {inference!r}")
    # channels_last is no part of an exported graph (and torch.export.save warns about such weights)
    return model.eval() if inference == "eager" else prepare_for_inference(model, "fused", channels_last=False)


def export_program(
    model: nn.Module, clips: torch.Tensor, *, inference: ExportInference = "fused"
) -> torch.export.ExportedProgram:
    """``torch.export`` the model in eval mode with a dynamic batch dimension."""
    model = _prepared(model, inference)
    return torch.export.export(model, (clips,), dynamic_shapes=(_batch_dim(),))


def save_program(program: torch.export.ExportedProgram, path: str | os.PathLike,
                 metadata: Optional[dict[str, str]] = None) -> Path:
    """``torch.export.save`` atomically (a missing folder is made), with ``metadata`` as the extra file
    ``tanet_metadata.json`` (``torch.export.load(path, extra_files={"tanet_metadata.json": ""})``)."""
    extra = {"tanet_metadata.json": json.dumps(metadata)} if metadata is not None else None
    with atomic_write(path, "wb") as handle:
        torch.export.save(program, handle, extra_files=extra)
    return Path(path)


def onnx_data_file(path: str | os.PathLike) -> Path:
    """Where :func:`export_onnx` puts the weights of a model past the single-file limit."""
    return Path(f"{path}.data")


def _weight_bytes(model: nn.Module) -> int:
    return sum(t.numel() * t.element_size() for t in [*model.parameters(), *model.buffers()])


def export_onnx(
    model: nn.Module,
    path: str | os.PathLike,
    clips: torch.Tensor,
    *,
    exporter: Literal["dynamo", "torchscript"] = "dynamo",
    opset_version: int | None = None,
    inference: ExportInference = "fused",
    metadata: Optional[dict[str, str]] = None,
) -> Path:
    """Write an ONNX file with input ``clips`` and output ``logits``, batch dimension dynamic, and
    ``metadata`` as its ``metadata_props``; returns ``path``. It is the one file written unless the
    weights pass protobuf's 2 GB limit: then they are ONNX external data in ``<path>.data`` beside it.

    ``exporter="dynamo"`` (default) goes through ``torch.export``; ``"torchscript"`` uses the legacy
    tracer (faster to run, deprecated upstream). The files appear under their names only once complete
    (written in a temporary folder beside them, then renamed); a missing folder is made.
    """
    if exporter not in ("dynamo", "torchscript"):
        raise ValueError(f"exporter must be 'dynamo' or 'torchscript', got {exporter!r}")
    model = _prepared(model, inference)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    external = _weight_bytes(model) >= ONNX_SINGLE_FILE_LIMIT
    common = dict(input_names=["clips"], output_names=["logits"])
    if opset_version is not None:
        common["opset_version"] = opset_version
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        staged = staging / path.name  # the same name: an external-data file refers to it by name
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer/deprecation chatter
            if exporter == "dynamo":
                torch.onnx.export(model, (clips,), str(staged), dynamo=True, dynamic_shapes=(_batch_dim(),),
                                  external_data=external, verbose=False, **common)
            else:
                torch.onnx.export(model, (clips,), str(staged), dynamo=False,
                                  dynamic_axes={"clips": {0: "batch"}, "logits": {0: "batch"}}, **common)
        if metadata:
            _set_metadata(staged, metadata)
        for produced in staging.iterdir():  # the model, and its external data when there is some
            os.replace(produced, path.parent / produced.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return path


def _set_metadata(path: Path, metadata: dict[str, str]) -> None:
    import onnx

    proto = onnx.load(str(path), load_external_data=False)  # external tensors keep pointing at their file
    del proto.metadata_props[:]
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(proto, str(path))


def onnx_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The ``metadata_props`` of an ONNX file (see :func:`export_metadata`)."""
    import onnx

    proto = onnx.load(str(path), load_external_data=False)
    return {entry.key: entry.value for entry in proto.metadata_props}


def check_onnx(model: nn.Module, path: str | os.PathLike, clips: torch.Tensor) -> float:
    """Max abs difference between onnxruntime and eager logits on ``clips`` (needs onnxruntime)."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (onnx_logits,) = session.run(["logits"], {"clips": clips.numpy()})
    with torch.no_grad():
        eager = model.eval()(clips)
    return float((torch.from_numpy(onnx_logits) - eager).abs().max())


def recorded_input_size(data: dict) -> Optional[int]:
    """The crop size a tanet checkpoint was trained at (its recipe's ``data.size``); None when the file
    records none (other code's checkpoints: the official code's input is 224, ``ops/models.py``)."""
    config = data.get("config") if isinstance(data, dict) else None
    size = config.get("data", {}).get("size") if isinstance(config, dict) and isinstance(config.get("data"), dict) \
        else None
    return size if isinstance(size, int) and not isinstance(size, bool) and size > 0 else None
