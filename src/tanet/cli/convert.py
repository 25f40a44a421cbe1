"""``tanet convert IN OUT``: an official-TAM or MMAction2 checkpoint (or a bare state dict) -> a native
tanet checkpoint, which records its architecture."""
from __future__ import annotations

import argparse

from ._architecture import add_architecture, architecture_args
from ._options import add_overwrite, check_output


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from tanet.interop.formats import FORMATS

    parser.add_argument("input", help="checkpoint of the official TAM code, MMAction2 or tanet")
    parser.add_argument("output", nargs="?", default=None, help="native tanet checkpoint to write (or --out)")
    parser.add_argument("--out", "-o", dest="out", default=None, help="native tanet checkpoint to write")
    add_overwrite(parser)
    parser.add_argument("--format", default="auto", choices=("auto", *FORMATS),
                        help="layout of INPUT (default: detect)")
    add_architecture(parser)
    parser.add_argument("--class-names", help="class-name file (one per line) or 'kinetics400'")


def run(args: argparse.Namespace) -> int:
    from tanet.errors import UsageError
    from tanet.interop.convert import convert_checkpoint

    if args.output and args.out and args.output != args.out:
        raise UsageError(f"two outputs given ({args.output} and --out {args.out}); give one")
    out = args.out or args.output
    if out is None:
        raise UsageError("give the file to write: tanet convert IN OUT (or --out OUT)")
    check_output(out, inputs=[args.input, args.class_names], overwrite=args.overwrite,
                 flag="--out" if args.out else "OUT")
    architecture = architecture_args(args)
    state = convert_checkpoint(args.input, out, source_format=args.format, model=architecture.pop("name"),
                               class_names=args.class_names, **architecture)
    config = state["model_config"]
    print(f"{args.input} ({state['converted_from']['format']} layout) -> {out}: {config['name']}, "
          f"{config['num_classes']} classes, {config['num_segments']} frames")
    return 0
