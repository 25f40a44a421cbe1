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

__all__ = ["register_model", "register_alias", "canonical_name", "list_models", "is_model", "model_entrypoint",
           "UnknownModelError"]

_MODELS: dict[str, Callable[..., nn.Module]] = {}
_ALIASES: dict[str, str] = {}  # an earlier name -> the registered one (not listed)


class UnknownModelError(UsageError):
    """A model name that is not registered; the message lists close matches."""


def register_model(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    """Register a builder under its function name (timm-style)."""
    name = builder.__name__
    if name in _MODELS:
        raise ValueError(f"model {name!r} is registered twice")
    _MODELS[name] = builder
    return builder


def register_alias(old: str, name: str) -> None:
    """Let ``old`` (a name of an earlier release) build the registered model ``name``; it is not listed."""
    if name not in _MODELS or old in _MODELS or old in _ALIASES:
        raise ValueError(f"cannot alias {old!r} to {name!r}")
    _ALIASES[old] = name


def canonical_name(name: str) -> str:
    """The registered name behind ``name`` (itself unless it is an alias)."""
    return _ALIASES.get(name, name)


def list_models(pattern: str = "*") -> list[str]:
    """Registered model names matching a shell-style pattern, sorted."""
    return sorted(name for name in _MODELS if fnmatch.fnmatch(name, pattern))


def is_model(name: str) -> bool:
    return canonical_name(name) in _MODELS


def model_entrypoint(name: str) -> Callable[..., nn.Module]:
    """The builder registered as ``name`` (or aliased to it); an unknown name lists the close ones."""
    name = canonical_name(name)
    if name not in _MODELS:
        family = name.split("_")[0]
        close = fnmatch.filter(_MODELS, f"*{family}*") or sorted(_MODELS)
        raise UnknownModelError(f"unknown model {name!r}; registered models include: {', '.join(sorted(close))}")
    return _MODELS[name]
