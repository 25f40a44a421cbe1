"""``tanet pretrain-2d``: the stand-in for ImageNet weights, trained once on the built-in still images and
cached (``$TANET_HOME/pretrain2d``); ``tanet train --pretrained synthetic`` and ``tanet demo`` start from it."""
from __future__ import annotations

import argparse

DEPTHS = (18, 26, 34, 50, 101)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--depth", type=int, default=None, choices=DEPTHS,
                        help="ResNet depth (default 26, the demo's: Bottleneck blocks [2, 2, 2, 2])")
    parser.add_argument("--model", default=None, metavar="NAME",
                        help="take the depth from a video model's name instead, e.g. tanet_r26 (its 2D start)")
    parser.add_argument("--width", type=float, default=None,
                        help="channel multiplier (default: the demo's for that depth, 1/8 for 26 and 1/4 for 18; "
                             "else 0.25)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the images and the training")
    parser.add_argument("--epochs", type=int, default=None, help="epochs (default 6)")
    parser.add_argument("--per-class", type=int, default=None, help="training images per class (default 120)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--force", action="store_true",
                        help="train again even when the file is cached (replaces a damaged cached file)")


def run(args: argparse.Namespace) -> int:
    from tanet.engine.pretrain2d import Pretrain2DOptions, ensure_pretrained_2d, parse_synthetic
    from tanet.errors import UsageError
    from tanet.models import model_entrypoint

    from tanet.demo.runs import DEPTH_WIDTHS

    depth = 26 if args.depth is None else args.depth
    if args.model is not None:
        model_entrypoint(args.model)  # an unknown name lists the registered ones
        depth = parse_synthetic("synthetic", model_name=args.model, width=args.width or 0.25).depth
        if args.depth is not None and args.depth != depth:
            raise UsageError(f"--model {args.model} is a ResNet-{depth}, --depth says {args.depth}: give one of them")
    width = DEPTH_WIDTHS.get(depth, 0.25) if args.width is None else args.width
    extra = {key: value for key, value in (("epochs", args.epochs), ("per_class", args.per_class)) if value is not None}
    options = Pretrain2DOptions(depth=depth, width=width, seed=args.seed, **extra)
    path, summary = ensure_pretrained_2d(options, threads=args.threads, force=args.force)
    state = "cached" if summary.get("cached") else "trained"
    print(f"{path}  ({state}; val top-1 {summary['val_top1']:.1f} % on {summary['val_images']} held-out images of "
          f"{summary['classes']} classes, chance {summary['chance']:.1f} %)")
    spec = f"synthetic:r{options.depth}w{options.width:g}"
    default = Pretrain2DOptions(depth=options.depth, width=options.width)
    if options == default:
        print(f"use it with: tanet train RECIPE --pretrained {spec}   (or --pretrained {path})")
    else:
        print(f"use it with: tanet train RECIPE --pretrained {path}")
    return 0
