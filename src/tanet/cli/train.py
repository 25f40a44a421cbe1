"""``tanet train [RECIPE.yaml] [flags] [--set section.key=value ...]``: train from a YAML recipe.

Precedence: defaults < recipe < flags < ``--set``. Multi-GPU / multi-node::

    torchrun --nproc_per_node 8 -m tanet train configs/tanet_r50_k400_8x.yaml --root ...
"""
from __future__ import annotations

import argparse
import sys
from typing import Optional

# flag (and aliases) -> (config key, type, help)
FLAGS = {
    "--model": ("model.name", str, "model name (see `tanet models`)"),
    "--num-classes": ("model.num_classes", int, "number of classes"),
    "--num-segments": ("model.num_segments", int, "frames per clip T (alias --segments)"),
    "--pretrained": ("model.pretrained", str, "the 2D part's start: 'imagenet' (torchvision's ImageNet ResNet of "
                                             "the model's depth, downloaded once and verified, as the official "
                                             "recipes use), a 2D ResNet file (torchvision/timm keys), 'synthetic' "
                                             "(or synthetic:r18w0.25) for the built-in stand-in of `tanet "
                                             "pretrain-2d`, or 'scratch' to train from scratch on purpose"),
    "--init-from": ("model.init_from", str, "fine-tune from a video checkpoint (tanet, official TAM, MMAction2): "
                    "backbone and temporal modules, and the classifier when the class count matches"),
    "--weights": ("model.weights", str, "fine-tune from a published checkpoint by name (`tanet weights list`)"),
    "--weights-file": ("model.weights_file", str, "local copy of --weights (default: $TANET_HOME/weights/...)"),
    "--train-list": ("data.train_list", str, "training list file (`path label` lines)"),
    "--val-list": ("data.val_list", str, "validation list file"),
    "--root": ("data.root", str, "folder the list paths are relative to"),
    "--class-names": ("data.class_names", str, "file with one class name per line"),
    "--size": ("data.size", int, "crop size in pixels"),
    "--batch-size": ("data.batch_size", int, "clips per process and step"),
    "--workers": ("data.num_workers", "worker_count",
                  "data-loading worker processes per process, or 'auto' (one per spare CPU core)"),
    "--lr": ("optim.lr", float, "learning rate at optim.base_batch_size"),
    "--epochs": ("schedule.epochs", int, "number of epochs"),
    "--out": ("runtime.out", str, "run folder (config.yaml, last.pt, best.pt, log.jsonl)"),
    "--resume": ("runtime.resume", str, "checkpoint to resume from, or 'auto' (out/last.pt)"),
    "--seed": ("runtime.seed", int, "random seed"),
    "--device": ("runtime.device", str, "auto, cpu, cuda, cuda:N"),
    "--amp": ("runtime.amp", str, "mixed precision: none, bf16 (CPU/GPU), fp16 (GPU)"),
}
ALIASES = {"--num-segments": ["--segments"], "--out": ["-o"]}
CHOICES = {"--amp": ("none", "bf16", "fp16")}
SWITCHES = {
    "--channels-last": ("runtime.channels_last", "channels_last memory format"),
    "--compile": ("runtime.compile", "torch.compile the model"),
    "--sync-bn": ("runtime.sync_bn", "SyncBatchNorm across processes (GPU)"),
    "--partial-bn": ("optim.partial_bn", "freeze all BatchNorm2d but the first"),
    "--strict-data": ("data.strict", "fail on an unreadable video instead of skipping it (with a warning)"),
    "--overwrite": ("runtime.overwrite", "replace the run already in --out (without it such a folder is "
                                         "refused; --resume auto continues it instead)"),
    "--allow-unverified": ("model.allow_unverified", "use --weights that have no published checksum"),
    "--init-partial": ("model.init_partial", "--init-from / --weights of another family (TSN or TSM into TANet): "
                                             "load the shared 2D backbone, keep the missing temporal modules fresh"),
}


def _worker_count(text: str):
    if text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is neither a number of processes nor auto") from None


_TYPES = {"worker_count": _worker_count}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recipe", nargs="?", help="YAML recipe (see configs/); defaults if omitted")
    for flag, (key, kind, help_text) in FLAGS.items():
        parser.add_argument(flag, *ALIASES.get(flag, []), type=_TYPES.get(kind, kind), default=None, choices=CHOICES.get(flag),
                            metavar=None if flag in CHOICES else key.split(".")[1].upper(),
                            help=f"{help_text} [{key}]")
    for flag, (key, help_text) in SWITCHES.items():
        parser.add_argument(flag, action="store_true", default=None, help=f"{help_text} [{key}]")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--set", dest="overrides", action="append", nargs="+", default=[],
                        metavar="KEY=VALUE", help="override any config key, e.g. --set "
                        "optim.lr=0.02 schedule.milestones=[30,40,45] (values are YAML)")
    parser.add_argument("--print-config", action="store_true",
                        help="print the recipe with the flags applied (derived keys null) and exit")
    parser.add_argument("--print-resolved", action="store_true",
                        help="print every value the run would use, derived ones with their reason, and exit "
                             "(renders a built-in data set on first use; trains nothing)")
    parser.add_argument("--list-keys", action="store_true", help="list every config key and exit")


def overrides_from_args(args: argparse.Namespace, recipe_model: Optional[dict] = None) -> list[str]:
    """Flags first, then ``--set`` items (so ``--set`` wins). With the recipe's model section
    (``recipe_model``), a weight source named by a flag (``--pretrained``, ``--init-from``, ``--weights``) also
    clears the recipe's other one (the command line wins; :func:`weight_source_note` says so)."""
    items = []
    for flag, (key, _, _) in FLAGS.items():
        value = getattr(args, flag[2:].replace("-", "_"))
        if value is not None:
            items.append(f"{key}={value}" if not isinstance(value, str) else f"{key}={_quote(value)}")
    for flag, (key, _) in SWITCHES.items():
        if getattr(args, flag[2:].replace("-", "_")):
            items.append(f"{key}=true")
    if args.class_names is not None and args.num_classes is None:
        # a recipe's class count goes with its own class names (kinetics400: 400); new names, new count
        items.append("model.num_classes=null")
    if args.no_progress:
        items.append("runtime.progress=false")
    if recipe_model is not None:
        items += _weight_source(args, recipe_model)[0]
    for group in args.overrides:
        items.extend(group)
    return items


def _weight_source(args: argparse.Namespace, recipe_model: dict) -> tuple[list[str], Optional[str]]:
    from tanet.engine.finetune import command_line_source

    return command_line_source(recipe_model, {"pretrained": args.pretrained, "init_from": args.init_from,
                                              "weights": args.weights})


def weight_source_note(args: argparse.Namespace, recipe_model: dict) -> Optional[str]:
    """The line that says which of the recipe's weight sources a flag replaced (None: none)."""
    return _weight_source(args, recipe_model)[1]


def _quote(text: str) -> str:
    # Paths and names stay strings even if they look like YAML numbers or booleans.
    return "'" + text.replace("'", "''") + "'"


def run(args: argparse.Namespace) -> int:
    import yaml

    from tanet.engine.config import load_config, valid_keys
    from tanet.engine.trainer import NonFiniteLossError, train

    if args.list_keys:
        print("\n".join(valid_keys()))
        return 0
    recipe_model = load_config(args.recipe).to_dict()["model"]
    config = load_config(args.recipe, overrides_from_args(args, recipe_model))
    note = weight_source_note(args, recipe_model)
    if note and not args.print_config:
        print(note, flush=True)
    if args.print_config:
        print(yaml.safe_dump(config.to_dict(), sort_keys=False), end="")
        return 0
    if args.print_resolved:
        from tanet.engine.resolve import resolve_training

        resolved = resolve_training(config)
        print("\n".join(resolved.describe()))
        print(yaml.safe_dump(resolved.config.to_dict(), sort_keys=False), end="")
        return 0
    try:
        result = train(config)
    except NonFiniteLossError as error:
        print(f"tanet train: stopped: {error}", file=sys.stderr)
        return 1
    from tanet.engine.distributed import env_dist_info

    if env_dist_info().is_main:
        print(result.final_line())
    return 0
