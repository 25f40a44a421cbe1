"""Setting values into the typed config: nested mappings (a recipe) and dotted keys (an override), each
value checked against its field's annotation; an unknown key is an error that lists the valid ones."""
from __future__ import annotations

import typing
from dataclasses import fields, is_dataclass
from typing import Any, Optional, Union

from tanet.errors import UsageError

__all__ = ["ConfigError", "apply_dict", "set_key", "valid_keys"]


class ConfigError(UsageError):
    """A configuration file or override is invalid (unknown key, wrong type or value)."""


def apply_dict(config: Any, data: dict, source: str = "<dict>") -> None:
    """Overwrite fields of ``config`` with the nested mapping ``data`` (checked and typed)."""
    sections = {f.name: f for f in fields(config)}
    for section_name, values in data.items():
        if section_name not in sections:
            raise ConfigError(f"{source}: unknown section {section_name!r}; "
                              f"valid sections: {', '.join(sections)}")
        if values is None:
            continue
        if not isinstance(values, dict):
            raise ConfigError(f"{source}: section {section_name!r} must be a mapping")
        _apply_section(getattr(config, section_name), section_name, values, source)


def _apply_section(section: Any, dotted: str, values: dict, source: str) -> None:
    nested = {f.name for f in fields(section) if is_dataclass(getattr(section, f.name))}
    for key, value in values.items():
        if key in nested:
            if value is None:
                continue
            if not isinstance(value, dict):
                raise ConfigError(f"{source}: {dotted}.{key} must be a mapping of its keys, got {value!r}")
            _apply_section(getattr(section, key), f"{dotted}.{key}", value, source)
        else:
            _set_field(section, dotted, key, value, source)


def set_key(config: Any, dotted: str, value: Any, *, source: str = "<code>", item: Optional[str] = None) -> None:
    """Set one key, ``section.key`` or ``model.temporal.key``, to an already parsed value (checked, typed)."""
    parts = dotted.split(".")
    shown = item if item is not None else dotted
    if parts[0] not in {f.name for f in fields(config)}:
        raise ConfigError(f"{source} {shown!r}: unknown section {parts[0]!r}; "
                          f"valid keys: {', '.join(valid_keys(config))}")
    section = config
    for part in parts[:-1]:
        child = getattr(section, part, None) if part in {f.name for f in fields(section)} else None
        if child is None or not is_dataclass(child):
            raise ConfigError(f"{source} {shown!r}: expected section.key=value; "
                              f"valid keys: {', '.join(valid_keys(config))}")
        section = child
    if section is config:
        raise ConfigError(f"{source} {shown!r}: expected section.key=value; "
                          f"valid keys: {', '.join(valid_keys(config))}")
    _set_field(section, ".".join(parts[:-1]), parts[-1], value, source)


def valid_keys(config: Any) -> list[str]:
    """All ``section.key`` (and ``model.temporal.key``) names of ``config``."""

    def walk(node: Any, prefix: str) -> list[str]:
        keys = []
        for f in fields(node):
            value = getattr(node, f.name)
            keys += walk(value, f"{prefix}{f.name}.") if is_dataclass(value) else [f"{prefix}{f.name}"]
        return keys

    return walk(config, "")


def _set_field(section: Any, section_name: str, key: str, value: Any, source: str) -> None:
    known = {f.name: f for f in fields(section)}
    if key in known and is_dataclass(getattr(section, key)):
        example = fields(getattr(section, key))[0].name
        raise ConfigError(f"{source}: {section_name}.{key} is a section; set its keys, "
                          f"e.g. {section_name}.{key}.{example}=...")
    if key not in known:
        raise ConfigError(
            f"{source}: unknown key {section_name}.{key}; valid keys in {section_name!r}: "
            f"{', '.join(known)}"
        )
    hint = typing.get_type_hints(type(section))[key]
    setattr(section, key, _coerce(value, hint, f"{section_name}.{key}", source))


def _coerce(value: Any, hint: Any, key: str, source: str) -> Any:
    """Check ``value`` against the annotation ``hint``; ints are accepted where floats are."""
    origin = typing.get_origin(hint)
    if origin is Union:
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        for option in options:
            if option is type(None):
                continue
            try:
                return _coerce(value, option, key, source)
            except ConfigError:
                continue
        raise ConfigError(f"{source}: {key} has the wrong type: {value!r}")
    if hint is bool:
        if isinstance(value, bool):
            return value
    elif hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # YAML 1.1 reads "1e-3" (no dot) as a string
            try:
                return float(value)
            except ValueError:
                pass
    elif hint is str:
        if isinstance(value, str):
            return value
    elif hint is list or origin is list:
        if isinstance(value, (list, tuple)):
            return list(value)
    elif hint is dict or origin is dict:
        if isinstance(value, dict):
            return dict(value)
    else:  # pragma: no cover - every field uses one of the types above
        return value
    expected = getattr(hint, "__name__", str(hint))
    raise ConfigError(f"{source}: {key} must be {expected}, got {value!r}")
