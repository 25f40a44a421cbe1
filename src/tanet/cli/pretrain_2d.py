"""``tanet pretrain-2d``: the stand-in for ImageNet weights, trained once on the built-in still images and
cached (``$TANET_HOME/pretrain2d``); ``tanet train --pretrained synthetic`` and ``tanet demo`` start from it."""
from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--depth", type=int, default=18, choices=(18, 26, 34, 50, 101), help="ResNet depth (default 18)")
    parser.add_argument("--width", type=float, default=0.25, help="channel multiplier (default 0.25, the demo's)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the images and the training")
    parser.add_argument("--epochs", type=int, default=None, help="epochs (default 6)")
    parser.add_argument("--per-class", type=int, default=None, help="training images per class (default 120)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--force", action="store_true", help="train again even when the file is cached")


def run(args: argparse.Namespace) -> int:
    from tanet.engine.pretrain2d import Pretrain2DOptions, ensure_pretrained_2d

    extra = {key: value for key, value in (("epochs", args.epochs), ("per_class", args.per_class)) if value is not None}
    options = Pretrain2DOptions(depth=args.depth, width=args.width, seed=args.seed, **extra)
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
