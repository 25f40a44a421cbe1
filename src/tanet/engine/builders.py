"""Everything a run is built from, read off one :class:`~tanet.engine.resolve.ResolvedConfig`: the model,
the datasets and loaders; and the evaluation set-up of a trained checkpoint, shared by ``tanet test``,
``tanet predict``, the kernel analysis, export and the ablations. Nothing here derives a value: that
happened once, in :mod:`tanet.engine.resolve`."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence, Union

import torch
from torch import nn
from torch.utils.data import Dataset

from tanet.checkpoint import CheckpointError
from tanet.data.dataset import TEST_PROTOCOLS, VideoDataset, build_test_dataset, build_train_dataset
from tanet.data.lists import VideoRecord
from tanet.data.loader import build_loader
from tanet.engine.config import ConfigError, TrainConfig
from tanet.engine.distributed import ShardSampler
from tanet.engine.finetune import init_from_checkpoint, init_source
from tanet.engine.pretrain2d import ensure_pretrained_2d, is_synthetic, parse_synthetic
from tanet.engine.resolve import SCRATCH, ResolvedConfig, model_options, resolve_for_eval, stored_recipe, synthetic_set
from tanet.factory import create_model, load_model
from tanet.interop.loading import LoadedCheckpoint, LoadReport, read_checkpoint
from tanet.models.blocks import zero_init_last
from tanet.models.inference import InferenceMode, prepare_for_inference

__all__ = [
    "SCRATCH", "synthetic_set", "model_options", "build_model", "build_model_with_report", "dataset_options",
    "build_datasets", "build_eval_loader", "EvalSetup", "load_for_eval", "build_eval_dataset", "recipe_test_protocol",
]

PathLike = Union[str, os.PathLike]


def build_model(resolved: ResolvedConfig) -> nn.Module:
    """The recipe's model: fresh, with the 2D weights of ``model.pretrained`` (unless ``scratch``), or
    started from the video checkpoint of ``model.init_from`` / ``model.weights`` (see
    :func:`build_model_with_report`)."""
    return build_model_with_report(resolved)[0]


def build_model_with_report(resolved: ResolvedConfig, *, fine_tune: bool = True) -> tuple[nn.Module, Optional[LoadReport]]:
    """:func:`build_model`, and what fine-tuning loaded (None without ``init_from`` / ``weights``, or
    with ``fine_tune=False``: a resumed run takes every weight from its own checkpoint). The
    checkpoint's classifier is kept only for the run's classes."""
    m = resolved.config.model
    pretrained = None if m.pretrained == SCRATCH else m.pretrained
    if is_synthetic(pretrained):  # the built-in stand-in for ImageNet weights (trained once, cached)
        pretrained = str(ensure_pretrained_2d(parse_synthetic(pretrained, model_name=m.name, width=m.width))[0])
    model = create_model(m.name, num_classes=m.num_classes, pretrained=pretrained, **model_options(resolved.config))
    if m.zero_init_last is True and pretrained is None:
        zero_init_last(model)  # from random weights (a 2D start, init_from or a resumed checkpoint overwrite them)
    source = init_source(m) if fine_tune else None
    if source is None:
        return model, None
    return model, init_from_checkpoint(model, source, resolved.class_names, partial=m.init_partial)


def dataset_options(config: TrainConfig) -> dict:
    """Dataset-builder arguments shared by training, testing and prediction (of a resolved config)."""
    d = config.data
    return dict(num_segments=config.model.num_segments, sampling=d.sampling, rule=d.sampling_rule,
                dense_interval=d.dense_interval, backend=d.backend, strict=d.strict, frames=d.frames,
                frame_template=d.frame_template)


def build_datasets(resolved: ResolvedConfig) -> tuple[VideoDataset, Optional[VideoDataset]]:
    """Train and validation datasets from the data section (validation may be None)."""
    config = resolved.config
    d = config.data
    if not d.train_list:
        raise ConfigError("data.train_list is not set (--train-list)")
    common = dict(dataset_options(config), num_classes=config.model.num_classes)
    rule = resolved.flip_rule
    train_set = build_train_dataset(d.train_list, d.root or None, size=d.size, scale_size=d.scale_size,
                                    flip=rule if rule is not None else False, crop_scales=tuple(d.crop_scales),
                                    class_names=resolved.class_names, seed=config.runtime.seed, **common)
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


@dataclass
class EvalSetup:
    """A trained model ready to evaluate, with its one resolved configuration."""

    model: nn.Module
    resolved: ResolvedConfig  # data settings (size, sampling, protocol) follow training; segments the model
    checkpoint: Optional[LoadedCheckpoint]  # None: a model handed over in memory

    @property
    def config(self) -> TrainConfig:
        """The resolved values (every derived one filled in)."""
        return self.resolved.config

    @property
    def class_names(self) -> Optional[list[str]]:
        return list(self.resolved.class_names) if self.resolved.class_names is not None else None

    @property
    def protocol(self) -> str:
        return self.resolved.config.data.test_protocol


def load_for_eval(checkpoint: PathLike, *, num_segments: Optional[int] = None,
                  device: Union[str, torch.device] = "cpu", inference: InferenceMode = "eager",
                  protocol: Optional[str] = None, size: Optional[int] = None, scale_size: Optional[int] = None,
                  sampling: Optional[str] = None, strict: Optional[bool] = None,
                  class_names: Optional[Sequence[str]] = None, **architecture) -> EvalSetup:
    """Rebuild a trained model (any known layout) in eval mode on ``device``, and resolve its recipe once
    with the given overrides (:func:`tanet.engine.resolve.resolve_for_eval`).

    ``inference``: ``"eager"`` (the model as trained; what the kernel analysis needs, and the default),
    ``"fused"`` or ``"compiled"`` (:func:`tanet.models.inference.prepare_for_inference`: same logits,
    faster; the model is converted in place and can no longer train). ``class_names`` replace the
    checkpoint's (their count must match the model's classes).

    A checkpoint whose weights or buffers hold NaN/inf (a diverged training) is refused: every
    score it gives would be meaningless. ``architecture`` (``name``, ``tam_position``; None: from the
    file) settles what the file leaves open (:func:`tanet.load_model`).
    """
    for name, value in (("num_segments", num_segments), ("size", size), ("scale_size", scale_size)):
        if value is not None and value < 1:
            raise ConfigError(f"{name} must be >= 1, got {value}")
    if protocol is not None and protocol not in TEST_PROTOCOLS:
        raise ConfigError(f"unknown test protocol {protocol!r}; valid: {', '.join(TEST_PROTOCOLS)}")
    overrides = {"num_segments": num_segments} if num_segments else {}
    overrides.update({key: value for key, value in architecture.items() if value is not None})
    model, loaded = load_model(checkpoint, **overrides)
    tensors = [*model.named_parameters(), *model.named_buffers()]
    bad = [name for name, tensor in tensors if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all())]
    if bad:
        raise CheckpointError(checkpoint, f"holds NaN/inf values in {len(bad)} of {len(tensors)} weight and buffer "
                                          f"tensors (e.g. {', '.join(bad[:3])}): the training that wrote it "
                                          "diverged; use a checkpoint of an earlier epoch")
    names = list(class_names) if class_names is not None else loaded.class_names
    if class_names is not None and len(names) != model.num_classes:
        raise ConfigError(f"{len(names)} class names given for a model of {model.num_classes} classes ({checkpoint})")
    model.to(device)
    model = prepare_for_inference(model, inference, inplace=True)
    recipe, recorded = stored_recipe(loaded.data.get("config"))
    resolved = resolve_for_eval(recipe, num_segments=model.num_segments, num_classes=model.num_classes,
                                class_names=names, protocol=protocol, size=size, scale_size=scale_size,
                                sampling=sampling, strict=strict, recorded=recorded)
    return EvalSetup(model, resolved, loaded)


def recipe_test_protocol(checkpoint: PathLike) -> str:
    """The test protocol the training recipe stored in ``checkpoint`` names (``efficient`` for a file without
    one, e.g. of the official code)."""
    return stored_recipe(read_checkpoint(Path(checkpoint)).data.get("config"))[0].data.test_protocol


def build_eval_dataset(setup: EvalSetup, videos: Union[PathLike, Sequence[VideoRecord]],
                       root: Optional[PathLike] = None, *, protocol: Optional[str] = None,
                       check_labels: bool = True) -> VideoDataset:
    """The test view of a list file (or records) as the resolved recipe samples and crops it.

    ``protocol``: the views (default: the resolved ``data.test_protocol``). ``check_labels=False`` skips
    the label range check (videos probed without their labels).
    """
    config = setup.config
    d = config.data
    protocol = protocol or d.test_protocol
    if protocol not in TEST_PROTOCOLS:
        raise ConfigError(f"unknown test protocol {protocol!r}; valid: {', '.join(TEST_PROTOCOLS)}")
    options = dataset_options(config)
    if not isinstance(videos, (str, os.PathLike)):
        options["frames"] = None  # records say themselves whether they are frame folders
    return build_test_dataset(
        videos, root or None, protocol=protocol, size=d.size, scale_size=d.scale_size,
        num_classes=setup.model.num_classes if check_labels else None, **options)
