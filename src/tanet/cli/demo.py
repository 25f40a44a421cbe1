"""``tanet demo``: TANet, TSN, TSM and I3D on the built-in motion and appearance sets, over several seeds,
from a shared 2D start (the paper's protocol), with a report."""
from __future__ import annotations

import argparse
import dataclasses
import sys

from tanet.demo.runs import DEFAULT_PLAN, DEPTH_WIDTHS, QUICK_PLAN

from ._options import add_out, add_progress


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_out(parser, "runs/demo", "run folder")
    parser.add_argument("--quick", action="store_true",
                        help="tiny sets, 2 seeds, 2 epochs (about a minute; checks that everything runs, no evidence)")
    parser.add_argument("--depth", type=int, choices=sorted(DEPTH_WIDTHS), default=None,
                        help="the ResNet of every model: 26 (Bottleneck, I3D 3x1x1; the default) or 18 (BasicBlock, "
                             "I3D 3x3x3), at the width the demo trains it")
    parser.add_argument("--protocol", choices=("pretrained", "scratch"), default="pretrained",
                        help="pretrained (default, the paper's): every model starts from the shared 2D ResNet of "
                             "`tanet pretrain-2d`; scratch: from random weights")
    parser.add_argument("--seeds", type=int, default=None,
                        help=f"training seeds per cell (default {DEFAULT_PLAN.seeds}; --quick {QUICK_PLAN.seeds})")
    parser.add_argument("--first-seed", type=int, default=0, help="the first training seed (then +1, +2, ...)")
    parser.add_argument("--data-seed", type=int, default=0, help="seed of the rendered data sets")
    parser.add_argument("--jobs", type=int, default=None,
                        help="runs trained side by side, one thread each (default 2; --quick 1)")
    parser.add_argument("--epochs", type=int, default=None, help="override the recipe's number of epochs")
    parser.add_argument("--no-kernels", action="store_true", help="skip the kernel analysis")
    add_progress(parser)


def run(args: argparse.Namespace) -> int:
    from tanet.demo import run_demo
    from tanet.errors import UsageError

    plan = QUICK_PLAN if args.quick else DEFAULT_PLAN
    for flag, value, low in (("--epochs", args.epochs, 1), ("--seeds", args.seeds, 1), ("--jobs", args.jobs, 1)):
        if value is not None and value < low:
            raise UsageError(f"{flag} must be >= {low}, got {value}")
    if args.epochs is not None:
        plan = dataclasses.replace(plan, epochs=args.epochs)
    if args.seeds is not None:
        plan = dataclasses.replace(plan, seeds=args.seeds)
    if args.jobs is not None:
        plan = dataclasses.replace(plan, jobs=args.jobs)
    if args.depth is not None:
        plan = dataclasses.replace(plan, depth=args.depth)
    command = " ".join(["tanet demo", *sys.argv[2:]]) if sys.argv[1:2] == ["demo"] else "tanet demo"
    run_demo(args.out, plan=plan, protocol=args.protocol, first_seed=args.first_seed, data_seed=args.data_seed,
             kernels=not args.no_kernels, progress=not args.no_progress and sys.stderr.isatty(), command=command)
    return 0
