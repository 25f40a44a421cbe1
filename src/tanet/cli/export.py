"""``tanet export``: a model as ONNX or a ``torch.export`` program, with a dynamic batch dimension."""
from __future__ import annotations

import argparse
import sys

from ._options import add_model_source, add_out, model_source


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=("onnx", "torch-export"), default="onnx")
    add_out(parser, None, "file to write (.onnx or .pt2)", required=True)
    add_model_source(parser, "checkpoint (native, official TAM or MMAction2 layout)")
    parser.add_argument("--model", help="model name (default: from the checkpoint)")
    parser.add_argument("--size", type=int, default=224, help="crop size H = W of the exported input")
    parser.add_argument("--exporter", choices=("dynamo", "torchscript"), default="dynamo")
    parser.add_argument("--opset", type=int, default=None)
    parser.add_argument("--check", action="store_true", help="compare onnxruntime with eager on a random batch")
    parser.add_argument("--inference", choices=("eager", "fused"), default="fused",
                        help="export the model as trained, or with its BatchNorms folded into the convolutions "
                             "(same logits, a smaller and faster graph) (default fused)")


def run(args: argparse.Namespace) -> int:
    import torch

    from tanet.errors import TanetError
    from tanet.factory import create_model
    from tanet.interop.export import check_onnx, example_clips, export_onnx, export_program

    checkpoint, _ = model_source(args)
    model = create_model(args.model, checkpoint=checkpoint).eval()
    clips = example_clips(model, batch_size=2, size=args.size)
    if args.format == "torch-export":
        torch.export.save(export_program(model, clips, inference=args.inference), args.out)
        print(f"wrote {args.out} (torch.export, dynamic batch)")
        return 0
    try:
        export_onnx(model, args.out, clips, exporter=args.exporter, opset_version=args.opset,
                    inference=args.inference)
    except ImportError as error:  # the onnx extra is optional
        missing = getattr(error, "name", None) or "onnx / onnxscript"
        raise TanetError(f"ONNX export needs {missing}, which is not installed: pip install 'tanet[onnx]' "
                         "(or write a torch.export program: --format torch-export)") from None
    print(f"wrote {args.out} (ONNX via {args.exporter}, dynamic batch)")
    if args.check:
        try:
            difference = check_onnx(model, args.out, example_clips(model, batch_size=3, size=args.size))
        except ImportError:
            print("tanet export: --check needs onnxruntime: pip install 'tanet[onnx]'", file=sys.stderr)
            return 1
        print(f"onnxruntime vs eager: max abs logit difference {difference:.2e}")
        return 0 if difference <= 1e-4 else 1
    return 0
