"""``tanet synth``: generate the built-in synthetic motion / appearance video sets.

A thin layer over :func:`tanet.data.synthetic.synthesize`, which raises
:class:`~tanet.errors.UsageError` for values that cannot work.
"""
from __future__ import annotations

import argparse
import sys

from tanet.cli._options import add_out
from tanet.data.synthetic import DEFAULT_PRESET, QUICK_PRESET, synthesize

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kind", choices=("motion", "appearance", "both"), default="both",
                        help="which set to generate (default: both)")
    add_out(parser, None, "parent folder of the sets (default: the cache, $TANET_HOME/synthetic)")
    parser.add_argument("--quick", action="store_true",
                        help=f"smaller preset: {QUICK_PRESET.describe()} "
                             f"(default: {DEFAULT_PRESET.describe()})")
    parser.add_argument("--seed", type=int, default=None, help="base seed (default 0)")
    parser.add_argument("--size", type=int, default=None, help="frame side in pixels (even)")
    parser.add_argument("--frames", type=int, default=None, help="frames per clip")
    parser.add_argument("--classes", type=int, default=None, help="number of classes (first N of 12)")
    parser.add_argument("--per-class", type=int, default=None, dest="train_per_class",
                        help="training clips per class")
    parser.add_argument("--val-per-class", type=int, default=None, help="validation clips per class")
    parser.add_argument("--fps", type=int, default=None)
    parser.add_argument("--noise", type=float, default=None, help="pixel noise std (0-255)")
    parser.add_argument("--jitter", type=float, default=None, help="camera shake std in pixels")
    parser.add_argument("--distractors", type=int, default=None, help="max distractor objects per clip")
    parser.add_argument("--codec", choices=("auto", "h264", "mpeg4"), default=None)
    parser.add_argument("--workers", type=int, default=1, help="parallel rendering processes")
    parser.add_argument("--force", action="store_true", help="regenerate even if a cached copy exists")


def run(args: argparse.Namespace) -> int:
    datasets = synthesize(
        args.kind, preset="quick" if args.quick else "default", out=args.out, force=args.force,
        workers=args.workers, progress=sys.stderr.isatty(),
        seed=args.seed, size=args.size, frames=args.frames, num_classes=args.classes,
        train_per_class=args.train_per_class, val_per_class=args.val_per_class, fps=args.fps,
        noise=args.noise, jitter=args.jitter, max_distractors=args.distractors, codec=args.codec,
    )
    for info in datasets:
        print(info.summary())
        # Each pair is in the map both ways; print it once.
        pairs = sorted({tuple(sorted(pair)) for pair in info.flip_label_map().items()})
        if pairs:
            print("  horizontal flip swaps labels " + ", ".join(f"{a}<->{b}" for a, b in pairs))
    return 0
