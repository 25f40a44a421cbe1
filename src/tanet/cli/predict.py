"""``tanet predict INPUT... --checkpoint CKPT``: top-k classes per video, and a timeline for long videos.

INPUT: video files, frame folders, folders of videos, list files (.txt) or quoted glob patterns.
"""
from __future__ import annotations

import argparse
import json

from ._architecture import add_architecture, architecture_args
from ._options import (add_amp, add_device, add_inference, add_model_source, add_overwrite, add_progress,
                       add_strict_data, check_output, model_source)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("videos", nargs="+", metavar="INPUT",
                        help="video files, frame folders, folders of videos (searched recursively), list files "
                             "(.txt: a path per line, labels allowed) or quoted globs ('clips/**/*.mp4')")
    add_model_source(parser, "checkpoint written by `tanet train` (or official TAM / MMAction2 layout)")
    parser.add_argument("--root", default=None, help="folder the paths of list files are relative to")
    parser.add_argument("--class-names", default=None,
                        help="file with one class name per line (default: names in the checkpoint)")
    parser.add_argument("--topk", type=int, default=5, help="classes to show per video and window")
    parser.add_argument("--protocol", default=None, choices=["efficient", "accurate", "twice_sample", "dense"],
                        help="views per video, as in `tanet test` (default: the checkpoint's, as `tanet test` "
                             "chooses it: its data set's published protocol, else its recipe's, else efficient)")
    parser.add_argument("--average", default="score", choices=["score", "prob"],
                        help="average views as raw scores (official TAM) or softmax probabilities (MMAction2)")
    add_device(parser)
    add_amp(parser)
    add_inference(parser)
    add_strict_data(parser)
    add_progress(parser)
    add_architecture(parser)
    parser.add_argument("--out", "-o", default=None, metavar="FILE.json|FILE.csv",
                        help="also write the predictions (and timelines) to a file")
    add_overwrite(parser, "the --out file, and timeline drawings of the same name (else numbered)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    timeline = parser.add_argument_group("timeline (top-k per sliding window of a long video)")
    timeline.add_argument("--timeline", default="auto", choices=["auto", "on", "off"],
                          help="auto: for videos longer than --long-video seconds (default auto)")
    timeline.add_argument("--long-video", type=float, default=30.0, metavar="SECONDS",
                          help="what auto calls long (default 30)")
    timeline.add_argument("--window", type=float, default=2.0, metavar="SECONDS",
                          help="window length (default 2)")
    timeline.add_argument("--stride", type=float, default=None, metavar="SECONDS",
                          help="seconds between window starts (default: half the window)")
    timeline.add_argument("--strip", default=None, metavar="DIR",
                          help="draw each timeline as DIR/<video>.timeline.png (thumbnails with labels)")
    timeline.add_argument("--overlay", default=None, metavar="DIR",
                          help="write DIR/<video>.timeline.mp4: the video with each window's label on it")


def run(args: argparse.Namespace) -> int:
    from tanet.data.lists import read_class_names
    from tanet.engine.predict import format_predictions, predict_videos, write_predictions

    from tanet.errors import UsageError

    if args.out and not args.out.endswith((".json", ".csv")):
        raise UsageError(f"--out {args.out}: write .json or .csv")
    if args.out:  # the input paths exist (tanet.cli.check_input_paths); the output must not replace one
        check_output(args.out, inputs=[args.checkpoint, args.weights_file, args.class_names, *args.videos],
                     overwrite=args.overwrite)
    checkpoint, published_names = model_source(args)
    names = read_class_names(args.class_names) if args.class_names else published_names
    architecture = architecture_args(args)
    predictions = predict_videos(
        args.videos, checkpoint, class_names=names, topk=args.topk, protocol=args.protocol, average=args.average,
        device=args.device, amp=args.amp, strict=args.strict_data, root=args.root, timeline=args.timeline,
        window=args.window, stride=args.stride, long_video=args.long_video, strip_dir=args.strip,
        overlay_dir=args.overlay, inference=args.inference, progress=not args.no_progress,
        model=architecture["name"], num_segments=architecture["num_segments"],
        tam_position=architecture["tam_position"], overwrite=args.overwrite)
    if args.json:
        print(json.dumps([p.to_dict() for p in predictions], indent=2))
    else:
        print(format_predictions(predictions))
    drawn = [str(path) for p in predictions for path in p.drawings]
    if args.out:
        write_predictions(args.out, predictions)
        drawn.insert(0, args.out)
    skipped = sum(p.status != "ok" for p in predictions)
    if not args.json:
        summary = f"{len(predictions) - skipped} videos predicted"
        summary += f", {skipped} unreadable (skipped)" if skipped else ""
        print(summary + (f"; wrote {', '.join(drawn)}" if drawn else ""))
    return 0 if skipped < len(predictions) else 1  # nothing could be read: a failure
