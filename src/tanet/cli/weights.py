"""``tanet weights list [--model NAME]`` / ``info NAME`` / ``download NAME [-o FILE]``: the published
checkpoints and torchvision's ImageNet ResNets (``imagenet:resnet50``), where their files come from,
where tanet keeps them (``$TANET_HOME/weights``), and fetching one (resumable, checksum-verified)."""
from __future__ import annotations

import argparse

from ._options import add_overwrite, add_progress, check_output


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("list", "info", "download"),
                        help="list: every published checkpoint; info: one; download: fetch one into the cache "
                             "(or --out FILE), resuming a partial file and checking its SHA-256")
    parser.add_argument("name", nargs="?", help="weights name (for info and download; imagenet:resnet50 for "
                                                "torchvision's ImageNet ResNet-50)")
    parser.add_argument("--model", default=None, help="list only the weights of this model, e.g. tsm_r50")
    parser.add_argument("--out", "-o", default=None, help="download: write the file here instead of the cache")
    add_overwrite(parser)
    add_progress(parser)


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
    from tanet.interop.imagenet import IMAGENET_WEIGHTS

    print("\n2D ImageNet ResNets for --pretrained imagenet (torchvision's V1 weights, as the official recipes):")
    for entry in IMAGENET_WEIGHTS.values():
        here = "yes" if (cache / entry.file_name).is_file() else "no"
        print(f"  imagenet:{entry.name:<10} {entry.url}  here: {here}")
    print(f"\n'here': the file is in the cache {cache} ($TANET_HOME/weights); a file that is not is downloaded "
          "on first use or by `tanet weights download NAME`; `tanet weights info NAME` says where it comes from")
    return 0


def _imagenet_info(name: str) -> int:
    from tanet.interop.imagenet import imagenet_weights_for
    from tanet.interop.weights import weights_cache_dir

    entry = imagenet_weights_for(name)
    cached = weights_cache_dir() / entry.file_name
    print(f"{name}: torchvision's ImageNet-1k {entry.name}, V1 weights ({entry.citation})\n"
          f"download  {entry.url}\nchecksum  SHA-256 starting {entry.sha256_prefix} (in the file name)\n"
          f"file here {cached} ({'present' if cached.is_file() else 'missing: downloaded on first use'})\n"
          f"use       tanet train RECIPE --pretrained {name} ...; tanet.create_model(NAME, pretrained={name!r})")
    return 0


def _info(name: str) -> int:
    from tanet.errors import UsageError
    from tanet.interop.imagenet import is_imagenet
    from tanet.interop.weights import get_weights, weights_cache_dir

    if is_imagenet(name):
        return _imagenet_info(name)
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
    if entry.direct_download and not unverified:
        where = (f"downloaded into {cached} on first use (or now: tanet weights download {entry.name}); "
                 "or pass a copy as --weights-file FILE")
    else:
        where = f"put the file at {cached} or pass --weights-file FILE"
    print(f"\n{where}, then e.g.\n"
          f"  tanet test --weights {entry.name}{unverified} --list VAL.txt --root DATA\n"
          f"  tanet train RECIPE --weights {entry.name}{unverified} ...   # fine-tune on your classes\n"
          f"  tanet.create_model({entry.model!r}, weights={entry.name!r}"
          f"{', allow_unverified=True' if unverified else ''})")
    return 0


def _download(name: str, out, overwrite: bool, progress: bool) -> int:
    import os
    from pathlib import Path

    from tanet.errors import UsageError
    from tanet.interop.imagenet import imagenet_weights_for, is_imagenet, resolve_imagenet_file
    from tanet.interop.weights import get_weights, resolve_weights_file, verify_weights_file
    from tanet.utils.download import download_file

    if is_imagenet(name):
        entry = imagenet_weights_for(name)
        url, checksum, label = entry.url, entry.sha256_prefix, f"the ImageNet {entry.name} of torchvision"
    else:
        try:
            entry = get_weights(name)
        except KeyError as error:
            raise UsageError(error.args[0]) from None
        url, checksum, label = entry.url, entry.sha256 or entry.sha256_prefix, f"weights {entry.name!r}"
    if out is None:
        path = (resolve_imagenet_file(entry, progress=progress) if is_imagenet(name)
                else resolve_weights_file(entry, progress=progress))
        print(f"{label}: {path} (SHA-256 checked)")
        return 0
    out = check_output(out, overwrite=overwrite)
    if not is_imagenet(name) and (not entry.direct_download or checksum is None):
        resolve_weights_file(entry, download=False)  # raises, saying how to get the file by hand
    # a file of another name first, so that --overwrite replaces the old file only with a verified new one
    temporary = out.with_name(f".{out.name}.download")
    try:
        download_file(url, temporary, sha256=checksum, progress=progress)
        if not is_imagenet(name):
            verify_weights_file(temporary, entry)
        os.replace(temporary, out)
    finally:  # a user's folder keeps no lock file (a cut download keeps its .part to resume)
        Path(f"{temporary}.lock").unlink(missing_ok=True)
    print(f"{label}: {out} (SHA-256 checked)")
    return 0


def run(args: argparse.Namespace) -> int:
    from tanet.errors import UsageError

    if args.action == "list":
        return _list(args.model)
    if not args.name:
        raise UsageError(f"tanet weights {args.action} NAME (see `tanet weights list`)")
    if args.action == "download":
        return _download(args.name, args.out, args.overwrite, not args.no_progress)
    if args.out is not None:
        raise UsageError("--out goes with `tanet weights download`")
    return _info(args.name)
