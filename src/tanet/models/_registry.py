"""The model registry: names of the registered model builders, nothing else (as timm's ``_registry``).

Builders register themselves with :func:`register_model` when their family module is imported
(``tanet.models`` imports every family). Building and loading weights live above:
:func:`tanet.models.build_model` (architecture) and :func:`tanet.create_model` (architecture + weights).
"""
from __future__ import annotations

import fnmatch
from collections.abc import Callable

from torch import nn

from tanet.errors import UsageError

__all__ = ["register_model", "list_models", "is_model", "model_entrypoint", "UnknownModelError"]

_MODELS: dict[str, Callable[..., nn.Module]] = {}


class UnknownModelError(UsageError):
    """A model name that is not registered; the message lists close matches."""


def register_model(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    """Register a builder under its function name (timm-style)."""
    name = builder.__name__
    if name in _MODELS:
        raise ValueError(f"model {name!r} is registered twice")
    _MODELS[name] = builder
    return builder


def list_models(pattern: str = "*") -> list[str]:
    """Registered model names matching a shell-style pattern, sorted."""
    return sorted(name for name in _MODELS if fnmatch.fnmatch(name, pattern))


def is_model(name: str) -> bool:
    return name in _MODELS


def model_entrypoint(name: str) -> Callable[..., nn.Module]:
    """The builder registered as ``name``; an unknown name lists the close ones."""
    if name not in _MODELS:
        family = name.split("_")[0]
        close = fnmatch.filter(_MODELS, f"*{family}*") or sorted(_MODELS)
        raise UnknownModelError(f"unknown model {name!r}; registered models include: {', '.join(sorted(close))}")
    return _MODELS[name]
