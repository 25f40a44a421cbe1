"""Recipes as YAML files: a recipe (a path, or the name of a shipped one) names its ``base:`` recipes (a
path or a list, relative to itself; bases may have bases, applied first and in order; a cycle is an
error), then its own keys; ``section.key=value`` overrides (values parsed as YAML scalars) come last."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Union

import yaml

from tanet.utils.io import atomic_write_text

from . import fields as _fields
from .fields import ConfigError, apply_dict, set_key
from .schema import TrainConfig

__all__ = ["RECIPES", "recipe_path", "load_config", "apply_override", "save_config", "valid_keys"]

RECIPES = Path(__file__).resolve().parents[2] / "configs"  # the recipes shipped with the package


def recipe_path(name: Union[str, Path]) -> Path:
    """A recipe file: ``name`` itself when it exists, else a shipped recipe (``tanet_r50_k400_8x``,
    ``demo``; the ``.yaml`` may be left out)."""
    path = Path(name)
    if path.exists() or path.suffix or len(path.parts) > 1:
        return path
    shipped = RECIPES / f"{name}.yaml"
    if shipped.exists():
        return shipped
    names = sorted(p.stem for p in RECIPES.glob("*.yaml"))
    raise ConfigError(f"no recipe file {name!r} and no shipped recipe of that name; shipped: {', '.join(names)}")


def load_config(path: Optional[Union[str, Path]] = None,
                overrides: Optional[list[str]] = None) -> TrainConfig:
    """Build a :class:`TrainConfig` from a YAML recipe (a file, or the name of a shipped recipe; or
    the defaults) and ``a.b=value`` overrides."""
    config = TrainConfig()
    if path is not None:
        for source, data in _read_recipe(recipe_path(path)):
            apply_dict(config, data, source=source)
    for item in overrides or []:
        apply_override(config, item)
    config.validate()
    return config


def _read_recipe(path: Path, chain: tuple[Path, ...] = ()) -> list[tuple[str, dict]]:
    """The recipe's bases (recursively, in order), then the recipe itself: (source, data) pairs."""
    resolved = path.resolve()
    if resolved in chain:
        cycle = " -> ".join(str(p) for p in (*chain, resolved))
        raise ConfigError(f"{path}: the base recipes form a cycle: {cycle}")
    data = _read_yaml(path)
    bases = data.pop("base", None)
    if bases is None:
        bases = []
    elif isinstance(bases, str):
        bases = [bases]
    elif not (isinstance(bases, list) and all(isinstance(b, str) for b in bases)):
        raise ConfigError(f"{path}: base must be a recipe path or a list of them, got {bases!r}")
    layers: list[tuple[str, dict]] = []
    for base in bases:
        base_path = Path(base) if os.path.isabs(base) else path.parent / base
        layers += _read_recipe(base_path, (*chain, resolved))
    return layers + [(str(path), data)]


def _read_yaml(path: Path) -> dict:
    try:
        text = path.read_text()
    except OSError as error:
        raise ConfigError(f"{path}: cannot read config file ({error.strerror or error})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: invalid YAML: {error}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping of sections, got {type(data).__name__}")
    return data


def apply_override(config: TrainConfig, item: str) -> None:
    """Apply one ``section.key=value`` override; the value is parsed as a YAML scalar/list."""
    if "=" not in item:
        raise ConfigError(f"override {item!r} must look like section.key=value")
    dotted, raw = item.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw.strip() != "" else None
    except yaml.YAMLError:
        value = raw
    set_key(config, dotted.strip(), value, source="override", item=item)


def save_config(config: TrainConfig, path: Union[str, Path]) -> None:
    """Write a configuration as YAML (loadable with :func:`load_config`)."""
    atomic_write_text(path, yaml.safe_dump(config.to_dict(), sort_keys=False))


def valid_keys(config: Optional[TrainConfig] = None) -> list[str]:
    """All ``section.key`` (and ``model.temporal.key``) names of the configuration."""
    return _fields.valid_keys(config or TrainConfig())
