"""Typed training configuration: dataclasses, YAML loading and dotted overrides.

A recipe is one YAML file with the sections ``model``, ``data``, ``optim``, ``schedule``
and ``runtime`` (all optional; missing keys keep their defaults). A recipe may name one
``base:`` file (relative to itself) whose keys it overrides; the base may not name
another base, so every recipe is at most two files deep.

Every key can be overridden from the command line as ``section.key=value`` where the
value is parsed as a YAML scalar (``optim.lr=0.02``, ``schedule.milestones=[30,40]``,
``model.pretrained=null``). Unknown keys are errors that list the valid ones.
"""
from __future__ import annotations

import os
import typing
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Optional, Union

import yaml


class ConfigError(ValueError):
    """A configuration file or override is invalid (unknown key, wrong type or value)."""


@dataclass
class ModelConfig:
    """Which network to build (``tanet.create_model`` arguments)."""

    name: str = "tanet_r50"
    num_classes: Optional[int] = None  # None: number of lines of data.class_names
    num_segments: int = 8
    dropout: float = 0.5
    width: float = 1.0
    pretrained: Optional[str] = None  # torchvision-format ImageNet ResNet state dict
    extra: dict = field(default_factory=dict)  # further create_model keyword arguments


@dataclass
class DataConfig:
    """Where the videos are and how clips are sampled and augmented."""

    train_list: Optional[str] = None
    val_list: Optional[str] = None
    root: str = ""
    class_names: Optional[str] = None  # text file, one class name per line
    sampling: str = "segment"  # "segment" (TSN) or "dense" (Kinetics recipe)
    dense_interval: Optional[int] = None  # dense sampling stride; None: 64 // num_segments
    size: int = 224
    scale_size: int = 256
    flip: Union[bool, str] = True  # True, False, or "swap" (flip with left/right label swap)
    crop_scales: list = field(default_factory=lambda: [1.0, 0.875, 0.75, 0.66])  # multi-scale crop
    val_protocol: str = "efficient"  # evaluation after each epoch: efficient|accurate|dense
    backend: Optional[str] = None  # video reader backend (None: automatic)
    frames: Optional[bool] = None  # list lines are frame folders (None: decide per line)
    frame_template: str = "img_{:05d}.jpg"
    strict: bool = False  # raise on an unreadable video instead of skipping it
    batch_size: int = 8  # clips per process and step
    val_batch_size: Optional[int] = None  # None: same as batch_size
    num_workers: int = 0
    persistent_workers: bool = True  # only used when num_workers > 0
    pin_memory: bool = True  # only used on CUDA


@dataclass
class OptimConfig:
    """SGD with the official TSN/TAM parameter groups (AdamW for small from-scratch CPU runs)."""

    name: str = "sgd"  # "sgd" (every official recipe) or "adamw" (faster from scratch on tiny data)
    lr: float = 0.01  # learning rate at base_batch_size
    base_batch_size: Optional[int] = None  # None: use lr as is; else linear scaling rule
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 1e-4
    # "official": every Linear weight x5 lr, Linear biases x10 (TAM repo's fc_lr5);
    # "classifier": only the classifier (MMAction2); "none": Linear layers as normal weights.
    linear_lr_policy: str = "official"
    partial_bn: bool = False
    clip_grad_norm: Optional[float] = 20.0
    label_smoothing: float = 0.0


@dataclass
class ScheduleConfig:
    """Learning-rate schedule, evaluated per iteration."""

    name: str = "step"  # "step" or "cosine"
    epochs: int = 100
    milestones: list = field(default_factory=lambda: [50, 75, 90])  # epochs (step)
    gamma: float = 0.1
    warmup_epochs: float = 0.0
    warmup_start_factor: float = 0.1  # lr multiplier at the first warm-up iteration
    min_lr_factor: float = 0.0  # cosine floor as a fraction of the peak lr


@dataclass
class RuntimeConfig:
    """Where and how the run executes."""

    out: str = "runs/train"
    seed: int = 0
    device: str = "auto"  # "auto", "cpu", "cuda", "cuda:1", ...
    amp: str = "none"  # "none", "bf16" (CPU or GPU), "fp16" (GPU)
    channels_last: bool = False
    compile: bool = False
    sync_bn: bool = False
    dist_backend: str = "auto"  # "auto" (nccl on GPU, gloo on CPU), "nccl", "gloo"
    resume: Optional[str] = None  # a checkpoint path, or "auto" for out/last.pt if it exists
    eval_every: int = 1  # epochs between validations (the last epoch is always validated)
    progress: bool = True  # progress bars (main process only)
    tensorboard: bool = True  # used when the tensorboard package is installed
    log_every: int = 20  # iterations between log lines when progress bars are off
    max_steps_per_epoch: Optional[int] = None  # cut epochs short (smoke tests)
    deterministic: bool = False  # torch.use_deterministic_algorithms
    num_threads: Optional[int] = None  # torch.set_num_threads (None: PyTorch's default)


@dataclass
class TrainConfig:
    """A complete training recipe."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict, source: str = "<dict>") -> "TrainConfig":
        config = cls()
        apply_dict(config, data, source=source)
        config.validate()
        return config

    def validate(self) -> None:
        """Check values that the type alone does not (enums, ranges)."""
        _choice("data.sampling", self.data.sampling, ("segment", "dense"))
        _choice("data.val_protocol", self.data.val_protocol, ("efficient", "accurate", "dense"))
        if self.data.flip not in (True, False, "swap"):
            raise ConfigError(f"data.flip must be true, false or 'swap', got {self.data.flip!r}")
        _choice("optim.name", self.optim.name, ("sgd", "adamw"))
        _choice("optim.linear_lr_policy", self.optim.linear_lr_policy,
                ("official", "classifier", "none"))
        _choice("schedule.name", self.schedule.name, ("step", "cosine"))
        _choice("runtime.amp", self.runtime.amp, ("none", "bf16", "fp16"))
        _choice("runtime.dist_backend", self.runtime.dist_backend, ("auto", "nccl", "gloo"))
        for key, value, low in (
            ("data.batch_size", self.data.batch_size, 1),
            ("model.num_segments", self.model.num_segments, 1),
            ("schedule.epochs", self.schedule.epochs, 1),
            ("runtime.eval_every", self.runtime.eval_every, 1),
            ("data.num_workers", self.data.num_workers, 0),
        ):
            if value < low:
                raise ConfigError(f"{key} must be >= {low}, got {value}")
        if self.optim.lr <= 0:
            raise ConfigError(f"optim.lr must be positive, got {self.optim.lr}")
        if not 0.0 <= self.model.dropout < 1.0:
            raise ConfigError(f"model.dropout must be in [0, 1), got {self.model.dropout}")


def _choice(key: str, value: Any, choices: tuple) -> None:
    if value not in choices:
        raise ConfigError(f"{key} must be one of {', '.join(map(str, choices))}; got {value!r}")


# --------------------------------------------------------------------------- loading

def load_config(path: Optional[Union[str, Path]] = None,
                overrides: Optional[list[str]] = None) -> TrainConfig:
    """Build a :class:`TrainConfig` from a YAML recipe (or defaults) and ``a.b=value`` overrides."""
    config = TrainConfig()
    if path is not None:
        for source, data in _read_recipe(Path(path)):
            apply_dict(config, data, source=source)
    for item in overrides or []:
        apply_override(config, item)
    config.validate()
    return config


def _read_recipe(path: Path) -> list[tuple[str, dict]]:
    data = _read_yaml(path)
    base = data.pop("base", None)
    if base is None:
        return [(str(path), data)]
    base_path = (path.parent / base) if not os.path.isabs(base) else Path(base)
    base_data = _read_yaml(base_path)
    if "base" in base_data:
        raise ConfigError(f"{base_path}: a base recipe may not name another base "
                          f"(recipes are at most one level deep)")
    return [(str(base_path), base_data), (str(path), data)]


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


def apply_dict(config: TrainConfig, data: dict, source: str = "<dict>") -> None:
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
        section = getattr(config, section_name)
        for key, value in values.items():
            _set_field(section, section_name, key, value, source)


def apply_override(config: TrainConfig, item: str) -> None:
    """Apply one ``section.key=value`` override; the value is parsed as a YAML scalar/list."""
    if "=" not in item:
        raise ConfigError(f"override {item!r} must look like section.key=value")
    dotted, raw = item.split("=", 1)
    parts = dotted.strip().split(".")
    try:
        value = yaml.safe_load(raw) if raw.strip() != "" else None
    except yaml.YAMLError:
        value = raw
    sections = {f.name for f in fields(config)}
    if parts[0] not in sections:
        raise ConfigError(f"override {item!r}: unknown section {parts[0]!r}; "
                          f"valid keys: {', '.join(valid_keys(config))}")
    section = getattr(config, parts[0])
    if len(parts) == 3 and parts[1] == "extra":
        section.extra = {**section.extra, parts[2]: value}
        return
    if len(parts) != 2:
        raise ConfigError(f"override {item!r}: expected section.key=value; "
                          f"valid keys: {', '.join(valid_keys(config))}")
    _set_field(section, parts[0], parts[1], value, "override")


def valid_keys(config: Optional[TrainConfig] = None) -> list[str]:
    """All ``section.key`` names of the configuration."""
    config = config or TrainConfig()
    return [f"{s.name}.{f.name}" for s in fields(config) for f in fields(getattr(config, s.name))]


def _set_field(section: Any, section_name: str, key: str, value: Any, source: str) -> None:
    known = {f.name: f for f in fields(section)}
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


def save_config(config: TrainConfig, path: Union[str, Path]) -> None:
    """Write the resolved configuration as YAML (loadable with :func:`load_config`)."""
    Path(path).write_text(yaml.safe_dump(config.to_dict(), sort_keys=False))


def replace(config: TrainConfig, **sections: dict) -> TrainConfig:
    """A copy of ``config`` with some keys changed: ``replace(cfg, optim={"lr": 0.1})``."""
    copy = TrainConfig.from_dict(config.to_dict())
    apply_dict(copy, sections, source="replace()")
    copy.validate()
    return copy


__all__ = [
    "ConfigError", "ModelConfig", "DataConfig", "OptimConfig", "ScheduleConfig",
    "RuntimeConfig", "TrainConfig", "load_config", "apply_dict", "apply_override",
    "valid_keys", "save_config", "replace",
]
