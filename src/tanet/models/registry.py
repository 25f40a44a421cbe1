"""Model registry: ``create_model(name, ...)`` and ``list_models()``; ``tanet models`` on the CLI."""
from __future__ import annotations

import argparse
import fnmatch
from collections.abc import Callable
from typing import Any

from torch import nn

__all__ = ["register_model", "create_model", "list_models", "is_model"]

_MODELS: dict[str, Callable[..., nn.Module]] = {}


def register_model(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    """Register a builder under its function name (timm-style)."""
    name = builder.__name__
    if name in _MODELS:
        raise ValueError(f"model {name!r} is registered twice")
    _MODELS[name] = builder
    return builder


def _ensure_loaded() -> None:
    # the builders register themselves on import
    from tanet.models import resnet  # noqa: F401


def list_models(pattern: str = "*") -> list[str]:
    """Registered model names matching a shell-style pattern, sorted."""
    _ensure_loaded()
    return sorted(name for name in _MODELS if fnmatch.fnmatch(name, pattern))


def is_model(name: str) -> bool:
    _ensure_loaded()
    return name in _MODELS


def create_model(
    name: str,
    num_classes: int | None = None,
    num_segments: int | None = None,
    *,
    weights: Any = None,
    checkpoint: Any = None,
    **kwargs: Any,
) -> nn.Module:
    """Build a registered model.

    Args:
        name: e.g. ``tanet_r50``, ``tsn_r18``, ``tsm_r50``, ``i3d311_r50`` (see :func:`list_models`).
        num_classes: classifier size (default 400).
        num_segments: frames per clip T (default 8); the model only accepts clips with this T.
        weights: a published checkpoint by name (``tanet.interop.list_weights()``), loaded from the
            cache or ``weights_path=FILE`` and checked against its SHA-256 (``download=True``,
            ``allow_unverified=True`` as in :func:`tanet.interop.resolve_weights_file`).
        checkpoint: a checkpoint file (native, official TAM or MMAction2 layout); the architecture
            arguments not given here come from the file.
        **kwargs: architecture options (``dropout``, ``width``, ``tam_position``, ``tam_alpha``,
            ``tam_beta``, ``tam_kernel_size``, ``tam_branches``, ``temporal_stages``, ...) and
            ``pretrained=PATH``, an ImageNet ResNet file (torchvision/timm keys) for the 2D part.

    The returned model's ``model_config`` rebuilds the same architecture: ``create_model(**model.model_config)``.
    """
    _ensure_loaded()
    if name not in _MODELS:
        close = fnmatch.filter(_MODELS, f"*{name.split('_')[0]}*") or sorted(_MODELS)
        raise ValueError(f"unknown model {name!r}; registered models include: {', '.join(sorted(close))}")
    if weights is not None or checkpoint is not None or "weights_path" in kwargs:
        from tanet.interop.loading import create_model_with_weights

        return create_model_with_weights(
            name, num_classes, num_segments, weights=weights, checkpoint=checkpoint, **kwargs
        )
    num_classes = 400 if num_classes is None else num_classes
    num_segments = 8 if num_segments is None else num_segments
    model = _MODELS[name](num_classes=num_classes, num_segments=num_segments, **kwargs)
    architecture = {key: value for key, value in kwargs.items() if key != "pretrained"}
    if "temporal_stages" in architecture:
        architecture["temporal_stages"] = list(architecture["temporal_stages"])
    model.model_config = {"name": name, "num_classes": num_classes, "num_segments": num_segments, **architecture}
    return model


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("pattern", nargs="?", default="*", help="shell-style filter, e.g. 'tanet_*'")


def run(args: argparse.Namespace) -> int:
    _ensure_loaded()
    for name in list_models(args.pattern):
        doc = (_MODELS[name].__doc__ or "").strip().splitlines()
        print(f"{name:14s} {doc[0] if doc else ''}")
    return 0
