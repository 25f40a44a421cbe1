"""``tanet flops MODEL...``: parameters and GFLOPs (multiply-adds of one clip), the paper's convention."""
from __future__ import annotations

import argparse

from ._options import add_num_segments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", nargs="+", help="registered model name(s), e.g. tanet_r50 tsn_r50")
    add_num_segments(parser, 8)
    parser.add_argument("--size", type=int, default=224, help="input height = width (default 224)")
    parser.add_argument("--num-classes", type=int, default=400, help="classifier size (default 400)")
    parser.add_argument("--width", type=float, default=1.0, help="channel multiplier (default 1.0)")
    parser.add_argument("--tam-position", choices="abcd", default=None, help="TA-Block style for tanet_*")


def run(args: argparse.Namespace) -> int:
    from tanet.analysis.flops import complexity
    from tanet.models import build_model

    models = {}
    for name in args.model:  # every model is built (and a bad option refused) before the table starts
        options = {"width": args.width}
        if args.tam_position and name.startswith("tanet"):
            options["tam_position"] = args.tam_position
        models[name] = build_model(name, num_classes=args.num_classes, num_segments=args.num_segments, **options)
    print(f"{'model':14s} {'params (M)':>11s} {'GFLOPs':>9s}   "
          f"({args.num_segments} frames x {args.size}x{args.size}, multiply-adds)")
    for name, model in models.items():
        result = complexity(model, args.num_segments, args.size)
        print(f"{name:14s} {result.mparams:11.2f} {result.gflops:9.3g}")
    return 0
