"""The flags that settle what a checkpoint file leaves open (``--model``, ``--segments``,
``--tam-position``), shared by the commands that read checkpoints (test, predict, export, convert)."""
from __future__ import annotations

import argparse
from typing import Optional

from ._options import add_num_segments

__all__ = ["add_architecture", "architecture_args"]


def add_architecture(parser: argparse.ArgumentParser, segments_help: Optional[str] = None) -> None:
    """``--model``, ``--num-segments``/``--segments`` and ``--tam-position``: needed only where the file
    does not determine them (a bare TSN/TSM state dict, TSN/TSM/I3D frames, a TAM position whose
    channels coincide with another's); the command says so, nothing is guessed."""
    group = parser.add_argument_group("architecture (only where the checkpoint does not record it)")
    group.add_argument("--model", default=None, metavar="NAME",
                       help="model name, e.g. tsm_r50 (a bare state dict cannot tell TSN from TSM)")
    add_num_segments(group, help_text=segments_help or "frames per clip T (TSN/TSM/I3D weights do not record it)")
    group.add_argument("--tam-position", default=None, choices=("a", "b", "c", "d"),
                       help="TA-Block position of a bare state dict whose channels fit two positions")


def architecture_args(args: argparse.Namespace) -> dict:
    """``load_model`` / ``create_model`` arguments from the flags (None: from the file)."""
    return {"name": args.model, "num_segments": args.num_segments, "tam_position": args.tam_position}
