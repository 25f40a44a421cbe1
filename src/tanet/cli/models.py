"""``tanet models [PATTERN]``: the registered model names."""
from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("pattern", nargs="?", default="*", help="shell-style filter, e.g. 'tanet_*'")


def run(args: argparse.Namespace) -> int:
    from tanet.models import list_models, model_entrypoint

    for name in list_models(args.pattern):
        doc = (model_entrypoint(name).__doc__ or "").strip().splitlines()
        print(f"{name:14s} {doc[0] if doc else ''}")
    return 0
