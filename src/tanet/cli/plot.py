"""``tanet plot RUN [RUN...] [--out FILE.png]``: loss, top-1 and learning rate per epoch of one or more
training runs, side by side (read from each run's log.jsonl). An existing ``--out`` is replaced only with
``--overwrite``, a run's log never."""
from __future__ import annotations

import argparse

from ._options import add_out, add_overwrite, check_output


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("runs", nargs="+", metavar="RUN", help="run folders (holding log.jsonl) or log.jsonl files")
    add_out(parser, "compare.png", "PNG to write")
    add_overwrite(parser, "the --out file")
    parser.add_argument("--labels", nargs="+", default=None, help="one legend label per run (default: folder names)")
    parser.add_argument("--title", default="", help="figure title")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from tanet.engine.curves import plot_runs, read_history
    from tanet.errors import TanetError, UsageError

    if args.labels is not None and len(args.labels) != len(args.runs):
        raise UsageError(f"--labels gives {len(args.labels)} labels for {len(args.runs)} runs")
    logs = [Path(run) / "log.jsonl" if Path(run).is_dir() else Path(run) for run in args.runs]
    check_output(args.out, inputs=logs, overwrite=args.overwrite)
    histories = {}
    for index, run in enumerate(args.runs):
        path = Path(run)
        label = args.labels[index] if args.labels else (path.parent.name if path.is_file() else path.name) or str(path)
        if label in histories:
            label = f"{label} ({index + 1})"
        histories[label] = read_history(path)
    empty = [label for label, history in histories.items() if not history]
    if empty:
        raise TanetError(f"no finished epoch logged yet in: {', '.join(empty)}")
    written = plot_runs(histories, args.out, title=args.title)
    epochs = ", ".join(f"{label} {len(history)}" for label, history in histories.items())
    print(f"wrote {written} (epochs: {epochs})")
    return 0
