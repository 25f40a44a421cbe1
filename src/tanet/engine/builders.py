"""Everything a run is built from, from a :class:`~tanet.engine.config.TrainConfig`: the model, the
class names, the datasets and loaders; and the evaluation set-up of a trained checkpoint, shared by
``tanet test``, ``tanet predict``, the kernel analysis and the ablations."""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from typing import Optional, Sequence, Union

import torch
from torch import nn
from torch.utils.data import Dataset

from tanet.data.dataset import VideoDataset, build_test_dataset, build_train_dataset
from tanet.data.lists import VideoRecord, read_class_names
from tanet.data.synthetic import PRESETS, SyntheticDataset, generate
from tanet.data.loader import build_loader
from tanet.engine.config import ConfigError, TrainConfig
from tanet.engine.distributed import ShardSampler
from tanet.engine.finetune import init_from_checkpoint, init_source
from tanet.factory import create_model, load_model
from tanet.interop.loading import LoadedCheckpoint, LoadReport
from tanet.models.inference import InferenceMode, prepare_for_inference

__all__ = [
    "resolve_data", "synthetic_set", "model_options", "build_model", "build_model_with_report",
    "resolve_class_names", "resolve_num_classes", "dataset_options",
    "build_datasets", "build_eval_loader", "EvalSetup", "load_for_eval", "config_from_checkpoint",
    "build_eval_dataset",
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


def model_options(config: TrainConfig) -> dict:
    """``create_model`` keyword arguments of the architecture in the model section."""
    m = config.model
    return dict(num_segments=m.num_segments, dropout=m.dropout, width=m.width, **vars(m.temporal))


def build_model(config: TrainConfig, num_classes: int) -> nn.Module:
    """The recipe's model: fresh, with the 2D weights of ``model.pretrained``, or started from the video
    checkpoint of ``model.init_from`` / ``model.weights`` (see :func:`build_model_with_report`)."""
    return build_model_with_report(config, num_classes)[0]


def build_model_with_report(config: TrainConfig, num_classes: int, *, class_names: Optional[Sequence[str]] = None,
                            fine_tune: bool = True) -> tuple[nn.Module, Optional[LoadReport]]:
    """:func:`build_model`, and what fine-tuning loaded (None without ``init_from`` / ``weights``, or
    with ``fine_tune=False``: a resumed run takes every weight from its own checkpoint). The
    checkpoint's classifier is kept only for the run's classes (``class_names``, default: the
    recipe's ``data.class_names``)."""
    model = create_model(config.model.name, num_classes=num_classes, pretrained=config.model.pretrained,
                         **model_options(config))
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
    """Dataset-builder arguments shared by training, testing and prediction."""
    d = config.data
    return dict(num_segments=config.model.num_segments, sampling=d.sampling,
                dense_interval=d.dense_interval or max(1, 64 // config.model.num_segments),
                backend=d.backend, strict=d.strict, frames=d.frames, frame_template=d.frame_template)


def build_datasets(config: TrainConfig, class_names: Optional[Sequence[str]],
                   num_classes: Optional[int] = None) -> tuple[VideoDataset, Optional[VideoDataset]]:
    """Train and validation datasets from the data section (validation may be None)."""
    d = config.data
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
                                     scale_size=d.scale_size, **common)
    return train_set, val_set


def build_eval_loader(dataset: Dataset, batch_size: int, *, num_workers: int = 0, rank: int = 0,
                      world_size: int = 1, device: Optional[torch.device] = None):
    """An evaluation loader over this process's shard (every video counted once over processes)."""
    return build_loader(dataset, batch_size, sampler=ShardSampler(len(dataset), rank, world_size),
                        num_workers=num_workers, pin_memory=device is not None and device.type == "cuda")


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
                  device: Union[str, torch.device] = "cpu", inference: InferenceMode = "eager") -> EvalSetup:
    """Rebuild a trained model (any known layout) in eval mode on ``device``.

    ``inference``: ``"eager"`` (the model as trained; what the kernel analysis needs, and the default),
    ``"fused"`` or ``"compiled"`` (:func:`tanet.models.inference.prepare_for_inference`: same logits,
    faster; the model is converted in place and can no longer train).
    """
    overrides = {"num_segments": num_segments} if num_segments else {}
    model, loaded = load_model(checkpoint, **overrides)
    model.to(device)
    model = prepare_for_inference(model, inference, inplace=True)
    config = config_from_checkpoint(loaded.data)
    config.model.num_segments = model.num_segments
    return EvalSetup(model, config, loaded.class_names, loaded)


def build_eval_dataset(setup: EvalSetup, videos: Union[PathLike, Sequence[VideoRecord]], root: Optional[PathLike] = None,
                       *, protocol: str = "efficient", size: Optional[int] = None,
                       scale_size: Optional[int] = None, sampling: Optional[str] = None, strict: bool = False,
                       check_labels: bool = True) -> VideoDataset:
    """The test view of a list file (or records) as the checkpoint's recipe samples and crops it.

    ``check_labels=False`` skips the label range check (videos probed without their labels).
    """
    config = TrainConfig.from_dict(setup.config.to_dict())
    if sampling:
        config.data.sampling = sampling
    config.data.strict = strict
    options = dataset_options(config)
    if not isinstance(videos, (str, os.PathLike)):
        options["frames"] = None  # records say themselves whether they are frame folders
    return build_test_dataset(
        videos, root or None, protocol=protocol, size=size or config.data.size,
        scale_size=scale_size or config.data.scale_size,
        num_classes=setup.model.num_classes if check_labels else None, **options)
