"""``tanet recipes``: the training recipes shipped with tanet (``tanet train NAME``), one line each.

Each line is the first sentence of the recipe file's opening comment, so the list says what the
files say.
"""
from __future__ import annotations

import argparse
import re
from pathlib import Path

# a sentence ends at '.', '!' or '?' before a space or the end (not after "e.g" or "i.e")
_SENTENCE_END = re.compile(r"(?<!e\.g)(?<!i\.e)[.!?](?=\s|$)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--paths", action="store_true", help="print each recipe's file path too")


def summary(path: Path) -> str:
    """The first sentence of the comment lines that open ``path`` (joined into one line)."""
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("#").strip())
    text = " ".join(" ".join(lines).split())
    end = _SENTENCE_END.search(text)
    return text[:end.end()] if end else text


def shipped_recipes() -> list[Path]:
    """The recipe files of the package, sorted by name (not the ``_base_`` files they build on)."""
    from tanet.engine.config import RECIPES

    return sorted(RECIPES.glob("*.yaml"))


def run(args: argparse.Namespace) -> int:
    recipes = shipped_recipes()
    width = max(len(path.stem) for path in recipes)
    for path in recipes:
        print(f"{path.stem:<{width}}  {summary(path) or '(no description)'}" + (f"  [{path}]" if args.paths else ""))
    print("\nuse one with: tanet train NAME [flags]   (tanet train NAME --print-config shows all its values)")
    return 0
