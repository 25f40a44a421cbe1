"""``tanet predict VIDEO... --checkpoint CKPT [--class-names FILE] [--topk 5]``: top-k classes per video."""
from __future__ import annotations

import argparse
import json

from ._options import add_amp, add_device, add_inference


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("videos", nargs="+", metavar="VIDEO", help="video files or frame folders")
    parser.add_argument("--checkpoint", required=True, help="checkpoint written by `tanet train`")
    parser.add_argument("--class-names", default=None,
                        help="file with one class name per line (default: names in the checkpoint)")
    parser.add_argument("--topk", type=int, default=5, help="classes to show per video")
    parser.add_argument("--protocol", default="efficient", choices=["efficient", "accurate", "dense"])
    parser.add_argument("--average", default="score", choices=["score", "prob"],
                        help="average views as raw scores (official TAM) or softmax probabilities (MMAction2)")
    add_device(parser)
    add_amp(parser)
    add_inference(parser)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def run(args: argparse.Namespace) -> int:
    from tanet.data.lists import read_class_names
    from tanet.engine.predict import format_predictions, predict_videos

    names = read_class_names(args.class_names) if args.class_names else None
    predictions = predict_videos(args.videos, args.checkpoint, class_names=names, topk=args.topk,
                                 protocol=args.protocol, average=args.average, device=args.device, amp=args.amp,
                                 inference=args.inference)
    if args.json:
        print(json.dumps([p.to_dict() for p in predictions], indent=2))
    else:
        print(format_predictions(predictions))
    return 0
