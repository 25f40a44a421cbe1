"""``tanet convert IN OUT``: a checkpoint of the official TAM code or MMAction2 -> a native checkpoint.

The foreign TSN wrappers take input (N, T*C, H, W) (frames stacked on channels); tanet models take
(N, C, T, H, W). Only the weights change layout; the converted model computes the same logits.
The output is the engine's native checkpoint (``format``, ``version``, ``model``, ``model_config``,
``class_names``) so ``tanet test --checkpoint OUT`` and ``tanet predict`` work on it.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, Sequence

from tanet.engine.checkpoint import CHECKPOINT_FORMAT, CHECKPOINT_VERSION, CheckpointError, load_model_state, save_checkpoint

from .formats import FORMATS
from .loading import read_checkpoint
from .weights import kinetics400_class_names, sha256_file

__all__ = ["convert_checkpoint", "add_arguments", "run"]


def _read_class_names(spec: str | Sequence[str] | None, num_classes: int) -> list[str] | None:
    if spec is None:
        return None
    if isinstance(spec, str):
        names = kinetics400_class_names() if spec == "kinetics400" else \
            [line.strip() for line in Path(spec).read_text(encoding="utf-8").splitlines() if line.strip()]
    else:
        names = list(spec)
    if len(names) != num_classes:
        raise ValueError(f"{len(names)} class names for a model with {num_classes} classes")
    return names


def convert_checkpoint(
    source: str | os.PathLike,
    destination: str | os.PathLike,
    *,
    source_format: str = "auto",
    model: str | None = None,
    num_segments: int | None = None,
    class_names: str | Sequence[str] | None = None,
    **model_overrides: Any,
) -> dict:
    """Convert ``source`` to a native checkpoint at ``destination``; returns the written dict.

    The architecture is inferred from the weights (depth, width, classes, TAM shape and frames);
    ``model`` and ``num_segments`` override it (e.g. ``model="tsm_r50"`` for a TSM checkpoint without
    its shift wrapper, ``num_segments`` for TSN/TSM, whose weights do not record it). ``class_names``
    is a file (one per line), a list, or ``"kinetics400"``. The weights are loaded strictly into the
    rebuilt model before anything is written.
    """
    loaded = read_checkpoint(source, source_format)
    config = dict(loaded.model_config)
    if model is not None:
        config["name"] = model
    if num_segments is not None:
        config["num_segments"] = num_segments
    config.update(model_overrides)
    import tanet

    name = config.pop("name")
    try:
        built = tanet.create_model(name, **config)
    except (TypeError, ValueError) as error:
        raise CheckpointError(source, f"cannot build {name} with {config}: {error}") from None
    load_model_state(built, loaded.state_dict, source=f"{source} ({loaded.source_format} layout)")
    names = _read_class_names(class_names, built.num_classes) if class_names is not None else loaded.class_names
    state = {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "model": built.state_dict(),
        "model_config": built.model_config,
        "class_names": names,
        "converted_from": {"path": str(source), "format": loaded.source_format, "sha256": sha256_file(source)},
    }
    save_checkpoint(destination, state)
    return state


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", help="checkpoint of the official TAM code, MMAction2 or tanet")
    parser.add_argument("output", help="native tanet checkpoint to write")
    parser.add_argument("--format", default="auto", choices=("auto", *FORMATS), help="layout of INPUT (default: detect)")
    parser.add_argument("--model", help="model name override, e.g. tsm_r50 (default: inferred from the weights)")
    parser.add_argument("--segments", type=int, help="frames per clip (TSN/TSM weights do not record it)")
    parser.add_argument("--class-names", help="class-name file (one per line) or 'kinetics400'")


def run(args: argparse.Namespace) -> int:
    try:
        state = convert_checkpoint(args.input, args.output, source_format=args.format, model=args.model,
                                   num_segments=args.segments, class_names=args.class_names)
    except (CheckpointError, ValueError, OSError) as error:
        print(f"tanet convert: {error}", file=sys.stderr)
        return 1
    config = state["model_config"]
    print(f"{args.input} ({state['converted_from']['format']} layout) -> {args.output}: {config['name']}, "
          f"{config['num_classes']} classes, {config['num_segments']} frames")
    return 0
