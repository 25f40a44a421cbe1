"""Export to ONNX (onnxruntime is the optional ``onnx`` extra) and ``torch.export`` programs (``tanet export``).

The exported graph takes clips (N, 3, T, H, W) with a dynamic batch N (T, H, W are fixed at export)
and returns logits (N, num_classes). While exporting, TAM switches to a loop-free formulation of the
same adaptive convolution (see ``tanet.modules.tam._export_friendly_temporal_conv``). By default the
exported graph is the fused inference path (``inference="fused"``: BatchNorm folded into the
convolutions, see :mod:`tanet.models.inference`); the model passed in is left as it is.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Literal

import torch
from torch import nn

from tanet.errors import UsageError
from tanet.models.inference import prepare_for_inference

ExportInference = Literal["eager", "fused"]

__all__ = ["example_clips", "export_program", "export_onnx", "check_onnx"]


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


def export_onnx(
    model: nn.Module,
    path: str | os.PathLike,
    clips: torch.Tensor,
    *,
    exporter: Literal["dynamo", "torchscript"] = "dynamo",
    opset_version: int | None = None,
    inference: ExportInference = "fused",
) -> Path:
    """Write an ONNX file with input ``clips`` and output ``logits``, batch dimension dynamic.

    ``exporter="dynamo"`` (default) goes through ``torch.export``; ``"torchscript"`` uses the legacy
    tracer (faster to run, deprecated upstream).
    """
    model = _prepared(model, inference)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    common = dict(input_names=["clips"], output_names=["logits"])
    if opset_version is not None:
        common["opset_version"] = opset_version
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer/deprecation chatter
        if exporter == "dynamo":
            torch.onnx.export(model, (clips,), str(path), dynamo=True, dynamic_shapes=(_batch_dim(),),
                              verbose=False, **common)
        elif exporter == "torchscript":
            torch.onnx.export(model, (clips,), str(path), dynamo=False,
                              dynamic_axes={"clips": {0: "batch"}, "logits": {0: "batch"}}, **common)
        else:
            raise ValueError(f"exporter must be 'dynamo' or 'torchscript', got {exporter!r}")
    return path


def check_onnx(model: nn.Module, path: str | os.PathLike, clips: torch.Tensor) -> float:
    """Max abs difference between onnxruntime and eager logits on ``clips`` (needs onnxruntime)."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (onnx_logits,) = session.run(["logits"], {"clips": clips.numpy()})
    with torch.no_grad():
        eager = model.eval()(clips)
    return float((torch.from_numpy(onnx_logits) - eager).abs().max())
