"""Everything a run is built from, from a :class:`~tanet.engine.config.TrainConfig`: the model, the
class names, the datasets and loaders; and the evaluation set-up of a trained checkpoint, shared by
``tanet test``, ``tanet predict``, the kernel analysis and the ablations."""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence, Union

import torch
from torch import nn
from torch.utils.data import Dataset

from tanet.data.dataset import TEST_PROTOCOLS, VideoDataset, build_test_dataset, build_train_dataset
from tanet.data.labels import flip_labels
from tanet.data.transforms import default_scale_size
from tanet.data.lists import VideoRecord, read_class_names
from tanet.data.synthetic import PRESETS, SyntheticDataset, generate
from tanet.data.loader import build_loader
from tanet.checkpoint import CheckpointError
from tanet.engine.config import ConfigError, TrainConfig
from tanet.engine.distributed import ShardSampler
from tanet.engine.finetune import init_from_checkpoint, init_source
from tanet.engine.pretrain2d import ensure_pretrained_2d, is_synthetic, parse_synthetic
from tanet.factory import create_model, load_model
from tanet.interop.loading import LoadedCheckpoint, LoadReport, read_checkpoint
from tanet.models.inference import InferenceMode, prepare_for_inference

__all__ = [
    "SCRATCH", "resolve_defaults", "derived_keys", "describe_resolved", "pretrained_warning",
    "resolve_data", "synthetic_set", "model_options", "build_model", "build_model_with_report",
    "resolve_class_names", "resolve_num_classes", "dataset_options",
    "build_datasets", "build_eval_loader", "EvalSetup", "load_for_eval", "config_from_checkpoint",
    "build_eval_dataset", "eval_protocol", "recipe_test_protocol",
]

PathLike = Union[str, os.PathLike]


def synthetic_set(config: TrainConfig) -> SyntheticDataset:
    """The built-in set the data section names (rendered on first use, then read from the cache)."""
    synthetic = config.data.synthetic
    spec = PRESETS[synthetic.preset].spec(synthetic.kind, seed=synthetic.seed, num_classes=synthetic.num_classes)
    return generate(spec)


def resolve_data(config: TrainConfig) -> TrainConfig:
    """A copy of ``config`` whose data paths are filled in from ``data.synthetic`` when it names a set
    (paths given explicitly are kept)."""
    resolved = TrainConfig.from_dict(config.to_dict())
    d = resolved.data
    if d.synthetic.kind is None:
        return resolved
    dataset = synthetic_set(resolved)
    d.root = d.root or str(dataset.root)
    d.train_list = d.train_list or str(dataset.train_list)
    if d.synthetic.validate:
        d.val_list = d.val_list or str(dataset.val_list)
    d.class_names = d.class_names or str(dataset.classes_file)
    return resolved


SCRATCH = "scratch"  # model.pretrained: from scratch, chosen


def resolve_defaults(config: TrainConfig) -> TrainConfig:
    """A copy of ``config`` with every default that depends on another option derived from it -- the one
    place they are derived (training, testing, prediction and the kernel analysis all come through here):

    * ``data.scale_size``: ``size * 256 // 224``, as the official code (``ops/models.py`` lines 448-453);
    * ``data.dense_interval``: ``64 // model.num_segments`` (official ``t_stride``, a 64-frame window);
    * ``data.val_batch_size``: ``data.batch_size``.

    A value the user set is kept. The saved config keeps ``None`` for derived values, so that a later
    override of the option they follow (``--size``) cannot leave a stale one behind.
    """
    resolved = TrainConfig.from_dict(config.to_dict())
    d = resolved.data
    if d.scale_size is None:
        d.scale_size = default_scale_size(d.size)
    if d.dense_interval is None:
        d.dense_interval = max(1, 64 // resolved.model.num_segments)
    if d.val_batch_size is None:
        d.val_batch_size = d.batch_size
    return resolved


def derived_keys(config: TrainConfig) -> list[str]:
    """The keys :func:`resolve_defaults` derives for ``config`` (those left unset)."""
    d = config.data
    return [f"data.{key}" for key in ("scale_size", "dense_interval", "val_batch_size") if getattr(d, key) is None]


def pretrained_warning(config: TrainConfig) -> Optional[str]:
    """The loud message for a recipe meant for ImageNet initialisation that got no weights (else None)."""
    m = config.model
    if m.pretrained is not None or m.init_from or m.weights or not m.pretrained_expected:
        return None
    return (f"model.pretrained is not set, so {m.name} trains from scratch, but this recipe is meant to start "
            "from ImageNet weights (the published numbers need them): pass --pretrained FILE (a torchvision/timm "
            f"2D ResNet), or --pretrained {SCRATCH} to train from scratch on purpose")


def describe_resolved(config: TrainConfig, class_names: Optional[Sequence[str]] = None) -> list[str]:
    """Run-summary lines: every data and initialisation value the run uses, derived ones marked."""
    derived = set(derived_keys(config))
    r = resolve_defaults(config)
    d, m = r.data, r.model
    mark = lambda key: " (derived)" if f"data.{key}" in derived else ""  # noqa: E731
    sampling = f"{d.sampling} sampling, {d.sampling_rule} rule"
    if d.sampling == "dense" or "dense" in (d.val_protocol, d.test_protocol):
        sampling += f", dense interval {d.dense_interval}{mark('dense_interval')}"
    if d.flip is False:
        flip = "off"
    elif class_names is None:
        flip = "on, class names unknown (mirrored clips keep their labels)"
    else:
        rule = flip_labels(class_names)
        flip = (f"on, mirrored pairs that swap labels: {len(rule.mapping) // 2}, direction classes never "
                f"flipped: {len(rule.unpaired)}")
    if m.init_from or m.weights:
        init = f"video checkpoint {m.init_from or m.weights}"
    elif m.pretrained in (None, SCRATCH):
        init = "from scratch" + (" (the recipe expects ImageNet weights)" if m.pretrained_expected else "")
    else:
        init = f"2D weights from {m.pretrained}"
    temporal = ", ".join(f"{key} {value}" for key, value in vars(m.temporal).items())
    return [
        f"data: {sampling}; crop {d.size} from short side {d.scale_size}{mark('scale_size')}, scales "
        f"{list(d.crop_scales)}; flip {flip}",
        f"evaluation: val protocol {d.val_protocol}, val batch {d.val_batch_size}{mark('val_batch_size')}, "
        f"test protocol {d.test_protocol}",
        f"init: {init}; temporal: {temporal}",
    ]


def model_options(config: TrainConfig) -> dict:
    """``create_model`` keyword arguments of the architecture in the model section."""
    m = config.model
    return dict(num_segments=m.num_segments, dropout=m.dropout, width=m.width, **vars(m.temporal))


def build_model(config: TrainConfig, num_classes: int) -> nn.Module:
    """The recipe's model: fresh, with the 2D weights of ``model.pretrained`` (unless ``scratch``), or
    started from the video checkpoint of ``model.init_from`` / ``model.weights`` (see
    :func:`build_model_with_report`)."""
    return build_model_with_report(config, num_classes)[0]


def build_model_with_report(config: TrainConfig, num_classes: int, *, class_names: Optional[Sequence[str]] = None,
                            fine_tune: bool = True) -> tuple[nn.Module, Optional[LoadReport]]:
    """:func:`build_model`, and what fine-tuning loaded (None without ``init_from`` / ``weights``, or
    with ``fine_tune=False``: a resumed run takes every weight from its own checkpoint). The
    checkpoint's classifier is kept only for the run's classes (``class_names``, default: the
    recipe's ``data.class_names``)."""
    pretrained = None if config.model.pretrained == SCRATCH else config.model.pretrained
    if is_synthetic(pretrained):  # the built-in stand-in for ImageNet weights (trained once, cached)
        pretrained = str(ensure_pretrained_2d(parse_synthetic(pretrained, model_name=config.model.name,
                                                              width=config.model.width))[0])
    model = create_model(config.model.name, num_classes=num_classes, pretrained=pretrained, **model_options(config))
    source = init_source(config.model) if fine_tune else None
    if source is None:
        return model, None
    names = class_names if class_names is not None else resolve_class_names(config)
    return model, init_from_checkpoint(model, source, names)


def resolve_class_names(config: TrainConfig) -> Optional[list[str]]:
    if not config.data.class_names:
        return None
    return list(read_class_names(config.data.class_names))


def resolve_num_classes(config: TrainConfig, class_names: Optional[Sequence[str]]) -> int:
    if config.model.num_classes is not None:
        if class_names is not None and len(class_names) != config.model.num_classes:
            raise ConfigError(
                f"model.num_classes is {config.model.num_classes} but {config.data.class_names} "
                f"lists {len(class_names)} class names (model.num_classes=null takes the count from the names)")
        return config.model.num_classes
    if class_names is not None:
        return len(class_names)
    raise ConfigError("the number of classes is unknown: set model.num_classes (--num-classes) "
                      "or data.class_names (a file with one class name per line)")


def dataset_options(config: TrainConfig) -> dict:
    """Dataset-builder arguments shared by training, testing and prediction (derived values resolved)."""
    d = resolve_defaults(config).data
    return dict(num_segments=config.model.num_segments, sampling=d.sampling, rule=d.sampling_rule,
                dense_interval=d.dense_interval, backend=d.backend, strict=d.strict, frames=d.frames,
                frame_template=d.frame_template)


def build_datasets(config: TrainConfig, class_names: Optional[Sequence[str]],
                   num_classes: Optional[int] = None) -> tuple[VideoDataset, Optional[VideoDataset]]:
    """Train and validation datasets from the data section (validation may be None)."""
    d = resolve_defaults(config).data
    if not d.train_list:
        raise ConfigError("data.train_list is not set (--train-list)")
    common = dataset_options(config)
    common["num_classes"] = num_classes or resolve_num_classes(config, class_names)
    if d.flip == "swap" and class_names is None:
        raise ConfigError("data.flip='swap' needs data.class_names to find left/right classes")
    train_set = build_train_dataset(d.train_list, d.root or None, size=d.size, scale_size=d.scale_size,
                                    flip=d.flip, crop_scales=tuple(d.crop_scales), class_names=class_names,
                                    seed=config.runtime.seed, **common)
    val_set = None
    if d.val_list:
        val_set = build_test_dataset(d.val_list, d.root or None, protocol=d.val_protocol, size=d.size,
                                     scale_size=d.scale_size, validation=True, **common)
    return train_set, val_set


def build_eval_loader(dataset: Dataset, batch_size: int, *, num_workers: int = 0, rank: int = 0,
                      world_size: int = 1, device: Optional[torch.device] = None):
    """An evaluation loader over this process's shard (every video counted once over processes)."""
    # Its own generator for the workers' base seed: evaluating never draws from the global stream.
    return build_loader(dataset, batch_size, sampler=ShardSampler(len(dataset), rank, world_size),
                        num_workers=num_workers, pin_memory=device is not None and device.type == "cuda",
                        generator=torch.Generator().manual_seed(0))


def config_from_checkpoint(data: dict) -> TrainConfig:
    """The training recipe stored in a checkpoint (defaults for a checkpoint without one)."""
    stored = data.get("config")
    if not isinstance(stored, dict):
        return TrainConfig()
    stored = {section: dict(values) if isinstance(values, dict) else values for section, values in stored.items()}
    model = stored.get("model")
    if isinstance(model, dict) and "extra" in model:  # written before model.temporal existed
        model["temporal"] = {**model.get("temporal", {}), **model.pop("extra")}
    try:
        return TrainConfig.from_dict(stored, source="the checkpoint's config")
    except ConfigError as error:
        # test and predict then crop and sample with the defaults, which may not be the training view
        warnings.warn(f"the training recipe stored in the checkpoint cannot be read ({error}); the data "
                      "settings (size, sampling, ...) fall back to the defaults: pass them explicitly", stacklevel=2)
        return TrainConfig()


@dataclass
class EvalSetup:
    """A trained model ready to evaluate, with the recipe it was trained with."""

    model: nn.Module
    config: TrainConfig  # data settings (size, sampling, ...) follow training; model.num_segments follows the model
    class_names: Optional[list[str]]
    checkpoint: LoadedCheckpoint


def load_for_eval(checkpoint: PathLike, *, num_segments: Optional[int] = None,
                  device: Union[str, torch.device] = "cpu", inference: InferenceMode = "eager",
                  **architecture) -> EvalSetup:
    """Rebuild a trained model (any known layout) in eval mode on ``device``.

    ``inference``: ``"eager"`` (the model as trained; what the kernel analysis needs, and the default),
    ``"fused"`` or ``"compiled"`` (:func:`tanet.models.inference.prepare_for_inference`: same logits,
    faster; the model is converted in place and can no longer train).

    A checkpoint whose weights or buffers hold NaN/inf (a diverged training) is refused: every
    score it gives would be meaningless. ``architecture`` (``name``, ``tam_position``; None: from the
    file) settles what the file leaves open (:func:`tanet.load_model`).
    """
    if num_segments is not None and num_segments < 1:
        raise ConfigError(f"num_segments must be >= 1, got {num_segments}")
    overrides = {"num_segments": num_segments} if num_segments else {}
    overrides.update({key: value for key, value in architecture.items() if value is not None})
    model, loaded = load_model(checkpoint, **overrides)
    tensors = [*model.named_parameters(), *model.named_buffers()]
    bad = [name for name, tensor in tensors if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all())]
    if bad:
        raise CheckpointError(checkpoint, f"holds NaN/inf values in {len(bad)} of {len(tensors)} weight and buffer "
                                          f"tensors (e.g. {', '.join(bad[:3])}): the training that wrote it "
                                          "diverged; use a checkpoint of an earlier epoch")
    model.to(device)
    model = prepare_for_inference(model, inference, inplace=True)
    config = config_from_checkpoint(loaded.data)
    config.model.num_segments = model.num_segments
    return EvalSetup(model, config, loaded.class_names, loaded)


def recipe_test_protocol(checkpoint: PathLike) -> str:
    """The test protocol the training recipe stored in ``checkpoint`` names (``efficient`` for a file without
    one, e.g. of the official code)."""
    return config_from_checkpoint(read_checkpoint(Path(checkpoint)).data).data.test_protocol


def eval_protocol(setup: EvalSetup, protocol: Optional[str] = None) -> str:
    """The test protocol: ``protocol`` when given, else the one the checkpoint's recipe names."""
    protocol = protocol or setup.config.data.test_protocol
    if protocol not in TEST_PROTOCOLS:
        raise ConfigError(f"unknown test protocol {protocol!r}; valid: {', '.join(TEST_PROTOCOLS)}")
    return protocol


def build_eval_dataset(setup: EvalSetup, videos: Union[PathLike, Sequence[VideoRecord]], root: Optional[PathLike] = None,
                       *, protocol: Optional[str] = "efficient", size: Optional[int] = None,
                       scale_size: Optional[int] = None, sampling: Optional[str] = None, strict: bool = False,
                       check_labels: bool = True) -> VideoDataset:
    """The test view of a list file (or records) as the checkpoint's recipe samples and crops it.

    ``size`` / ``scale_size`` / ``sampling`` override the recipe's before its derived values are resolved
    (:func:`resolve_defaults`), so ``size`` alone also moves a derived ``scale_size``. ``protocol=None``:
    the recipe's ``data.test_protocol``. ``check_labels=False`` skips the label range check (videos probed
    without their labels).
    """
    config = TrainConfig.from_dict(setup.config.to_dict())
    if sampling:
        config.data.sampling = sampling
    if size:
        config.data.size = size
    if scale_size:
        config.data.scale_size = scale_size
    config.data.strict = strict
    d = resolve_defaults(config).data
    options = dataset_options(config)
    if not isinstance(videos, (str, os.PathLike)):
        options["frames"] = None  # records say themselves whether they are frame folders
    return build_test_dataset(
        videos, root or None, protocol=eval_protocol(setup, protocol), size=d.size, scale_size=d.scale_size,
        num_classes=setup.model.num_classes if check_labels else None, **options)
