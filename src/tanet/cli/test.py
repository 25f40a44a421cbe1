"""``tanet test --checkpoint CKPT --val-list LIST [--root ROOT] [--out DIR]``: evaluate a checkpoint."""
from __future__ import annotations

import argparse

from ._options import (add_amp, add_device, add_inference, add_model_source, add_num_segments, add_out,
                       add_progress, add_strict_data, model_source)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_source(parser, "checkpoint written by `tanet train` (or official TAM / MMAction2 layout)")
    parser.add_argument("--val-list", required=True, help="list file of the test videos")
    parser.add_argument("--root", default=None, help="folder the list paths are relative to")
    add_out(parser, None, "folder for metrics.json, confusion.png and confusion.csv (default: "
                          "test-<list>-<protocol> next to the checkpoint, numbered when taken)")
    parser.add_argument("--dump", default=None, metavar="FILE.json|FILE.csv",
                        help="also write every video's predicted class and scores (as MMAction2's --dump)")
    parser.add_argument("--protocol", default=None, choices=["efficient", "accurate", "twice_sample", "dense"],
                        help="test views (default: the training recipe's data.test_protocol, or the published "
                             "protocol of --weights). efficient: 1 clip x centre crop (official SSv1); accurate: "
                             "official uniform-2, 2 clips x 3 full-resolution crops (official SSv2); "
                             "twice_sample: TSM's 2 clips x 3 crops; dense: 10 dense clips x 3 crops (official "
                             "Kinetics)")
    parser.add_argument("--average", default="score", choices=["score", "prob"],
                        help="average views as raw scores (official TAM) or softmax probabilities (MMAction2)")
    parser.add_argument("--view-chunk", type=int, default=8, help="clips through the model at once (bounds memory)")
    parser.add_argument("--batch-size", type=int, default=4, help="videos per loader batch")
    parser.add_argument("--workers", type=int, default=0, help="data-loading worker processes")
    add_num_segments(parser, help_text="frames per clip T (default: as trained)")
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
    from tanet.data.lists import read_class_names
    from tanet.engine.distributed import env_dist_info
    from tanet.engine.evaluation import format_metrics_table
    from tanet.engine.results import default_out_dir
    from tanet.engine.testing import test_checkpoint

    checkpoint, published_names = model_source(args)
    names = read_class_names(args.class_names) if args.class_names else published_names
    protocol = args.protocol or _default_protocol(args, checkpoint)
    out = args.out or default_out_dir(args.val_list, protocol, checkpoint=args.checkpoint, weights=args.weights)
    metrics = test_checkpoint(
        checkpoint, args.val_list, args.root, out=out, protocol=protocol, dump=args.dump,
        average=args.average, view_chunk=args.view_chunk, batch_size=args.batch_size,
        num_workers=args.workers, device=args.device, amp=args.amp,
        num_segments=args.num_segments, size=args.size, scale_size=args.scale_size,
        sampling=args.sampling, class_names=names, strict=args.strict_data,
        progress=not args.no_progress, inference=args.inference)
    if env_dist_info().is_main:
        print(format_metrics_table(metrics, title=f"{metrics['model']} "
                                   f"({metrics['num_segments']} frames, {protocol} protocol)"))
        print(f"wrote {out}/metrics.json, confusion.png, confusion.csv" + (f"; {args.dump}" if args.dump else ""))
    return 0


def _default_protocol(args: argparse.Namespace, checkpoint: str) -> str:
    """The published protocol of --weights, else the one the checkpoint's training recipe names."""
    if args.weights is not None:
        from tanet.interop.weights import get_weights

        protocol = get_weights(args.weights).protocol
        if protocol is not None and protocol.tanet_protocol is not None:
            return protocol.tanet_protocol
    from tanet.engine.builders import recipe_test_protocol

    return recipe_test_protocol(checkpoint)
