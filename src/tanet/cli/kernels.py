"""``tanet kernels``: plot and compare learned TAM kernels (V, Θ) with I3D's, per block and data set."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Optional

from tanet.analysis.kernels import KernelDataset, analyse_kernels, format_summary
from tanet.cli._options import add_device, add_out, add_progress, add_strict_data
from tanet.engine.distributed import DistInfo, select_device
from tanet.errors import UsageError

__all__ = ["add_arguments", "datasets_from_args", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", action="append", required=True, metavar="PT",
                        help="TANet checkpoint of one data set (repeat once per data set)")
    parser.add_argument("--list", action="append", required=True, dest="list_file", metavar="TXT",
                        help="video list of that data set (one per --checkpoint, same order)")
    parser.add_argument("--root", action="append", default=None, metavar="DIR",
                        help="folder the list paths are relative to (once for all, or once per data set)")
    parser.add_argument("--name", action="append", default=None,
                        help="label of the data set (default: the list file's folder name)")
    parser.add_argument("--i3d-checkpoint", action="append", default=None, metavar="PT",
                        help="I3D checkpoint trained on that data set (once for all, or once per data set)")
    parser.add_argument("--blocks", nargs="+", default=None,
                        help="blocks to probe: layer3.5 or stage4_6b style (default: last block of layer3 and layer4)")
    add_out(parser, "runs/kernels", "output folder")
    parser.add_argument("--max-videos", type=int, default=None, help="videos per data set (evenly spread over the list)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--workers", type=int, default=0, help="data-loading processes")
    add_device(parser)
    add_strict_data(parser)
    add_progress(parser)
    parser.add_argument("--no-figures", action="store_true", help="write only kernels.json and kernels.npz")


def _per_dataset(values: Optional[list], count: int, flag: str) -> list:
    if not values:
        return [None] * count
    if len(values) == 1:
        return values * count
    if len(values) != count:
        raise UsageError(f"{flag} must be given once or once per --checkpoint ({count}), got {len(values)}")
    return list(values)


def datasets_from_args(args: argparse.Namespace) -> list[KernelDataset]:
    count = len(args.checkpoint)
    if len(args.list_file) != count:
        raise UsageError(f"give one --list per --checkpoint: {count} checkpoints, {len(args.list_file)} lists")
    roots = _per_dataset(args.root, count, "--root")
    i3d = _per_dataset(args.i3d_checkpoint, count, "--i3d-checkpoint")
    if args.name:
        if len(args.name) != count:
            raise UsageError(f"give one --name per --checkpoint: {count} checkpoints, {len(args.name)} names")
        names = list(args.name)
    else:
        names = [Path(path).resolve().parent.name or f"set{i + 1}" for i, path in enumerate(args.list_file)]
        if len(set(names)) != len(names):
            names = [f"{name}{i + 1}" for i, name in enumerate(names)]
    return [KernelDataset(n, c, l, r, i) for n, c, l, r, i in zip(names, args.checkpoint, args.list_file, roots, i3d)]


def run(args: argparse.Namespace) -> int:
    summary = analyse_kernels(
        datasets_from_args(args), args.blocks, args.out, max_videos=args.max_videos, batch_size=args.batch_size,
        num_workers=args.workers, device=select_device(args.device, DistInfo()),
        progress=not args.no_progress, figures=not args.no_figures, strict=args.strict_data,
    )
    print(format_summary(summary))
    print(f"wrote {Path(args.out) / 'kernels.json'}, kernels.npz and one figure per block")
    return 0
