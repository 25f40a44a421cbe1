"""One resolved configuration: every value a run uses, derived once from the recipe, with the reason of
each derived value.

Training (:func:`resolve_training`) and every use of a trained model -- ``tanet test``, ``predict``, the
kernel analysis, export (:func:`resolve_for_eval`) -- resolve once and then read only the
:class:`ResolvedConfig`. What is derived:

* ``data.root`` / ``train_list`` / ``val_list`` / ``class_names`` from a built-in synthetic set
  (``data.synthetic.kind``), and ``data.class_names`` from the ``classes.txt`` that ``tanet prepare`` writes
  beside the training list when no names are given;
* ``model.num_classes`` from the class names;
* ``data.scale_size``: ``size * 256 // 224``, as the official code (``ops/models.py`` lines 448-453);
* ``data.dense_interval``: ``64 // model.num_segments`` (official ``t_stride``, a 64-frame window);
* ``data.val_batch_size``: ``data.batch_size``;
* ``data.flip`` ``auto``: on with the mirrored-pair label map when the class names are known, off when
  they are not (a mirrored ``left_to_right`` clip could not be relabelled);
* ``model.pretrained``: ``scratch`` when a recipe meant for ImageNet weights got none (said loudly);
* ``runtime.channels_last`` ``auto``: the training layout that measured faster on the device the run
  will use (:func:`training_layout`).

A value the user set is kept. The recipe as given (:attr:`ResolvedConfig.recipe`: derived keys left
``None``) is what ``config.yaml`` records, so that a later override of the key a value follows
(``--size``) cannot leave a stale derived value behind; the resolved values and their reasons are
recorded beside it (:meth:`ResolvedConfig.record`).
"""
from __future__ import annotations

import copy
import os
import warnings as _warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

from tanet.data.labels import FlipLabels, flip_labels
from tanet.data.lists import read_class_names
from tanet.data.synthetic import PRESETS, SyntheticDataset, generate
from tanet.data.transforms import default_scale_size
from tanet.engine.config import ConfigError, TrainConfig
from tanet.factory import SCRATCH  # model.pretrained: from scratch, chosen
from tanet.models import build_model as build_architecture

__all__ = ["CLASSES_FILE", "SCRATCH", "ResolvedConfig", "resolve_training", "resolve_for_eval", "synthetic_set",
           "stored_recipe", "model_options", "check_architecture", "training_layout"]

CLASSES_FILE = "classes.txt"  # what `tanet prepare` writes beside train.txt and val.txt


@dataclass
class ResolvedConfig:
    """The recipe as given, every value the run uses, and why each derived value is what it is."""

    recipe: TrainConfig  # as given: derived keys None (config.yaml, resume comparisons)
    config: TrainConfig  # every value filled in: what the run reads
    derived: dict = field(default_factory=dict)  # dotted key -> how it was derived
    class_names: Optional[tuple] = None
    flip_rule: Optional[FlipLabels] = None  # None: clips are not flipped
    warnings: tuple = ()  # what the run says loudly at start

    @property
    def num_classes(self) -> Optional[int]:
        return self.config.model.num_classes

    def record(self) -> dict:
        """The resolved values and the reasons of the derived ones (checkpoints, ``metrics.json``)."""
        return {"config": self.config.to_dict(), "derived": dict(self.derived)}

    def mark(self, key: str) -> str:
        return f" ({self.derived[key]})" if key in self.derived else ""

    def describe(self) -> list[str]:
        """Run-summary lines: every data, evaluation and initialisation value, derived ones marked with why."""
        c, m = self.config, self.config.model
        d, mark = c.data, self.mark
        sampling = f"{d.sampling} sampling, {d.sampling_rule} rule"
        if d.sampling == "dense" or "dense" in (d.val_protocol, d.test_protocol):
            sampling += f", dense interval {d.dense_interval}{mark('data.dense_interval')}"
        names = ("unknown" if self.class_names is None else
                 f"{len(self.class_names)} from {d.class_names}{mark('data.class_names')}")
        lines = [
            f"classes: {m.num_classes}{mark('model.num_classes')}; class names {names}",
            f"data: {sampling}; crop {d.size} from short side {d.scale_size}{mark('data.scale_size')}, "
            f"scales {list(d.crop_scales)}; flip {self._describe_flip()}",
            f"evaluation: val protocol {d.val_protocol}, val batch {d.val_batch_size}{mark('data.val_batch_size')}, "
            f"test protocol {d.test_protocol}{mark('data.test_protocol')}",
            f"init: {self._describe_init()}; temporal: "
            + ", ".join(f"{key} {value}" for key, value in vars(m.temporal).items()),
            f"layout: channels_last {str(c.runtime.channels_last).lower()}{mark('runtime.channels_last')}",
        ]
        if d.synthetic.kind is not None:
            lines.insert(1, f"data set: built-in {d.synthetic.kind} set ({d.synthetic.preset} preset, rendering "
                            f"seed {d.synthetic.seed}) in {d.root}")
        return lines

    def _describe_flip(self) -> str:
        reason = self.mark("data.flip")
        if self.flip_rule is None:
            return "off" + reason
        if not self.flip_rule.class_names:
            return "on, class names unknown (mirrored clips keep their labels)" + reason
        rule = self.flip_rule
        name = lambda label: rule.class_names[label]  # noqa: E731
        pairs = sorted((a, b) for a, b in rule.mapping.items() if a < b)
        return (f"on, mirrored pairs that swap labels: {len(pairs)}"
                + (f" ({', '.join(f'{name(a)} <-> {name(b)}' for a, b in pairs)})" if pairs else "")
                + f", direction classes never flipped: {len(rule.unpaired)}"
                + (f" ({', '.join(name(label) for label in rule.unpaired)})" if rule.unpaired else "") + reason)

    def _describe_init(self) -> str:
        m = self.config.model
        if m.init_from or m.weights:
            return f"video checkpoint {m.init_from or m.weights}"
        if m.pretrained in (None, SCRATCH):
            return ("from scratch" + (" (the recipe expects ImageNet weights)" if m.pretrained_expected else "")
                    + (", each residual block's last BatchNorm scale at zero" if m.zero_init_last is True else ""))
        return f"2D weights from {m.pretrained}"


def model_options(config: TrainConfig) -> dict:
    """``create_model`` keyword arguments of the architecture in the model section."""
    m = config.model
    return dict(num_segments=m.num_segments, dropout=m.dropout, width=m.width, **vars(m.temporal))


def check_architecture(config: TrainConfig) -> None:
    """Build the recipe's architecture on the meta device (no memory, no initialisation): a misspelled model
    name (listing close ones), a width too small or a TAM style its blocks do not have is a usage error."""
    import torch

    with torch.device("meta"):
        build_architecture(config.model.name, num_classes=config.model.num_classes or 2, **model_options(config))


def synthetic_set(config: TrainConfig) -> SyntheticDataset:
    """The built-in set the data section names (rendered on first use, then read from the cache)."""
    synthetic = config.data.synthetic
    spec = PRESETS[synthetic.preset].spec(synthetic.kind, seed=synthetic.seed, num_classes=synthetic.num_classes)
    return generate(spec)


def resolve_training(config: TrainConfig, *, class_names: Optional[Sequence[str]] = None,
                     num_classes: Optional[int] = None) -> ResolvedConfig:
    """Resolve a training recipe once: data paths, class names and count, derived sizes, flip, init.

    ``class_names`` / ``num_classes``: given in code (a :class:`~tanet.engine.Trainer` handed a model or
    names), they win over the recipe's.
    """
    check_architecture(config)  # a bad model name, width or TAM style is one line before any data is rendered
    recipe = _copy(config)
    resolved = _copy(config)
    derived: dict[str, str] = {}
    warnings: list[str] = []
    d, m = resolved.data, resolved.model

    if d.synthetic.kind is not None:
        dataset = synthetic_set(resolved)
        why = f"the built-in {d.synthetic.kind} set"
        for key, value in (("root", dataset.root), ("train_list", dataset.train_list),
                           ("val_list", dataset.val_list if d.synthetic.validate else None),
                           ("class_names", dataset.classes_file)):
            if value is not None and not getattr(d, key):
                setattr(d, key, str(value))
                derived[f"data.{key}"] = why

    names: Optional[list[str]] = None
    if class_names is not None:
        names = list(class_names)
        derived["data.class_names"] = "given in code"
    elif d.class_names:
        names = list(read_class_names(d.class_names))
    elif d.train_list:
        beside = Path(d.train_list).parent / CLASSES_FILE
        if beside.is_file():
            names = list(read_class_names(beside))
            d.class_names = str(beside)
            derived["data.class_names"] = "found beside the training list"
            if m.num_classes is not None and m.num_classes != len(names):
                raise ConfigError(
                    f"{beside} (beside the training list) names {len(names)} classes but model.num_classes is "
                    f"{m.num_classes}: pass the right --class-names FILE, or --num-classes {len(names)}")

    if num_classes is not None:
        m.num_classes = num_classes
    elif m.num_classes is None:
        if names is None:
            raise ConfigError("the number of classes is unknown: set model.num_classes (--num-classes) "
                              "or data.class_names (a file with one class name per line)")
        m.num_classes = len(names)
        derived["model.num_classes"] = "the number of class names"
    if names is not None and len(names) != m.num_classes:
        raise ConfigError(f"model.num_classes is {m.num_classes} but {d.class_names} lists {len(names)} class names "
                          "(model.num_classes=null takes the count from the names)")

    _derive_data(resolved, derived)
    flip_rule = _resolve_flip(resolved, names, derived, warnings)
    if resolved.runtime.channels_last == "auto":
        resolved.runtime.channels_last, derived["runtime.channels_last"] = training_layout(
            resolved.runtime.device, resolved.runtime.amp)

    if m.pretrained is None and not (m.init_from or m.weights) and m.pretrained_expected:
        warnings.append(
            f"model.pretrained is not set, so {m.name} trains from scratch, but this recipe is meant to start "
            "from ImageNet weights (the published numbers need them): pass --pretrained imagenet (downloaded once "
            f"and verified) or a 2D ResNet FILE, or --pretrained {SCRATCH} to train from scratch on purpose")
        m.pretrained = recipe.model.pretrained = SCRATCH  # the choice the run made, recorded as such
        derived["model.pretrained"] = "not given"
    started = bool(m.init_from or m.weights or m.pretrained not in (None, SCRATCH))  # any loaded start
    if resolved.optim.linear_lr_policy == "auto":
        # The official fc_lr5 (TAM main.py, TSN(..., fc_lr5=not (tune_from and dataset in tune_from))) speeds up
        # new layers on an ImageNet backbone; from scratch every layer is new, and x5/x10 on the classifier
        # and TAM's global branch made SGD's logits blow up in the first epochs (issue 19's validation spikes).
        resolved.optim.linear_lr_policy = "official" if started else "none"
        derived["optim.linear_lr_policy"] = ("the model starts from pretrained weights" if started
                                             else "from scratch: no pretrained layer to outpace")
    if m.zero_init_last == "auto":
        m.zero_init_last = not started
        derived["model.zero_init_last"] = ("the model starts from pretrained weights" if started
                                           else "from scratch: blocks start as their shortcuts")
    return ResolvedConfig(recipe, resolved, derived, tuple(names) if names is not None else None, flip_rule,
                          tuple(warnings))


def resolve_for_eval(recipe: TrainConfig, *, num_segments: int, num_classes: int,
                     class_names: Optional[Sequence[str]] = None, protocol: Optional[str] = None,
                     size: Optional[int] = None, scale_size: Optional[int] = None, sampling: Optional[str] = None,
                     strict: Optional[bool] = None, recorded: bool = True) -> ResolvedConfig:
    """Resolve a trained model's recipe once for testing, prediction, the kernel analysis and export.

    ``recipe``: the recipe the checkpoint records (``recorded=False``: it records none, so these are the
    defaults, said as such). The model fixes ``num_segments`` and ``num_classes``; ``size`` /
    ``scale_size`` / ``sampling`` / ``protocol`` / ``strict`` override the recipe's before its derived values
    are resolved, so ``size`` alone also moves a derived ``scale_size``.
    """
    given = _copy(recipe)
    derived: dict[str, str] = {}
    for key, value in (("size", size), ("scale_size", scale_size), ("sampling", sampling),
                       ("test_protocol", protocol), ("strict", strict)):
        if value is not None:
            setattr(given.data, key, value)
    given.model.num_segments = num_segments
    given.model.num_classes = num_classes
    given.validate()
    resolved = _copy(given)
    if not recorded:
        derived["data.test_protocol"] = "the checkpoint records no recipe: the default"
        derived["data.size"] = "the checkpoint records no recipe: the default"
    elif protocol is None:
        derived["data.test_protocol"] = "the training recipe's"
    _derive_data(resolved, derived)
    resolved.data.flip = False  # evaluation never flips
    return ResolvedConfig(given, resolved, derived, tuple(class_names) if class_names is not None else None)


def stored_recipe(stored: Any) -> tuple[TrainConfig, bool]:
    """The recipe a checkpoint records (its ``config`` entry), and whether it records one (a file of the
    official code or MMAction2 does not: the defaults then, with a warning when a record cannot be read)."""
    if not isinstance(stored, dict):
        return TrainConfig(), False
    stored = {section: dict(values) if isinstance(values, dict) else values for section, values in stored.items()}
    model = stored.get("model")
    if isinstance(model, dict) and "extra" in model:  # written before model.temporal existed
        model["temporal"] = {**model.get("temporal", {}), **model.pop("extra")}
    try:
        return TrainConfig.from_dict(stored, source="the checkpoint's recipe"), True
    except ConfigError as error:
        # test and predict then crop and sample with the defaults, which may not be the training view
        _warnings.warn(f"the training recipe stored in the checkpoint cannot be read ({error}); the data "
                       "settings (size, sampling, ...) fall back to the defaults: pass them explicitly", stacklevel=3)
        return TrainConfig(), False


def training_layout(device: str, amp: str) -> tuple[bool, str]:
    """``runtime.channels_last=auto``: whether training runs channels_last on ``device`` (``runtime.device``,
    ``auto`` included) under ``amp``, and why.

    On a CPU, oneDNN's convolutions keep channels_last activations NHWC through the whole network, where
    the default layout reorders them around every convolution. That pays with AVX2 or AVX-512 vector units:
    a tanet_r50 training step ran channels_last 1.18x (AVX2) and 1.22x (AVX-512 + AMX) the default layout's
    speed (benchmarks/bench_peers.py). Without them (ATen's ``DEFAULT`` capability; measured here with
    ``ATEN_CPU_CAPABILITY=default ONEDNN_MAX_CPU_ISA=SSE41``) it ran 0.81x, so the default layout stays.
    On a GPU, tensor-core convolutions want NHWC under mixed precision; in float32 cuDNN's default stays.
    """
    import torch

    on_gpu = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
    if on_gpu:
        if amp in ("fp16", "bf16"):
            return True, f"GPU with {amp} autocast: tensor-core convolutions run NHWC"
        return False, "GPU in float32: cuDNN's default layout"
    if not torch.backends.mkldnn.is_available():
        return False, "this torch has no oneDNN: CPU convolutions gain nothing from channels_last"
    capability = torch.backends.cpu.get_cpu_capability()
    if capability.startswith(("AVX2", "AVX512")):
        return True, f"faster on this CPU ({capability}) with oneDNN"
    return False, f"this CPU ({capability}) has no AVX2: oneDNN's channels_last convolutions were slower there"


def _derive_data(config: TrainConfig, derived: dict) -> None:
    d = config.data
    if d.num_workers == "auto":
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        d.num_workers = min(8, max(0, cores - 1))  # the training process keeps one core
        derived["data.num_workers"] = f"auto: {cores} cores here, one kept for training"
    if d.scale_size is None:
        d.scale_size = default_scale_size(d.size)
        derived["data.scale_size"] = "size * 256 // 224"
    if d.dense_interval is None:
        d.dense_interval = max(1, 64 // config.model.num_segments)
        derived["data.dense_interval"] = "64 // num_segments"
    if d.val_batch_size is None:
        d.val_batch_size = d.batch_size
        derived["data.val_batch_size"] = "batch_size"


def _resolve_flip(config: TrainConfig, names: Optional[list[str]], derived: dict,
                  warnings: list[str]) -> Optional[FlipLabels]:
    d = config.data
    if d.flip is False:
        return None
    if names is None:
        if d.flip == "swap":
            raise ConfigError("data.flip=swap needs data.class_names to find the left/right classes")
        if d.flip == "auto":
            d.flip = False
            derived["data.flip"] = ("class names unknown, so a mirrored clip could not be relabelled; give "
                                    "data.class_names (--class-names), or data.flip=true to flip anyway")
            return None
        warnings.append("horizontal flip with unknown class names (data.flip=true): a mirrored clip keeps its "
                        "label, which is wrong for any class that names a direction (left/right, clockwise); give "
                        "the class names (data.class_names) so that mirrored pairs swap labels, or set "
                        "data.flip=auto")
        return FlipLabels((), {}, ())
    rule = flip_labels(names)
    if d.flip == "auto":
        derived["data.flip"] = "class names known"
    d.flip = True  # the pairs are named in the run summary's data line: correct handling, not a warning
    return rule


def _copy(config: TrainConfig) -> TrainConfig:
    return copy.deepcopy(config)
