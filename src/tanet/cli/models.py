"""``tanet models [PATTERN]``: the registered model names, each with its whole description."""
from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("pattern", nargs="?", default="*", help="shell-style filter, e.g. 'tanet_*'")


def describe(builder) -> str:
    """The first paragraph of a builder's docstring, on one line."""
    paragraph = (builder.__doc__ or "").strip().split("\n\n", 1)[0]
    return " ".join(paragraph.split())


def run(args: argparse.Namespace) -> int:
    from tanet.errors import UsageError
    from tanet.models import list_models, model_entrypoint

    names = list_models(args.pattern)
    if not names:
        raise UsageError(f"no registered model matches {args.pattern!r}; registered: {', '.join(list_models())}")
    width = max(len(name) for name in names)
    for name in names:
        print(f"{name:<{width}}  {describe(model_entrypoint(name))}".rstrip())
    return 0
