"""``tanet ablate RECIPE --grid KEY=V1,V2 ...``: train and test a grid of variants; a markdown/CSV table."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import train as train_command


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # the same recipe, flags and --set overrides as `tanet train`; --out is the ablation folder
    train_command.add_arguments(parser)
    parser.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2",
                        help="an ablation axis, e.g. tam_position=a,b,c,d, branches=local,global,both, alpha=1,2,4, "
                             "K=3,5, stages=1234,234,34 or any section.key; repeat for more axes")
    parser.add_argument("--product", action="store_true",
                        help="train every combination of the axes (default: one sweep per axis around the recipe)")
    parser.add_argument("--test-protocol", default="efficient",
                        choices=("efficient", "accurate", "twice_sample", "dense"),
                        help="how each row is tested on the validation list (default efficient)")
    parser.add_argument("--seeds", type=int, default=1,
                        help="training seeds per row (runtime.seed, +1, ...); with >= 2 the table gives mean ± sd and "
                             "each row's 95 %% interval against the paper's choice (default 1)")
    parser.add_argument("--jobs", type=int, default=1,
                        help="runs trained side by side in single-threaded processes (default 1)")
    parser.add_argument("--dry-run", action="store_true", help="list the rows with params and GFLOPs; train nothing")


def run(args: argparse.Namespace) -> int:
    import yaml

    from tanet.analysis.ablate import (
        MODEL_OPTIONS,
        expand_grid,
        parse_grid,
        plan_rows,
        row_dir,
        run_ablation,
    )
    from tanet.engine.config import ConfigError, load_config, valid_keys
    from tanet.engine.trainer import NonFiniteLossError

    if args.list_keys:
        print("\n".join([*MODEL_OPTIONS, *valid_keys()]))
        return 0
    out = Path(args.out or "runs/ablate")
    base = load_config(args.recipe, [o for o in train_command.overrides_from_args(args)
                                     if not o.startswith("runtime.out=")])
    if args.print_config:
        print(yaml.safe_dump(base.to_dict(), sort_keys=False), end="")
        return 0
    if not args.grid:
        raise ConfigError("give at least one --grid KEY=V1,V2,... (e.g. --grid tam_position=a,b,c,d)")
    axes = [parse_grid(spec) for spec in args.grid]
    if args.dry_run:
        for item in plan_rows(base, expand_grid(axes, args.product)):
            print(f"{item.row.sweep:16s} {item.row.label:40s} {item.params_m:9.3f} M {item.gflops:9.4f} GFLOPs "
                  f"{row_dir(out, item)}")
        return 0
    try:
        run_ablation(base, axes, out, product=args.product, test_protocol=args.test_protocol,
                               seeds=args.seeds, jobs=args.jobs)
    except NonFiniteLossError as error:
        print(f"tanet ablate: stopped: {error}", file=sys.stderr)
        return 1
    print((out / "ablation.md").read_text(), end="")  # the table as written (the built-in sets' lists resolved)
    print(f"wrote {out / 'ablation.md'}, {out / 'ablation.csv'} and {out / 'ablation.json'}")
    return 0
