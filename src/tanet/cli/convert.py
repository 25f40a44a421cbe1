"""``tanet convert IN OUT``: an official-TAM or MMAction2 checkpoint -> a native tanet checkpoint."""
from __future__ import annotations

import argparse

from ._options import add_num_segments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from tanet.interop.formats import FORMATS

    parser.add_argument("input", help="checkpoint of the official TAM code, MMAction2 or tanet")
    parser.add_argument("output", help="native tanet checkpoint to write")
    parser.add_argument("--format", default="auto", choices=("auto", *FORMATS), help="layout of INPUT (default: detect)")
    parser.add_argument("--model", help="model name override, e.g. tsm_r50 (default: inferred from the weights)")
    add_num_segments(parser, help_text="frames per clip T (TSN/TSM weights do not record it)")
    parser.add_argument("--class-names", help="class-name file (one per line) or 'kinetics400'")


def run(args: argparse.Namespace) -> int:
    from tanet.interop.convert import convert_checkpoint

    state = convert_checkpoint(args.input, args.output, source_format=args.format, model=args.model,
                               num_segments=args.num_segments, class_names=args.class_names)
    config = state["model_config"]
    print(f"{args.input} ({state['converted_from']['format']} layout) -> {args.output}: {config['name']}, "
          f"{config['num_classes']} classes, {config['num_segments']} frames")
    return 0
