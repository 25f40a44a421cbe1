"""``tanet weights list [--model NAME]`` / ``tanet weights info NAME``: the published checkpoints,
where their files come from and where tanet looks for them (nothing is downloaded)."""
from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("list", "info"), help="list: every published checkpoint; info: one")
    parser.add_argument("name", nargs="?", help="weights name (for info)")
    parser.add_argument("--model", default=None, help="list only the weights of this model, e.g. tsm_r50")


def _accuracy(entry) -> str:
    if entry.top1 is None:
        return "-"
    return f"{entry.top1:.2f} / {entry.top5:.2f}" if entry.top5 is not None else f"{entry.top1:.2f}"


def _list(model) -> int:
    from tanet.interop.weights import WEIGHTS, list_weights, weights_cache_dir

    cache = weights_cache_dir()
    rows = [("name", "model", "dataset", "classes", "frames", "source", "top-1 / top-5", "here")]
    for name in list_weights(model):
        entry = WEIGHTS[name]
        rows.append((name, entry.model, entry.dataset, str(entry.num_classes), str(entry.num_segments), entry.source,
                     _accuracy(entry), "yes" if (cache / entry.file_name).is_file() else "no"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(value.ljust(width) for value, width in zip(row, widths)).rstrip())
    print(f"\n'here': the file is in the cache {cache} ($TANET_HOME/weights); "
          "`tanet weights info NAME` says how to get one")
    return 0


def _info(name: str) -> int:
    from tanet.errors import UsageError
    from tanet.interop.weights import get_weights, weights_cache_dir

    try:
        entry = get_weights(name)
    except KeyError as error:
        raise UsageError(error.args[0]) from None
    cached = weights_cache_dir() / entry.file_name
    if entry.sha256:
        check = f"SHA-256 {entry.sha256}"
    elif entry.sha256_prefix:
        check = f"SHA-256 starting {entry.sha256_prefix} (the prefix MMAction2 publishes in the file name)"
    else:
        check = "none published: use it with --allow-unverified (allow_unverified=True)"
    protocol = entry.protocol
    rows = [
        ("name", entry.name), ("model", entry.model), ("dataset", entry.dataset),
        ("classes", f"{entry.num_classes}" + (" (names ship with tanet)" if entry.class_names_resource else "")),
        ("frames", str(entry.num_segments)), ("source", f"{entry.source} ({entry.citation})"),
        ("published top-1 / top-5", _accuracy(entry)),
        ("test protocol", "-" if protocol is None else
         f"{protocol.sampling} sampling, {protocol.num_clips} clips x {protocol.num_crops} crops, "
         f"short side {protocol.scale_size}, crop {protocol.crop_size}"),
        ("download", entry.url + ("" if entry.direct_download else " (a web folder: download by hand)")),
        ("checksum", check),
        ("file here", f"{cached} ({'present' if cached.is_file() else 'missing'})"),
    ]
    width = max(len(key) for key, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    unverified = "" if entry.sha256 or entry.sha256_prefix else " --allow-unverified"
    print(f"\nput the file at {cached} or pass --weights-file FILE, then e.g.\n"
          f"  tanet test --weights {entry.name}{unverified} --val-list VAL.txt --root DATA\n"
          f"  tanet train RECIPE --weights {entry.name}{unverified} ...   # fine-tune on your classes\n"
          f"  tanet.create_model({entry.model!r}, weights={entry.name!r}"
          f"{', allow_unverified=True' if unverified else ''})")
    return 0


def run(args: argparse.Namespace) -> int:
    from tanet.errors import UsageError

    if args.action == "list":
        return _list(args.model)
    if not args.name:
        raise UsageError("tanet weights info NAME (see `tanet weights list`)")
    return _info(args.name)
