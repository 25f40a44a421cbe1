"""``tanet export``: a model as ONNX or a ``torch.export`` program, with a dynamic batch dimension, at
the size and frames it was trained with, carrying what a deployment needs to feed it (metadata)."""
from __future__ import annotations

import argparse
import sys

from ._architecture import add_architecture, architecture_args
from ._options import add_model_source, add_out, add_overwrite, check_output, model_source


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=("onnx", "torch-export"), default="onnx")
    add_out(parser, None, "file to write (.onnx or .pt2)", required=True)
    add_overwrite(parser)
    add_model_source(parser, "checkpoint (native, official TAM or MMAction2 layout)")
    add_architecture(parser, segments_help="frames per clip T (default: as trained; TSN/TSM/I3D weights from "
                                           "other code do not record it)")
    parser.add_argument("--size", type=int, default=None,
                        help="crop size H = W of the exported input (default: the size the checkpoint was "
                             "trained at; 224, the official input, for a file that records none)")
    parser.add_argument("--class-names", default=None, help="class-name file for the metadata (default: the "
                                                            "checkpoint's)")
    parser.add_argument("--exporter", choices=("dynamo", "torchscript"), default="dynamo")
    parser.add_argument("--opset", type=int, default=None)
    parser.add_argument("--check", action="store_true", help="compare onnxruntime with eager on a random batch")
    parser.add_argument("--inference", choices=("eager", "fused"), default="fused",
                        help="export the model as trained, or with its BatchNorms folded into the convolutions "
                             "(same logits, a smaller and faster graph) (default fused)")


def run(args: argparse.Namespace) -> int:
    from tanet.data.lists import read_class_names
    from tanet.errors import TanetError, UsageError
    from tanet.factory import load_model
    from tanet.interop.export import (ONNX_SINGLE_FILE_LIMIT, check_onnx, example_clips, export_metadata,
                                      export_onnx, export_program, onnx_data_file, recorded_input_size,
                                      save_program)

    if args.size is not None and args.size < 1:
        raise UsageError(f"--size must be >= 1, got {args.size}")
    inputs = [args.checkpoint, args.weights_file, args.class_names]
    out = check_output(args.out, inputs=inputs, overwrite=args.overwrite)
    if args.format == "onnx" and onnx_data_file(out).exists():
        check_output(onnx_data_file(out), inputs=inputs, overwrite=args.overwrite, flag="--out's data file")
    checkpoint, published_names = model_source(args)
    check_output(out, inputs=[checkpoint], overwrite=True)  # a published file (cache) is an input too
    model, loaded = load_model(checkpoint, **architecture_args(args))
    recorded = recorded_input_size(loaded.data)
    size = args.size or recorded or 224
    where = "--size" if args.size else ("as trained" if recorded else "the official input size; the file records none")
    names = read_class_names(args.class_names) if args.class_names else (loaded.class_names or published_names)
    if names is not None and len(names) != model.num_classes:
        raise UsageError(f"{len(names)} class names for a model with {model.num_classes} classes")
    metadata = export_metadata(model, size, class_names=names)
    clips = example_clips(model, batch_size=2, size=size)
    shape = f"input (N, 3, {model.num_segments}, {size}, {size}): {model.num_segments} frames, {size} px ({where})"
    if args.format == "torch-export":
        save_program(export_program(model, clips, inference=args.inference), out, metadata)
        print(f"wrote {out} (torch.export, dynamic batch; {shape}; metadata in its extra file tanet_metadata.json)")
        return 0
    try:
        export_onnx(model, out, clips, exporter=args.exporter, opset_version=args.opset, inference=args.inference,
                    metadata=metadata)
    except ImportError as error:  # the onnx extra is optional
        missing = getattr(error, "name", None) or "onnx / onnxscript"
        raise TanetError(f"ONNX export needs {missing}, which is not installed: pip install 'tanet[onnx]' "
                         "(or write a torch.export program: --format torch-export)") from None
    line = f"wrote {out} (ONNX via {args.exporter}, dynamic batch; {shape}; class names, mean/std, T, size and " \
           "model name in its metadata_props)"
    if onnx_data_file(out).exists():
        line += (f" and {onnx_data_file(out)}: the weights pass protobuf's {ONNX_SINGLE_FILE_LIMIT / 2**30:.1f} GiB "
                 "limit for one file, so they are ONNX external data; keep both files together")
    print(line)
    if args.check:
        try:
            difference = check_onnx(model, out, example_clips(model, batch_size=3, size=size))
        except ImportError:
            print("tanet export: --check needs onnxruntime: pip install 'tanet[onnx]'", file=sys.stderr)
            return 1
        print(f"onnxruntime vs eager: max abs logit difference {difference:.2e}")
        return 0 if difference <= 1e-4 else 1
    return 0
