"""The stand-in for ImageNet weights: a 2D ResNet trained on the built-in still-image set.

``tanet pretrain-2d`` (and the demo, and ``tanet train --pretrained synthetic``) train it once; the file
is cached under ``$TANET_HOME/pretrain2d/`` keyed by every option (a pure function of them: the images
come from :mod:`tanet.data.stills` and the training from the seed), written atomically. It is a plain
torchvision-layout ResNet state dict, so it loads like an ImageNet file through
:func:`tanet.factory.load_pretrained_2d` / :func:`tanet.interop.loading.load_weights`: TAM starts fresh,
TSM shifts the pretrained features, I3D inflates the 2D kernels.

Reserved ``model.pretrained`` values: ``synthetic`` (depth and width of the run's model, default
options) or ``synthetic:r18w0.25`` (depth 18, width 0.25).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import pickle
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from torch import nn

from tanet.data.stills import render_stills, still_class_names
from tanet.data.transforms import IMAGENET_MEAN, IMAGENET_STD
from tanet.errors import TanetError, UsageError
from tanet.models.resnet import resnet18, resnet26, resnet34, resnet50, resnet101
from tanet.utils.cache import tanet_home
from tanet.utils.io import atomic_write, atomic_write_json

__all__ = ["Pretrain2DOptions", "SYNTHETIC", "is_synthetic", "parse_synthetic", "pretrained_2d_path",
           "pretrain_2d", "ensure_pretrained_2d", "check_pretrained_2d"]

SYNTHETIC = "synthetic"
PRETRAIN_VERSION = 1  # bump when the images or the training change: cached files of another version are not reused
_DEPTHS = {18: resnet18, 26: resnet26, 34: resnet34, 50: resnet50, 101: resnet101}


@dataclass(frozen=True)
class Pretrain2DOptions:
    """Everything the trained weights depend on (the cache key)."""

    depth: int = 18
    width: float = 0.25
    seed: int = 0
    per_class: int = 120  # training images per class (40 classes)
    val_per_class: int = 20
    image_size: int = 64
    crop: int = 56
    epochs: int = 6
    batch_size: int = 64
    lr: float = 0.004
    weight_decay: float = 0.05

    def __post_init__(self) -> None:
        if self.depth not in _DEPTHS:
            raise UsageError(f"pretrain-2d depth must be one of {sorted(_DEPTHS)}, got {self.depth}")
        if self.width <= 0 or self.epochs < 1 or self.per_class < 1 or not 16 <= self.crop <= self.image_size:
            raise UsageError(f"pretrain-2d options out of range: {self}")

    @property
    def key(self) -> str:
        data = json.dumps({"version": PRETRAIN_VERSION, **dataclasses.asdict(self)}, sort_keys=True)
        return hashlib.sha256(data.encode()).hexdigest()[:10]

    @property
    def file_name(self) -> str:
        return f"resnet{self.depth}_w{self.width:g}-{self.key}.pth"

    def command(self) -> Optional[str]:
        """The ``tanet pretrain-2d`` command line that trains this file (None when an option has no flag)."""
        default = Pretrain2DOptions(depth=self.depth, width=self.width)
        flagged = ("seed", "epochs", "per_class")
        if self != dataclasses.replace(default, **{name: getattr(self, name) for name in flagged}):
            return None
        flags = [f"--depth {self.depth}", f"--width {self.width:g}"]
        flags += [f"--{name.replace('_', '-')} {getattr(self, name)}" for name in flagged
                  if getattr(self, name) != getattr(default, name)]
        return f"tanet pretrain-2d {' '.join(flags)}"


def is_synthetic(value: Optional[str]) -> bool:
    return isinstance(value, str) and (value == SYNTHETIC or value.startswith(SYNTHETIC + ":"))


def parse_synthetic(value: str, *, model_name: Optional[str] = None, width: Optional[float] = None) -> Pretrain2DOptions:
    """``synthetic`` (depth from ``model_name``'s ``_rNN``, ``width``) or ``synthetic:r18w0.25``."""
    spec = value[len(SYNTHETIC):].lstrip(":")
    if spec:
        match = re.fullmatch(r"r(\d+)(?:w([0-9.]+))?", spec)
        if not match:
            raise UsageError(f"model.pretrained={value!r}: write synthetic or synthetic:r18w0.25 (depth, width)")
        return Pretrain2DOptions(depth=int(match.group(1)), width=float(match.group(2) or (width or 1.0)))
    match = re.search(r"_r(\d+)$", model_name or "")
    if not match:
        raise UsageError(f"model.pretrained=synthetic: cannot tell the depth of {model_name!r}; "
                         "write synthetic:r18w0.25")
    return Pretrain2DOptions(depth=int(match.group(1)), width=float(width or 1.0))


def pretrained_2d_path(options: Pretrain2DOptions) -> Path:
    return tanet_home("pretrain2d") / options.file_name


def _batches(images: torch.Tensor, labels: torch.Tensor, options: Pretrain2DOptions, generator: torch.Generator,
             train: bool):
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    order = torch.randperm(len(images), generator=generator) if train else torch.arange(len(images))
    margin = options.image_size - options.crop
    for start in range(0, len(order) - (options.batch_size - 1 if train else 0), options.batch_size):
        index = order[start:start + options.batch_size]
        batch = images[index]
        if train:  # random crop and horizontal flip (one offset per batch: the shapes do not care)
            dy, dx = (int(v) for v in torch.randint(0, margin + 1, (2,), generator=generator))
            batch = batch[:, :, dy:dy + options.crop, dx:dx + options.crop]
            flip = torch.rand(len(batch), generator=generator) < 0.5
            batch = torch.where(flip.view(-1, 1, 1, 1), batch.flip(-1), batch)
        else:
            offset = margin // 2
            batch = batch[:, :, offset:offset + options.crop, offset:offset + options.crop]
        yield (batch.float() / 255 - mean) / std, labels[index]


def pretrain_2d(options: Pretrain2DOptions, *, threads: Optional[int] = None, log=print) -> tuple[nn.Module, dict]:
    """Train the 2D ResNet; returns it and a summary (accuracies, seconds)."""
    started = time.perf_counter()
    previous_threads = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        torch.manual_seed(options.seed)
        generator = torch.Generator().manual_seed(options.seed)
        train_images, train_labels = render_stills("train", options.per_class, size=options.image_size, seed=options.seed)
        val_images, val_labels = render_stills("val", options.val_per_class, size=options.image_size, seed=options.seed)
        render_seconds = time.perf_counter() - started
        to_tensor = lambda a: torch.from_numpy(np.ascontiguousarray(a.transpose(0, 3, 1, 2)))  # noqa: E731
        train_x, train_y = to_tensor(train_images), torch.from_numpy(train_labels)
        val_x, val_y = to_tensor(val_images), torch.from_numpy(val_labels)
        num_classes = len(still_class_names())
        model = _DEPTHS[options.depth](num_classes=num_classes, width=options.width)
        optimizer = torch.optim.AdamW(model.parameters(), lr=options.lr, weight_decay=options.weight_decay)
        steps = options.epochs * (len(train_x) // options.batch_size)
        warmup = max(1, steps // 20)
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / warmup) * 0.5 * (
            1 + math.cos(math.pi * min(step, steps) / steps)))
        criterion = nn.CrossEntropyLoss()
        for epoch in range(options.epochs):
            model.train()
            epoch_started, total, correct, loss_sum = time.perf_counter(), 0, 0, 0.0
            for x, y in _batches(train_x, train_y, options, generator, train=True):
                logits = model(x)
                loss = criterion(logits, y)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                schedule.step()
                total += len(y)
                correct += int((logits.argmax(1) == y).sum())
                loss_sum += loss.item() * len(y)
            train_top1 = 100 * correct / total
            log(f"pretrain-2d epoch {epoch + 1}/{options.epochs}: loss {loss_sum / total:.3f}, "
                f"train top-1 {100 * correct / total:.1f} % ({time.perf_counter() - epoch_started:.1f} s)")
        model.eval()
        correct = 0
        with torch.no_grad():
            for x, y in _batches(val_x, val_y, options, generator, train=False):
                correct += int((model(x).argmax(1) == y).sum())
        summary = {"options": dataclasses.asdict(options), "version": PRETRAIN_VERSION, "classes": num_classes,
                   "train_images": len(train_x), "val_images": len(val_x),
                   "val_top1": round(100 * correct / len(val_x), 2), "chance": round(100 / num_classes, 2),
                   "train_top1_last_epoch": round(train_top1, 2),
                   "render_seconds": round(render_seconds, 1), "seconds": round(time.perf_counter() - started, 1)}
        return model, summary
    finally:
        torch.set_num_threads(previous_threads)


def _expected_shapes(options: Pretrain2DOptions) -> dict[str, tuple[int, ...]]:
    with torch.device("meta"):  # the architecture's keys and shapes, without allocating or initialising weights
        model = _DEPTHS[options.depth](num_classes=len(still_class_names()), width=options.width)
    return {key: tuple(value.shape) for key, value in model.state_dict().items()}


def check_pretrained_2d(path: Path, options: Pretrain2DOptions) -> None:
    """Refuse a cached file that does not load or does not hold the 2D ResNet of ``options`` (a truncated or
    replaced file), naming the command that trains it again."""
    problem = None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, OSError, ValueError, pickle.UnpicklingError) as error:
        problem = f"does not load ({str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__})"
    else:
        expected = _expected_shapes(options)
        if not isinstance(state, dict) or not all(isinstance(value, torch.Tensor) for value in state.values()):
            problem = "is not a state dict of tensors"
        elif state.keys() != expected.keys():
            missing, unexpected = sorted(expected.keys() - state.keys()), sorted(state.keys() - expected.keys())
            problem = (f"does not hold a 2D ResNet-{options.depth}: {len(missing)} key(s) missing"
                       f"{f' (first {missing[0]})' if missing else ''}, {len(unexpected)} unexpected"
                       f"{f' (first {unexpected[0]})' if unexpected else ''}")
        else:
            wrong = [key for key, shape in expected.items() if tuple(state[key].shape) != shape]
            if wrong:
                problem = (f"does not hold a 2D ResNet-{options.depth} at width {options.width:g}: {len(wrong)} "
                           f"tensor(s) of another shape (first {wrong[0]}: {tuple(state[wrong[0]].shape)}, "
                           f"expected {expected[wrong[0]]})")
    if problem:
        command = options.command()
        now = f", or train it again now with: {command} --force" if command else ""
        raise TanetError(f"cached pretrain-2d file {path} {problem}; delete it and it is trained again when next "
                         f"needed{now}")


def ensure_pretrained_2d(options: Pretrain2DOptions, *, threads: Optional[int] = 1, force: bool = False,
                         log=print) -> tuple[Path, dict]:
    """The cached weights file of ``options`` (trained now when missing or ``force``) and its summary.

    A cached file is checked before it is reported cached (:func:`check_pretrained_2d`): a damaged one is an
    error that names the ``--force`` command, not a failure later in the run that uses it."""
    path = pretrained_2d_path(options)
    summary_path = path.with_suffix(".json")
    if path.is_file() and summary_path.is_file() and not force:
        try:
            summary = json.loads(summary_path.read_text())
        except ValueError:
            summary = None  # an unreadable summary: train again
        if isinstance(summary, dict):
            check_pretrained_2d(path, options)
            return path, {**summary, "cached": True}
    log(f"pretrain-2d: training a 2D ResNet-{options.depth} (width {options.width:g}) on the built-in still "
        f"images ({len(still_class_names())} classes x {options.per_class}); cached as {path}")
    model, summary = pretrain_2d(options, threads=threads, log=log)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {key: value.detach().clone() for key, value in model.state_dict().items()}
    with atomic_write(path, "wb") as handle:
        torch.save(state, handle)
    atomic_write_json(summary_path, summary)
    log(f"pretrain-2d: val top-1 {summary['val_top1']:.1f} % (chance {summary['chance']:.1f} %), "
        f"{summary['seconds']:.0f} s")
    return path, {**summary, "cached": False}
