"""``tanet demo``: TANet, TSN, TSM and I3D on the built-in motion and appearance sets, with a report."""
from __future__ import annotations

import argparse
import dataclasses
import sys

from ._options import add_out, add_progress


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_out(parser, "runs/demo", "run folder")
    parser.add_argument("--quick", action="store_true",
                        help="smaller sets and budget (about 40 s; checks that everything runs, no evidence)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the data sets and the training runs")
    parser.add_argument("--epochs", type=int, default=None, help="override the number of epochs")
    parser.add_argument("--no-kernels", action="store_true", help="skip the kernel analysis")
    add_progress(parser)


def run(args: argparse.Namespace) -> int:
    from tanet.demo import DEFAULT_PLAN, QUICK_PLAN, run_demo
    from tanet.errors import UsageError

    plan = QUICK_PLAN if args.quick else DEFAULT_PLAN
    if args.epochs is not None:
        if args.epochs < 1:
            raise UsageError(f"--epochs must be >= 1, got {args.epochs}")
        plan = dataclasses.replace(plan, epochs=args.epochs)
    command = "tanet demo" + (" --quick" if args.quick else "") + (f" --epochs {args.epochs}" if args.epochs else "")
    run_demo(args.out, plan=plan, seed=args.seed, kernels=not args.no_kernels,
             progress=not args.no_progress and sys.stderr.isatty(), command=command)
    return 0
