"""``tanet test --checkpoint CKPT --list LIST [--root ROOT] [--out DIR]``: evaluate a checkpoint."""
from __future__ import annotations

import argparse

from ._architecture import add_architecture, architecture_args
from ._options import (add_amp, add_device, add_inference, add_model_source, add_out, add_overwrite, add_progress,
                       add_strict_data, check_output, model_source)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_source(parser, "checkpoint written by `tanet train` (or official TAM / MMAction2 layout)")
    parser.add_argument("--list", dest="list_file", default=None, metavar="LIST",
                        help="list file of the test videos (required)")
    parser.add_argument("--val-list", dest="list_file", default=None, help=argparse.SUPPRESS)  # the earlier name
    parser.add_argument("--root", default=None, help="folder the list paths are relative to")
    add_out(parser, None, "folder for metrics.json, confusion.png and confusion.csv (default: "
                          "test-<list>-<protocol> next to the checkpoint, numbered when taken)")
    add_overwrite(parser, "an earlier result in --out, or the --dump file")
    parser.add_argument("--dump", default=None, metavar="FILE.json|FILE.csv",
                        help="also write every video's predicted class and scores (as MMAction2's --dump)")
    parser.add_argument("--protocol", default=None, choices=["efficient", "accurate", "twice_sample", "dense"],
                        help="test views (default: the published protocol of a checkpoint whose data set is known "
                             "-- --weights NAME, or a file whose checksum the registry knows --, else the training "
                             "recipe's data.test_protocol, else efficient). efficient: 1 clip x centre crop "
                             "(official SSv1); accurate: official uniform-2, 2 clips x 3 full-resolution crops "
                             "(official SSv2); twice_sample: TSM's 2 clips x 3 crops; dense: 10 dense clips x 3 "
                             "crops (official Kinetics)")
    parser.add_argument("--average", default="score", choices=["score", "prob"],
                        help="average views as raw scores (official TAM) or softmax probabilities (MMAction2)")
    parser.add_argument("--view-chunk", type=int, default=8, help="clips through the model at once (bounds memory)")
    parser.add_argument("--batch-size", type=int, default=4, help="videos per loader batch")
    parser.add_argument("--workers", type=int, default=0, help="data-loading worker processes")
    add_architecture(parser, segments_help="frames per clip T (default: as trained; TSN/TSM/I3D weights of other "
                                           "code do not record it)")
    parser.add_argument("--size", type=int, default=None, help="crop size (default: from training)")
    parser.add_argument("--scale-size", type=int, default=None,
                        help="short side before cropping (default: from training; derived from --size when "
                             "training derived it)")
    parser.add_argument("--sampling", choices=["segment", "dense"], default=None,
                        help="frame sampling (default: from training)")
    parser.add_argument("--class-names", default=None, help="class-name file for the plot labels")
    add_device(parser)
    add_amp(parser)
    add_inference(parser)
    add_strict_data(parser)
    add_progress(parser)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from tanet.data.lists import read_class_names
    from tanet.engine.distributed import env_dist_info
    from tanet.engine.evaluation import format_metrics_table, format_per_class
    from tanet.engine.results import RESULT_FILES, default_out_dir
    from tanet.engine.testing import choose_protocol, test_checkpoint
    from tanet.errors import UsageError

    if args.list_file is None:
        raise UsageError("give the list of test videos: --list LIST")
    # the input paths exist (tanet.cli.check_input_paths); the outputs must not replace them
    inputs = [args.checkpoint, args.weights_file, args.list_file, args.class_names]
    if args.dump is not None:
        check_output(args.dump, inputs=inputs, overwrite=args.overwrite, flag="--dump")
    if args.out is not None:
        for name in RESULT_FILES:
            check_output(Path(args.out) / name, inputs=inputs, overwrite=args.overwrite, flag="--out")
    checkpoint, published_names = model_source(args)
    names = read_class_names(args.class_names) if args.class_names else published_names
    protocol, _ = choose_protocol(checkpoint, args.weights, args.protocol)
    out = args.out or default_out_dir(args.list_file, protocol, checkpoint=args.checkpoint, weights=args.weights)
    architecture = architecture_args(args)
    metrics = test_checkpoint(
        checkpoint, args.list_file, args.root, out=out, protocol=args.protocol, weights=args.weights, dump=args.dump,
        average=args.average, view_chunk=args.view_chunk, batch_size=args.batch_size,
        num_workers=args.workers, device=args.device, amp=args.amp, size=args.size, scale_size=args.scale_size,
        sampling=args.sampling, class_names=names, strict=args.strict_data, progress=not args.no_progress,
        inference=args.inference, model=architecture["name"], num_segments=architecture["num_segments"],
        tam_position=architecture["tam_position"])
    if env_dist_info().is_main:
        shown = dict(metrics, top5=None) if metrics["num_classes"] <= 5 else metrics
        print(format_metrics_table(shown, title=f"{metrics['model']} "
                                   f"({metrics['num_segments']} frames, {metrics['protocol']} protocol)"))
        print(f"protocol {metrics['protocol']}: {metrics['protocol_source']}")
        if metrics["num_classes"] <= 5:
            print(f"top-5 left out: with {metrics['num_classes']} classes every label is among the top 5")
        print(format_per_class(metrics["per_class"]))
        print(f"wrote {out}/metrics.json, confusion.png, confusion.csv" + (f"; {args.dump}" if args.dump else ""))
    return 0
