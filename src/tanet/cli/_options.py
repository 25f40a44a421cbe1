"""Flags that mean the same in every command, defined once so that they read the same everywhere."""
from __future__ import annotations

import argparse
from typing import Optional

__all__ = ["add_out", "add_device", "add_amp", "add_num_segments", "add_strict_data", "add_progress", "add_inference"]


def add_out(parser: argparse.ArgumentParser, default: Optional[str], help_text: str, *, required: bool = False) -> None:
    """``--out`` (alias ``-o``): the file or folder a command writes."""
    extra = f" (default {default})" if default is not None else ""
    parser.add_argument("--out", "-o", default=default, required=required, help=help_text + extra)


def add_device(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="auto",
                        help="auto (CUDA when available, else CPU), cpu, cuda, cuda:N (default auto)")


def add_amp(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--amp", default="none", choices=("none", "bf16", "fp16"),
                        help="mixed precision: none, bf16 (CPU or GPU), fp16 (GPU) (default none)")


def add_num_segments(parser: argparse.ArgumentParser, default: Optional[int] = None, help_text: Optional[str] = None) -> None:
    """``--num-segments`` (alias ``--segments``): frames per clip, T."""
    parser.add_argument("--num-segments", "--segments", dest="num_segments", type=int, default=default,
                        metavar="T", help=help_text or "frames per clip T"
                        + (f" (default {default})" if default is not None else ""))


def add_strict_data(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--strict-data", action="store_true",
                        help="fail on the first unreadable video instead of skipping it with a warning")


def add_progress(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def add_inference(parser: argparse.ArgumentParser, default: str = "fused") -> None:
    """``--inference``: how the model runs (same logits either way, within 1e-4)."""
    parser.add_argument("--inference", default=default, choices=("eager", "fused", "compiled"),
                        help="eager: the model as trained; fused: BatchNorm folded into the convolutions, "
                             "channels_last; compiled: fused + torch.compile with frozen weights (compiles "
                             f"once per input shape, worth it for large test sets) (default {default})")
