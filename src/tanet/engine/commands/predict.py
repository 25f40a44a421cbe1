"""``tanet predict VIDEO... --checkpoint CKPT [--class-names FILE] [--topk 5]``."""
from __future__ import annotations

import argparse
import json
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("videos", nargs="+", metavar="VIDEO", help="video files or frame folders")
    parser.add_argument("--checkpoint", required=True, help="checkpoint written by `tanet train`")
    parser.add_argument("--class-names", default=None,
                        help="file with one class name per line (default: names in the checkpoint)")
    parser.add_argument("--topk", type=int, default=5, help="classes to show per video")
    parser.add_argument("--protocol", default="efficient", choices=["efficient", "accurate", "dense"])
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def run(args: argparse.Namespace) -> int:
    from tanet.engine.checkpoint import CheckpointError
    from tanet.engine.predict import format_predictions, predict_videos

    names = None
    if args.class_names:
        from tanet.data.lists import read_class_names

        names = read_class_names(args.class_names)
    try:
        predictions = predict_videos(args.videos, args.checkpoint, class_names=names,
                                     topk=args.topk, protocol=args.protocol, device=args.device)
    except (CheckpointError, ValueError, OSError, RuntimeError) as error:
        print(f"tanet predict: error: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps([p.to_dict() for p in predictions], indent=2))
    else:
        print(format_predictions(predictions))
    return 0
