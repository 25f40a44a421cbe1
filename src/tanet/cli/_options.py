"""Flags that mean the same in every command, defined once so that they read the same everywhere."""
from __future__ import annotations

import argparse
from typing import Optional

__all__ = ["add_out", "add_overwrite", "check_output", "require_existing", "add_device", "add_amp",
           "add_num_segments", "add_strict_data", "add_progress", "add_model_source", "model_source", "add_inference"]


def add_out(parser: argparse.ArgumentParser, default: Optional[str], help_text: str, *, required: bool = False) -> None:
    """``--out`` (alias ``-o``): the file or folder a command writes."""
    extra = f" (default {default})" if default is not None else ""
    parser.add_argument("--out", "-o", default=default, required=required, help=help_text + extra)


def add_overwrite(parser: argparse.ArgumentParser, what: str = "the output file") -> None:
    """``--overwrite``: the only way a command replaces a file that exists."""
    parser.add_argument("--overwrite", action="store_true", help=f"replace {what} when it exists (never an input)")


def check_output(out, *, inputs=(), overwrite: bool = False, flag: str = "--out"):
    """The path a command is about to write, refused when it is one of the command's inputs (always: the
    input would be lost) or an existing file (unless ``overwrite``). Returns it as a ``Path``."""
    import os
    from pathlib import Path

    from tanet.errors import UsageError

    path = Path(out)
    for source in inputs:
        if source is not None and Path(source).exists() and path.exists() and os.path.samefile(path, source):
            raise UsageError(f"{flag} {path} is also an input of this command ({source}); writing there would "
                             "destroy it: choose another path")
    if path.is_dir():
        raise UsageError(f"{flag} {path} is a folder; give a file path")
    if path.exists() and not overwrite:
        raise UsageError(f"{flag} {path} exists; choose another path, or pass --overwrite to replace it")
    return path


def require_existing(path, flag: str):
    """A path named on the command line that must exist: a usage error (exit 2) when it does not."""
    from pathlib import Path

    from tanet.errors import UsageError

    if path is not None and not Path(path).exists():
        raise UsageError(f"{flag} {path}: no such file or folder")
    return path


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


def add_model_source(parser: argparse.ArgumentParser, checkpoint_help: str) -> None:
    """``--checkpoint FILE`` or a published checkpoint by name: ``--weights NAME [--weights-file FILE]``."""
    parser.add_argument("--checkpoint", default=None, help=checkpoint_help)
    parser.add_argument("--weights", default=None, metavar="NAME",
                        help="a published checkpoint by name instead (see `tanet weights list`)")
    parser.add_argument("--weights-file", default=None, metavar="FILE",
                        help="local copy of --weights (default: the cache, see `tanet weights info NAME`)")
    parser.add_argument("--allow-unverified", action="store_true",
                        help="use --weights that have no published checksum (the official TAM release)")


def model_source(args: argparse.Namespace) -> tuple[str, Optional[list]]:
    """The checkpoint file the command reads, and the class names of published weights (else None)."""
    from tanet.errors import UsageError

    if (args.checkpoint is None) == (args.weights is None):
        raise UsageError("give --checkpoint FILE or --weights NAME (one of them)")
    if args.weights_file is not None and args.weights is None:
        raise UsageError("--weights-file is the local copy of --weights NAME; a plain file goes to --checkpoint")
    if args.checkpoint is not None:
        return args.checkpoint, None
    from tanet.interop.weights import get_weights, resolve_weights_file

    try:
        entry = get_weights(args.weights)
    except KeyError as error:
        raise UsageError(error.args[0]) from None
    path = resolve_weights_file(entry, args.weights_file, allow_unverified=args.allow_unverified,
                                progress=not getattr(args, "no_progress", False))
    return str(path), entry.load_class_names()


def add_inference(parser: argparse.ArgumentParser, default: str = "fused") -> None:
    """``--inference``: how the model runs (same logits either way, within 1e-4)."""
    parser.add_argument("--inference", default=default, choices=("eager", "fused", "compiled"),
                        help="eager: the model as trained; fused: BatchNorm folded into the convolutions, "
                             "channels_last; compiled: fused + torch.compile with frozen weights (compiles "
                             f"once per input shape, worth it for large test sets) (default {default})")
