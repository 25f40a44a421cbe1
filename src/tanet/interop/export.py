"""``tanet export``: ONNX (onnxruntime is the optional ``onnx`` extra) and ``torch.export`` programs.

The exported graph takes clips (N, 3, T, H, W) with a dynamic batch N (T, H, W are fixed at export)
and returns logits (N, num_classes). While exporting, TAM switches to a loop-free formulation of the
same adaptive convolution (see ``tanet.modules.tam._export_friendly_temporal_conv``).
"""
from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path
from typing import Literal

import torch
from torch import nn

__all__ = ["example_clips", "export_program", "export_onnx", "check_onnx", "add_arguments", "run"]


def example_clips(model: nn.Module, batch_size: int = 2, size: int = 224) -> torch.Tensor:
    """A random clip batch of the shape the model takes."""
    return torch.randn(batch_size, 3, model.num_segments, size, size)


def _batch_dim() -> dict:
    return {0: torch.export.Dim("batch", min=1, max=4096)}


def export_program(model: nn.Module, clips: torch.Tensor) -> torch.export.ExportedProgram:
    """``torch.export`` the model in eval mode with a dynamic batch dimension."""
    model = model.eval()
    return torch.export.export(model, (clips,), dynamic_shapes=(_batch_dim(),))


def export_onnx(
    model: nn.Module,
    path: str | os.PathLike,
    clips: torch.Tensor,
    *,
    exporter: Literal["dynamo", "torchscript"] = "dynamo",
    opset_version: int | None = None,
) -> Path:
    """Write an ONNX file with input ``clips`` and output ``logits``, batch dimension dynamic.

    ``exporter="dynamo"`` (default) goes through ``torch.export``; ``"torchscript"`` uses the legacy
    tracer (faster to run, deprecated upstream).
    """
    model = model.eval()
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


def _build_model(args: argparse.Namespace) -> nn.Module:
    import tanet

    if args.checkpoint:
        name = args.model
        if name is None:
            from .loading import read_checkpoint

            name = read_checkpoint(args.checkpoint).model_config["name"]
        return tanet.create_model(name, checkpoint=args.checkpoint)
    if args.model and args.weights_name:
        return tanet.create_model(args.model, weights=args.weights_name, weights_path=args.weights,
                                  allow_unverified=args.allow_unverified)
    raise SystemExit("tanet export: give --checkpoint CKPT, or --model NAME --pretrained WEIGHTS [--weights FILE]")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=("onnx", "torch-export"), default="onnx")
    parser.add_argument("--output", "-o", required=True, help="file to write (.onnx or .pt2)")
    parser.add_argument("--checkpoint", help="checkpoint (native, official TAM or MMAction2 layout)")
    parser.add_argument("--model", help="model name (default: from the checkpoint)")
    parser.add_argument("--pretrained", dest="weights_name", help="published weights name, e.g. tam_k400_8f")
    parser.add_argument("--weights", help="local file for --pretrained (else the cache)")
    parser.add_argument("--allow-unverified", action="store_true", help="use weights that have no known checksum")
    parser.add_argument("--size", type=int, default=224, help="crop size H = W of the exported input")
    parser.add_argument("--exporter", choices=("dynamo", "torchscript"), default="dynamo")
    parser.add_argument("--opset", type=int, default=None)
    parser.add_argument("--check", action="store_true", help="compare onnxruntime with eager on a random batch")


def run(args: argparse.Namespace) -> int:
    from tanet.engine.checkpoint import CheckpointError

    try:
        model = _build_model(args).eval()
    except (CheckpointError, ValueError, OSError, KeyError, RuntimeError) as error:
        print(f"tanet export: {error}", file=sys.stderr)
        return 1
    clips = example_clips(model, batch_size=2, size=args.size)
    if args.format == "torch-export":
        program = export_program(model, clips)
        torch.export.save(program, args.output)
        print(f"wrote {args.output} (torch.export, dynamic batch)")
        return 0
    export_onnx(model, args.output, clips, exporter=args.exporter, opset_version=args.opset)
    print(f"wrote {args.output} (ONNX via {args.exporter}, dynamic batch)")
    if args.check:
        try:
            difference = check_onnx(model, args.output, example_clips(model, batch_size=3, size=args.size))
        except ImportError:
            print("--check needs onnxruntime (pip install 'tanet[onnx]')", file=sys.stderr)
            return 1
        print(f"onnxruntime vs eager: max abs logit difference {difference:.2e}")
        return 0 if difference <= 1e-4 else 1
    return 0
