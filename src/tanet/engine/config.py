"""Typed training configuration: dataclasses, YAML loading and dotted overrides.

A recipe is one YAML file with the sections ``model`` (with its ``temporal`` sub-section),
``data``, ``optim``, ``schedule`` and ``runtime`` (all optional; missing keys keep their
defaults). A recipe may name ``base:`` recipes (a path or a list of paths, relative to itself),
which may name bases of their own: bases are applied first, in order, then the recipe's own keys.
A base named twice in one chain is an error (a cycle).

Every key can be overridden from the command line as ``section.key=value`` (or
``model.temporal.key=value``) where the value is parsed as a YAML scalar (``optim.lr=0.02``,
``schedule.milestones=[30,40]``, ``model.temporal.tam_position=c``). Unknown keys are errors that
list the valid ones.
"""
from __future__ import annotations

import os
import typing
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any, Optional, Union

import yaml

from tanet.errors import UsageError
from tanet.utils.io import atomic_write_text


class ConfigError(UsageError):
    """A configuration file or override is invalid (unknown key, wrong type or value)."""


# tanet.data.TEST_PROTOCOLS (not imported: loading a config must not load torch)
TEST_PROTOCOL_NAMES = ("efficient", "accurate", "twice_sample", "dense")


@dataclass
class TemporalConfig:
    """The paper's knobs: the temporal options of ``tanet.create_model``, as
    :class:`tanet.models.TemporalSpec` names them. Each model family reads its own."""

    tam_position: str = "b"  # TA-Block style: a (before conv1), b (after conv1), c, d
    tam_alpha: int = 2  # global branch: hidden layer of alpha*T units
    tam_beta: int = 4  # local branch: hidden layer of C/beta channels
    tam_kernel_size: int = 3  # K, the adaptive kernel's size (odd)
    tam_branches: str = "both"  # "both", "local" (V only) or "global" (Θ only)
    temporal_stages: list = field(default_factory=lambda: [1, 2, 3, 4])  # ResNet stages with a temporal module
    shift_fold_div: int = 8  # TSM: 1/fold_div of the channels shift each way
    inflate_size: int = 3  # I3D: temporal size of the inflated conv
    inflate_init: str = "centre"  # I3D: a 2D ImageNet kernel on the "centre" tap, or "spread" over the taps (MMAction2)


@dataclass
class ModelConfig:
    """Which network to build (``tanet.create_model`` arguments)."""

    name: str = "tanet_r50"
    num_classes: Optional[int] = None  # None: number of lines of data.class_names
    num_segments: int = 8
    dropout: float = 0.5
    width: float = 1.0
    # Where the 2D part starts from: a 2D ImageNet ResNet file (torchvision/timm keys), a reserved name, or
    # "scratch" (from scratch, chosen). None: not given -- from scratch (unless init_from / weights start
    # the model), with a warning when the recipe expects ImageNet weights (pretrained_expected).
    pretrained: Optional[str] = None
    pretrained_expected: bool = False  # the recipe is meant to start from ImageNet weights (the official recipes)
    # fine-tuning: a video checkpoint (tanet, official TAM, MMAction2) whose backbone and temporal
    # modules start the model; its classifier too when the class count matches, else a fresh one
    init_from: Optional[str] = None
    weights: Optional[str] = None  # the same from a published checkpoint by name (`tanet weights list`)
    weights_file: Optional[str] = None  # local copy of model.weights (None: $TANET_HOME/weights)
    allow_unverified: bool = False  # use model.weights although no checksum is published for it
    temporal: TemporalConfig = field(default_factory=TemporalConfig)


@dataclass
class SyntheticSetConfig:
    """One of the built-in procedurally generated sets as the data (rendered once, cached under
    ``$TANET_HOME/synthetic``). With ``kind`` set, the set's lists, root and class names fill
    ``data.train_list``, ``data.val_list``, ``data.root`` and ``data.class_names``."""

    kind: Optional[str] = None  # "motion" or "appearance"; None: the data are data.train_list etc.
    preset: str = "default"  # "default" or "quick" (smaller sets)
    num_classes: Optional[int] = None  # the first N classes of the kind (None: the preset's)
    seed: int = 0  # seed of the rendering (the set, not the training run)
    validate: bool = True  # validate on the set's val split after each epoch


@dataclass
class DataConfig:
    """Where the videos are and how clips are sampled and augmented."""

    synthetic: SyntheticSetConfig = field(default_factory=SyntheticSetConfig)
    train_list: Optional[str] = None
    val_list: Optional[str] = None
    root: str = ""
    class_names: Optional[str] = None  # text file, one class name per line
    sampling: str = "segment"  # "segment" (TSN) or "dense" (Kinetics recipe)
    # "official": the TAM code's frame indices (tail frames never sampled in training, short videos repeat
    # frame 1, the middle dense window); "spread": segments over the whole video (MMAction2 keep_tail_frames)
    sampling_rule: str = "official"
    dense_interval: Optional[int] = None  # dense sampling stride; None: 64 // num_segments
    size: int = 224
    scale_size: Optional[int] = None  # short side the crops come from; None: size * 256 // 224 (official)
    # True: flip half of the clips; a mirrored clip of a class with a mirrored partner (left_to_right /
    # right_to_left) takes the partner's label, a direction class without one is never flipped.
    # False: never flip. "swap": as True, but data.class_names is required.
    flip: Union[bool, str] = True
    crop_scales: list = field(default_factory=lambda: [1.0, 0.875, 0.75, 0.66])  # multi-scale crop
    val_protocol: str = "efficient"  # evaluation after each epoch: efficient|accurate|twice_sample|dense
    test_protocol: str = "efficient"  # what `tanet test` uses unless --protocol says otherwise
    backend: Optional[str] = None  # video reader backend (None: automatic)
    frames: Optional[bool] = None  # list lines are frame folders (None: decide per line)
    frame_template: str = "img_{:05d}.jpg"
    strict: bool = False  # raise on an unreadable video instead of skipping it
    max_skip_fraction: float = 0.1  # stop when more of an epoch's videos than this could not be read
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
    overwrite: bool = False  # replace the run already in `out` (without it, such a folder is refused)
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
        if self.data.synthetic.kind is not None:
            _choice("data.synthetic.kind", self.data.synthetic.kind, ("motion", "appearance"))
            _choice("data.synthetic.preset", self.data.synthetic.preset, ("default", "quick"))
        _choice("data.sampling_rule", self.data.sampling_rule, ("official", "spread"))
        for key in ("val_protocol", "test_protocol"):
            _choice(f"data.{key}", getattr(self.data, key), TEST_PROTOCOL_NAMES)
        for key in ("size", "scale_size", "dense_interval"):
            value = getattr(self.data, key)
            if value is not None and value < 1:
                raise ConfigError(f"data.{key} must be >= 1, got {value}")
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
            ("data.size", self.data.size, 1),
            ("data.scale_size", self.data.scale_size, 1),
            ("data.val_batch_size", self.data.val_batch_size, 1),
            ("data.dense_interval", self.data.dense_interval, 1),
            ("model.num_classes", self.model.num_classes, 1),
            ("optim.base_batch_size", self.optim.base_batch_size, 1),
            ("runtime.max_steps_per_epoch", self.runtime.max_steps_per_epoch, 1),
            ("runtime.num_threads", self.runtime.num_threads, 1),
            ("runtime.log_every", self.runtime.log_every, 0),
        ):
            if value is not None and value < low:
                raise ConfigError(f"{key} must be >= {low}, got {value}")
        for key, value in (("optim.lr", self.optim.lr), ("model.width", self.model.width)):
            if value <= 0:
                raise ConfigError(f"{key} must be positive, got {value}")
        for key, value in (("optim.momentum", self.optim.momentum), ("optim.weight_decay", self.optim.weight_decay),
                           ("schedule.warmup_epochs", self.schedule.warmup_epochs),
                           ("optim.clip_grad_norm", self.optim.clip_grad_norm)):
            if value is not None and value < 0:
                raise ConfigError(f"{key} must be >= 0, got {value}")
        if not 0.0 < self.schedule.gamma <= 1.0:
            raise ConfigError(f"schedule.gamma must be in (0, 1] (the factor the lr is multiplied by at each "
                              f"milestone), got {self.schedule.gamma}")
        for key, value in (("schedule.min_lr_factor", self.schedule.min_lr_factor),
                           ("schedule.warmup_start_factor", self.schedule.warmup_start_factor),
                           ("data.max_skip_fraction", self.data.max_skip_fraction),
                           ("optim.label_smoothing", self.optim.label_smoothing)):
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"{key} must be in [0, 1], got {value}")
        if not self.data.crop_scales or any(not isinstance(v, (int, float)) or isinstance(v, bool) or not 0 < v <= 1
                                            for v in self.data.crop_scales):
            raise ConfigError(f"data.crop_scales must be a non-empty list of fractions in (0, 1], "
                              f"got {self.data.crop_scales}")
        if any(not isinstance(m, (int, float)) or isinstance(m, bool) or m < 0 for m in self.schedule.milestones):
            raise ConfigError(f"schedule.milestones must be epochs >= 0, got {self.schedule.milestones}")
        if self.runtime.resume and self.runtime.overwrite:
            raise ConfigError("runtime.resume and runtime.overwrite exclude each other: "
                              "resume continues the run in runtime.out, overwrite replaces it")
        sources = [key for key in ("pretrained", "init_from", "weights") if getattr(self.model, key)]
        if len(sources) > 1:
            raise ConfigError("give one of model.pretrained (a 2D ImageNet file), model.init_from (a video "
                              "checkpoint) and model.weights (a published one), not " + " and ".join(sources))
        if self.model.weights_file and not self.model.weights:
            raise ConfigError("model.weights_file is the local copy of model.weights (a published name); "
                              "for any other video checkpoint use model.init_from (--init-from FILE)")
        if not 0.0 <= self.model.dropout < 1.0:
            raise ConfigError(f"model.dropout must be in [0, 1), got {self.model.dropout}")
        t = self.model.temporal
        _choice("model.temporal.tam_position", t.tam_position, ("a", "b", "c", "d"))
        _choice("model.temporal.tam_branches", t.tam_branches, ("both", "local", "global"))
        _choice("model.temporal.inflate_init", t.inflate_init, ("centre", "spread"))
        if t.tam_kernel_size < 1 or t.tam_kernel_size % 2 == 0:
            raise ConfigError(f"model.temporal.tam_kernel_size must be odd and >= 1, got {t.tam_kernel_size}")
        bad_stages = [stage for stage in t.temporal_stages if stage not in (1, 2, 3, 4)]
        if bad_stages or len(set(t.temporal_stages)) != len(t.temporal_stages):
            raise ConfigError(f"model.temporal.temporal_stages must be distinct stages 1..4, got {t.temporal_stages}")
        for key, value in (("tam_alpha", t.tam_alpha), ("tam_beta", t.tam_beta),
                           ("shift_fold_div", t.shift_fold_div), ("inflate_size", t.inflate_size)):
            if value < 1:
                raise ConfigError(f"model.temporal.{key} must be >= 1, got {value}")


def _choice(key: str, value: Any, choices: tuple) -> None:
    if value not in choices:
        raise ConfigError(f"{key} must be one of {', '.join(map(str, choices))}; got {value!r}")


# --------------------------------------------------------------------------- loading

RECIPES = Path(__file__).resolve().parents[1] / "configs"  # the recipes shipped with the package


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


def set_key(config: TrainConfig, dotted: str, value: Any, *, source: str = "<code>", item: Optional[str] = None) -> None:
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


def valid_keys(config: Optional[TrainConfig] = None) -> list[str]:
    """All ``section.key`` (and ``model.temporal.key``) names of the configuration."""
    config = config or TrainConfig()

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


def save_config(config: TrainConfig, path: Union[str, Path]) -> None:
    """Write the resolved configuration as YAML (loadable with :func:`load_config`)."""
    atomic_write_text(path, yaml.safe_dump(config.to_dict(), sort_keys=False))


__all__ = [
    "ConfigError", "TemporalConfig", "ModelConfig", "SyntheticSetConfig", "DataConfig", "OptimConfig", "ScheduleConfig",
    "RuntimeConfig", "TrainConfig", "load_config", "apply_dict", "apply_override", "set_key",
    "valid_keys", "save_config",
]
