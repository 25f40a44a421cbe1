"""The training loop: ``tanet.engine.train(config) -> TrainResult``.

One function drives a whole run, in one process or under ``torchrun`` (DDP):
build model and data from a :class:`~tanet.engine.config.TrainConfig`, optimise with the
official parameter groups, validate, and keep ``last.pt`` / ``best.pt``, ``config.yaml``,
``log.jsonl`` and ``log.csv`` in ``runtime.out``. ``runtime.resume="auto"`` continues a
killed run from ``last.pt`` with model, optimizer, schedule, scaler and RNG states, so the
result equals that of an uninterrupted run bit for bit (given deterministic kernels).
"""
from __future__ import annotations

import csv
import json
import math
import random
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from tanet.engine import distributed as dist_utils
from tanet.engine.checkpoint import (
    CHECKPOINT_FORMAT,
    CHECKPOINT_VERSION,
    CheckpointError,
    capture_rng_state,
    load_checkpoint_file,
    load_model_state,
    restore_rng_state,
    save_checkpoint,
)
from tanet.engine.config import ConfigError, TrainConfig, save_config
from tanet.engine.evaluation import autocast_context, evaluate
from tanet.engine.optim import (
    build_optimizer,
    build_param_groups,
    scaled_lr,
    set_train_mode,
    trainable_parameters,
    unwrap,
)
from tanet.engine.schedule import ScheduledLR, WarmupSchedule


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or infinite; the run stopped without saving."""


@dataclass
class TrainResult:
    """What a finished run produced."""

    out_dir: Path
    last_checkpoint: Path
    best_checkpoint: Path
    best_top1: Optional[float]
    final_metrics: dict  # validation metrics of the last validated epoch (no confusion)
    history: list = field(default_factory=list)  # one dict per epoch, as in log.jsonl
    epochs_run: int = 0  # epochs trained by this call (0 when resuming a finished run)


StepHook = Callable[[int, int, float], None]  # (epoch, step, loss) after each optimizer step


# ------------------------------------------------------------------------ building

def build_model(config: TrainConfig, num_classes: int) -> nn.Module:
    """``tanet.create_model`` with the recipe's model section."""
    import tanet

    m = config.model
    kwargs = dict(m.extra)
    kwargs.update(num_classes=num_classes, num_segments=m.num_segments, dropout=m.dropout)
    if m.width != 1.0:
        kwargs["width"] = m.width
    if m.pretrained:
        kwargs["pretrained"] = m.pretrained
    return tanet.create_model(m.name, **kwargs)


def resolve_class_names(config: TrainConfig) -> Optional[list[str]]:
    if not config.data.class_names:
        return None
    from tanet.data.lists import read_class_names

    return list(read_class_names(config.data.class_names))


def resolve_num_classes(config: TrainConfig, class_names: Optional[Sequence[str]]) -> int:
    if config.model.num_classes is not None:
        if class_names is not None and len(class_names) != config.model.num_classes:
            raise ConfigError(
                f"model.num_classes is {config.model.num_classes} but {config.data.class_names} "
                f"lists {len(class_names)} class names")
        return config.model.num_classes
    if class_names is not None:
        return len(class_names)
    raise ConfigError("the number of classes is unknown: set model.num_classes (--num-classes) "
                      "or data.class_names (a file with one class name per line)")


def build_datasets(config: TrainConfig, class_names: Optional[Sequence[str]],
                   num_classes: Optional[int] = None):
    """Train and validation datasets from the data section (validation may be None)."""
    from tanet.data.dataset import build_test_dataset, build_train_dataset

    d = config.data
    if not d.train_list:
        raise ConfigError("data.train_list is not set (--train-list)")
    common = data_kwargs(config)
    common["num_classes"] = num_classes or resolve_num_classes(config, class_names)
    if d.flip == "swap" and class_names is None:
        raise ConfigError("data.flip='swap' needs data.class_names to find left/right classes")
    train_set = build_train_dataset(d.train_list, d.root or None, size=d.size,
                                    scale_size=d.scale_size, flip=d.flip, crop_scales=tuple(d.crop_scales),
                                    class_names=class_names, seed=config.runtime.seed, **common)
    val_set = None
    if d.val_list:
        val_set = build_test_dataset(d.val_list, d.root or None, protocol=d.val_protocol, size=d.size,
                                     scale_size=d.scale_size, **common)
    return train_set, val_set


def data_kwargs(config: TrainConfig) -> dict:
    """Dataset-builder arguments shared by training, testing and prediction."""
    d = config.data
    return dict(num_segments=config.model.num_segments, sampling=d.sampling,
                dense_interval=d.dense_interval or max(1, 64 // config.model.num_segments),
                backend=d.backend, strict=d.strict, frames=d.frames,
                frame_template=d.frame_template)


def _collate():
    from tanet.data.dataset import collate_videos

    return collate_videos


def _seed_worker(worker_id: int) -> None:
    # Each worker's global generators derive from the loader's base seed (itself drawn
    # from the checkpointed torch RNG); data augmentation is seeded by the dataset itself
    # from (seed, epoch, index). One compute thread per worker.
    from tanet.data.dataset import worker_init_fn

    worker_init_fn(worker_id)
    seed = torch.initial_seed() % 2**32
    random.seed(seed)
    np.random.seed(seed)


class EpochTaggedSampler(torch.utils.data.Sampler):
    """Yields ``(epoch, index)`` so that the epoch reaches the dataset inside persistent
    loader workers (whose dataset copies never see a ``set_epoch`` made in the main process).
    """

    def __init__(self, sampler: DistributedSampler):
        self.sampler = sampler
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        self.sampler.set_epoch(epoch)

    def __iter__(self):
        return ((self.epoch, index) for index in self.sampler)

    def __len__(self) -> int:
        return len(self.sampler)


class EpochAwareDataset(Dataset):
    """Takes the ``(epoch, index)`` pairs of :class:`EpochTaggedSampler`; augmentation is
    then a function of (seed, epoch, index), whichever worker loads the sample."""

    def __init__(self, dataset: Dataset):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key):
        epoch, index = key
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(epoch)
        return self.dataset[index]


def make_loader(dataset: Dataset, batch_size: int, sampler, *, num_workers: int,
                persistent_workers: bool, pin_memory: bool, drop_last: bool) -> DataLoader:
    return DataLoader(
        dataset, batch_size=batch_size, sampler=sampler, num_workers=num_workers,
        collate_fn=_collate(), pin_memory=pin_memory, drop_last=drop_last,
        persistent_workers=persistent_workers and num_workers > 0,
        worker_init_fn=_seed_worker if num_workers > 0 else None,
    )


def to_channels_last(model: nn.Module) -> nn.Module:
    """channels_last for 4-d kernels and channels_last_3d for 5-d ones (I3D), in place
    (``Module.to(memory_format=...)`` refuses models that mix both)."""
    for tensor in list(model.parameters()) + list(model.buffers()):
        if tensor.dim() == 4:
            tensor.data = tensor.data.contiguous(memory_format=torch.channels_last)
        elif tensor.dim() == 5:
            tensor.data = tensor.data.contiguous(memory_format=torch.channels_last_3d)
    return model


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


# ------------------------------------------------------------------------ logging

class RunLogger:
    """``log.jsonl`` + ``log.csv`` (+ TensorBoard when installed), written by rank 0 only."""

    def __init__(self, out_dir: Path, enabled: bool, tensorboard: bool):
        self.out_dir = out_dir
        self.enabled = enabled
        self.writer = None
        if enabled and tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.writer = SummaryWriter(str(out_dir / "tensorboard"))
            except (ImportError, ModuleNotFoundError):
                self.writer = None

    def rewrite(self, history: list[dict]) -> None:
        """Make the log files match ``history`` exactly (after a resume)."""
        if not self.enabled:
            return
        (self.out_dir / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in history))
        csv_path = self.out_dir / "log.csv"
        if csv_path.exists():
            csv_path.unlink()
        for record in history:
            self._append_csv(record)

    def append(self, record: dict) -> None:
        if not self.enabled:
            return
        with open(self.out_dir / "log.jsonl", "a") as handle:
            handle.write(json.dumps(record) + "\n")
        self._append_csv(record)
        if self.writer is not None:
            for key, value in record.items():
                if isinstance(value, (int, float)) and key != "epoch" and value is not None:
                    self.writer.add_scalar(key.replace("_", "/", 1), value, record["epoch"])
            self.writer.flush()

    def _append_csv(self, record: dict) -> None:
        csv_path = self.out_dir / "log.csv"
        new = not csv_path.exists()
        with open(csv_path, "a", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(record))
            if new:
                writer.writeheader()
            writer.writerow(record)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def _print(enabled: bool, *args: Any) -> None:
    if enabled:
        print(*args, flush=True)


# ------------------------------------------------------------------------ the run

def train(config: TrainConfig, *, model: Optional[nn.Module] = None,
          train_dataset: Optional[Dataset] = None, val_dataset: Optional[Dataset] = None,
          class_names: Optional[Sequence[str]] = None,
          step_hook: Optional[StepHook] = None) -> TrainResult:
    """Train according to ``config`` and return where the results are.

    ``model``, ``train_dataset``, ``val_dataset`` and ``class_names`` may be given to skip
    building them from the config (the model must then carry ``model_config`` for the
    checkpoint to be rebuildable). ``step_hook(epoch, step, loss)`` runs after every
    optimizer step (tests use it to interrupt a run).

    Raises :class:`NonFiniteLossError` when the loss becomes NaN/inf (no checkpoint is
    written for the broken epoch; ``last.pt`` keeps the previous good epoch).
    """
    config.validate()
    rt = config.runtime
    info = dist_utils.env_dist_info()
    device = dist_utils.select_device(rt.device, info)
    info = dist_utils.init_distributed(device, rt.dist_backend)
    main = info.is_main
    threads = torch.get_num_threads()
    try:
        return _train(config, info, device, main, model, train_dataset, val_dataset,
                      class_names, step_hook)
    finally:
        torch.set_num_threads(threads)  # runtime.num_threads applies to this run only
        if info.enabled:
            dist_utils.cleanup_distributed()


def _train(config, info, device, main, model, train_set, val_set, class_names, step_hook):
    rt, d, o, s = config.runtime, config.data, config.optim, config.schedule
    out_dir = Path(rt.out)
    if main:
        out_dir.mkdir(parents=True, exist_ok=True)
    last_path, best_path = out_dir / "last.pt", out_dir / "best.pt"
    if rt.deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
    if rt.num_threads:
        torch.set_num_threads(rt.num_threads)
    if rt.amp == "fp16" and device.type != "cuda":
        raise ConfigError("runtime.amp='fp16' needs a GPU; use 'bf16' on CPU")
    seed_everything(rt.seed + info.rank)

    # --- data and model
    if class_names is None:
        class_names = resolve_class_names(config)
    num_classes = (getattr(model, "num_classes", None) if model is not None
                   else resolve_num_classes(config, class_names))
    if train_set is None:
        train_set, built_val = build_datasets(config, class_names, num_classes)
        val_set = val_set if val_set is not None else built_val
    if model is None:
        model = build_model(config, num_classes)
    model_config = dict(getattr(model, "model_config", {}) or {})
    model_config.pop("pretrained", None)  # weights come from the checkpoint, not the file

    if o.partial_bn:
        set_train_mode(model, True, partial_bn=True)  # freeze before groups and DDP
    groups = build_param_groups(model, o.linear_lr_policy, o.partial_bn)
    model.to(device)
    if rt.channels_last:
        to_channels_last(model)
    if rt.sync_bn and info.enabled:
        if device.type != "cuda":
            raise ConfigError("runtime.sync_bn needs CUDA (SyncBatchNorm has no CPU kernel)")
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        groups = build_param_groups(model, o.linear_lr_policy, o.partial_bn)

    global_batch = d.batch_size * info.world_size
    lr = scaled_lr(o.lr, global_batch, o.base_batch_size)
    optimizer = build_optimizer(groups, lr, o.momentum, o.weight_decay, o.nesterov, o.name)
    params = trainable_parameters(groups)

    train_sampler = EpochTaggedSampler(DistributedSampler(
        train_set, num_replicas=info.world_size, rank=info.rank, shuffle=True, seed=rt.seed,
        drop_last=True))
    if len(train_sampler) < d.batch_size:
        raise ConfigError(
            f"the training list has {len(train_set)} videos: fewer than one batch of "
            f"{d.batch_size} per process x {info.world_size} processes")
    loader_kw = dict(num_workers=d.num_workers, persistent_workers=d.persistent_workers,
                     pin_memory=d.pin_memory and device.type == "cuda")
    train_loader = make_loader(EpochAwareDataset(train_set), d.batch_size, train_sampler,
                               drop_last=True, **loader_kw)
    val_loader = None
    if val_set is not None:
        val_loader = make_loader(val_set, d.val_batch_size or d.batch_size,
                                 dist_utils.ShardSampler(len(val_set), info.rank, info.world_size),
                                 drop_last=False, **loader_kw)
    iters_per_epoch = len(train_loader)
    if rt.max_steps_per_epoch:
        iters_per_epoch = min(iters_per_epoch, rt.max_steps_per_epoch)
    schedule = WarmupSchedule(s.name, s.epochs, iters_per_epoch, s.milestones, s.gamma,
                              s.warmup_epochs, s.warmup_start_factor, s.min_lr_factor)
    scheduler = ScheduledLR(optimizer, schedule, lr)
    scaler = torch.amp.GradScaler("cuda", enabled=(rt.amp == "fp16" and device.type == "cuda"))
    criterion = nn.CrossEntropyLoss(label_smoothing=o.label_smoothing)

    # --- resume
    start_epoch, best_top1, history = 0, None, []
    resume_path = _resume_path(rt.resume, last_path)
    if resume_path is not None:
        state = load_checkpoint_file(resume_path)
        if state.get("format") != CHECKPOINT_FORMAT or "optimizer" not in state:
            raise CheckpointError(resume_path, "not a tanet training checkpoint "
                                               "(no optimizer state); cannot resume from it")
        load_model_state(model, state["model"], source=resume_path)
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        if state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
        start_epoch = int(state["epoch"])
        best_top1 = state.get("best_top1")
        history = list(state.get("history", []))
        rng_states = state.get("rng_per_rank") or []
        if len(rng_states) == info.world_size:
            restore_rng_state(rng_states[info.rank])
        else:
            warnings.warn(f"{resume_path}: saved by {len(rng_states)} processes, resumed by "
                          f"{info.world_size}; random streams are reseeded", stacklevel=2)
            seed_everything(rt.seed + info.rank + 1000003 * start_epoch)
        _print(main, f"resumed from {resume_path} at epoch {start_epoch}/{s.epochs}")

    train_model: nn.Module = model
    if info.enabled:
        train_model = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)
    if rt.compile:
        train_model = torch.compile(train_model)

    logger = RunLogger(out_dir, enabled=main, tensorboard=rt.tensorboard)
    if main:
        save_config(config, out_dir / "config.yaml")
        logger.rewrite(history)
        _print(main, _describe_run(config, info, lr, global_batch, groups, train_set, val_set,
                                   device, model_config.get("name", config.model.name)))

    final_metrics = dict(history[-1]) if history else {}
    epochs_run = 0
    run_started = time.perf_counter()
    try:
        for epoch in range(start_epoch, s.epochs):
            epoch_started = time.perf_counter()
            train_sampler.set_epoch(epoch)
            epoch_lr = scheduler.current_lr
            train_stats = _train_one_epoch(
                train_model, train_loader, optimizer, scheduler, scaler, criterion, params,
                config, device, epoch, iters_per_epoch, main, step_hook)
            record = {"epoch": epoch + 1, "lr": epoch_lr, **train_stats}
            validate_now = val_loader is not None and (
                (epoch + 1) % rt.eval_every == 0 or epoch + 1 == s.epochs)
            if validate_now:
                _sync_buffers(model, info)
                metrics = evaluate(model, val_loader, num_classes, device=device, amp=rt.amp,
                                   criterion=criterion, progress=main and rt.progress,
                                   desc=f"val {epoch + 1}")
                record.update({"val_top1": metrics["top1"], "val_top5": metrics["top5"],
                               "val_mean_class_acc": metrics["mean_class_acc"],
                               "val_loss": metrics.get("loss"),
                               "val_skipped": metrics["num_skipped"]})
            record["epoch_time_s"] = time.perf_counter() - epoch_started
            history.append(record)
            score = record.get("val_top1") if val_loader is not None else None
            is_best = val_loader is None or (
                score is not None and (best_top1 is None or score > best_top1))
            if score is not None and is_best:
                best_top1 = score
            rng_all = _gather_rng(info)
            if main:
                logger.append(record)
                state = {
                    "format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION,
                    "model": unwrap(model).state_dict(), "model_config": model_config,
                    "class_names": list(class_names) if class_names is not None else None,
                    "epoch": epoch + 1, "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(), "scaler": scaler.state_dict(),
                    "rng_per_rank": rng_all, "config": config.to_dict(),
                    "best_top1": best_top1, "history": history,
                    "metrics": {k: v for k, v in record.items() if k.startswith("val_")},
                }
                save_checkpoint(last_path, state)
                if is_best:
                    save_checkpoint(best_path, state)
                _print(main, _epoch_line(record, s.epochs, run_started, epoch - start_epoch + 1))
            final_metrics = dict(record)
            epochs_run += 1
            dist_utils.barrier()
    finally:
        logger.close()
    return TrainResult(out_dir=out_dir, last_checkpoint=last_path, best_checkpoint=best_path,
                       best_top1=best_top1, final_metrics=final_metrics, history=history,
                       epochs_run=epochs_run)


def _sync_buffers(model: nn.Module, info: dist_utils.DistInfo) -> None:
    """Give every process rank 0's BatchNorm statistics (each process updated its own
    during the epoch), so validation measures exactly the model that is checkpointed."""
    if not info.enabled:
        return
    import torch.distributed as dist

    for buffer in model.buffers():
        dist.broadcast(buffer.data, src=0)


def _resume_path(resume: Optional[str], last_path: Path) -> Optional[Path]:
    if not resume:
        return None
    if resume == "auto":
        return last_path if last_path.exists() else None
    path = Path(resume)
    if not path.exists():
        raise CheckpointError(path, "resume checkpoint does not exist")
    return path


def _gather_rng(info: dist_utils.DistInfo) -> list[dict]:
    state = capture_rng_state()
    if not info.enabled:
        return [state]
    import torch.distributed as dist

    gathered: list = [None] * info.world_size
    dist.all_gather_object(gathered, state)
    return gathered


def _train_one_epoch(model, loader, optimizer, scheduler, scaler, criterion, params, config,
                     device, epoch, iters_per_epoch, main, step_hook) -> dict:
    rt, o = config.runtime, config.optim
    set_train_mode(model, True, partial_bn=o.partial_bn)
    loss_sum = torch.zeros((), dtype=torch.float64)
    correct = samples = skipped = 0
    started = time.perf_counter()
    bar = None
    if main and rt.progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=iters_per_epoch, desc=f"epoch {epoch + 1}/{config.schedule.epochs}",
                   dynamic_ncols=True, leave=False, file=sys.stderr)
    for step, batch in enumerate(loader):
        if step >= iters_per_epoch:
            break
        clips, labels, bad = batch if len(batch) == 3 else (*batch, 0)
        skipped += int(bad)
        # Every process must take the same decision to step, or DDP would wait forever.
        sizes = torch.tensor([float(labels.numel() == 0)], device=_sync_device(device))
        if dist_utils.all_reduce_sum(sizes).item() > 0:
            continue
        clips = clips.to(device, non_blocking=True)
        labels = labels.to(device, non_blocking=True).long()
        with autocast_context(device, rt.amp):
            logits = model(clips)
        loss = criterion(logits.float(), labels)
        loss_value = dist_utils.all_reduce_sum(loss.detach().reshape(1).to(
            _sync_device(device)).double()).item() / max(1, _world())
        if not math.isfinite(loss_value):
            if bar is not None:
                bar.close()
            raise NonFiniteLossError(
                f"training loss became {loss_value} at epoch {epoch + 1}, step {step + 1} "
                f"(lr {scheduler.current_lr:.3g}); the run stopped without writing a checkpoint "
                f"for this epoch, so {Path(rt.out) / 'last.pt'} still holds the last good epoch. "
                "Lower optim.lr, enable optim.clip_grad_norm, or check the input data.")
        scaler.scale(loss).backward()
        if o.clip_grad_norm:
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(params, o.clip_grad_norm)
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad(set_to_none=True)
        scheduler.step()
        batch_n = labels.shape[0]
        loss_sum += float(loss.detach().item()) * batch_n
        correct += int((logits.detach().argmax(dim=1) == labels).sum().item())
        samples += batch_n
        if bar is not None:
            elapsed = time.perf_counter() - started
            bar.update(1)
            bar.set_postfix(loss=f"{loss_sum.item() / samples:.4f}",
                            acc=f"{100.0 * correct / samples:.1f}",
                            clips_s=f"{samples * _world() / max(elapsed, 1e-9):.1f}")
        elif main and rt.log_every and (step + 1) % rt.log_every == 0:
            print(f"epoch {epoch + 1} step {step + 1}/{iters_per_epoch} "
                  f"loss {loss_sum.item() / samples:.4f}", flush=True)
        if step_hook is not None:
            step_hook(epoch, step, float(loss.detach().item()))
    if bar is not None:
        bar.close()
    totals = torch.tensor([loss_sum.item(), float(correct), float(samples), float(skipped)],
                          dtype=torch.float64, device=_sync_device(device))
    totals = dist_utils.all_reduce_sum(totals).cpu()
    elapsed = time.perf_counter() - started
    n = max(totals[2].item(), 1.0)
    return {"train_loss": totals[0].item() / n, "train_top1": 100.0 * totals[1].item() / n,
            "train_skipped": int(totals[3].item()),
            "train_clips_per_s": totals[2].item() / max(elapsed, 1e-9)}


def _world() -> int:
    import torch.distributed as dist

    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def _sync_device(device: torch.device) -> torch.device:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized() and dist.get_backend() == "nccl":
        return device
    return torch.device("cpu")


def _describe_run(config, info, lr, global_batch, groups, train_set, val_set, device,
                  model_name) -> str:
    lines = [
        f"model {model_name} ({config.model.num_segments} segments) on {device}"
        f"{f' x {info.world_size} processes' if info.enabled else ''}",
        f"train videos {len(train_set)}, val videos {len(val_set) if val_set is not None else 0}",
        f"batch {config.data.batch_size}/process (global {global_batch}), lr {lr:.4g}"
        + (f" (scaled from {config.optim.lr} at batch {config.optim.base_batch_size})"
           if config.optim.base_batch_size else ""),
        "param groups: " + ", ".join(
            f"{g['name']} {len(g['params'])} (lr x{g['lr_mult']:g}, wd x{g['decay_mult']:g})"
            for g in groups),
    ]
    return "\n".join(lines)


def _epoch_line(record: dict, total_epochs: int, run_started: float, epochs_done: int) -> str:
    elapsed = time.perf_counter() - run_started
    remaining = (total_epochs - record["epoch"]) * elapsed / max(epochs_done, 1)
    text = (f"epoch {record['epoch']}/{total_epochs}: train loss {record['train_loss']:.4f} "
            f"top-1 {record['train_top1']:.1f}%")
    if "val_top1" in record:
        text += f" | val top-1 {record['val_top1']:.2f}% top-5 {record['val_top5']:.2f}%"
    text += f" | {record['epoch_time_s']:.1f}s, ETA {_hms(remaining)}"
    return text


def _hms(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600:d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


__all__ = ["train", "TrainResult", "NonFiniteLossError", "build_model", "build_datasets",
           "resolve_num_classes", "resolve_class_names", "make_loader", "seed_everything"]
