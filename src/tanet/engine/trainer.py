"""The training loop: ``Trainer(config).fit() -> TrainResult`` (``tanet.engine.train(config)``).

One object drives a whole run, in one process or under ``torchrun`` (DDP): it builds model and
data from a :class:`~tanet.engine.config.TrainConfig`, optimises with the official parameter groups,
validates, and keeps ``last.pt`` / ``best.pt``, ``config.yaml``, ``log.jsonl`` and ``log.csv`` in
``runtime.out``. ``runtime.resume="auto"`` continues a killed run from ``last.pt`` with model,
optimizer, schedule, scaler and RNG states, so the result equals that of an uninterrupted run bit
for bit (given deterministic kernels), with or without loader workers.

What keeps a run safe: the main process holds a lock on ``runtime.out`` for as long as the run lives
(a second run into the same folder stops with a message naming the first one's pid); a folder that
holds a run is refused unless ``runtime.resume`` continues it or ``runtime.overwrite`` replaces it;
temporary files of an interrupted checkpoint write are removed at the next start. A run stops with
a message, never with a checkpoint of garbage, when the loss, the weights or BatchNorm buffers, or
the validation outputs become NaN/inf, and when an epoch reads no video or more than
``data.max_skip_fraction`` of its videos are unreadable.
"""
from __future__ import annotations

import math
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import torch
from torch import nn
from torch.utils.data import Dataset, DistributedSampler

from tanet.checkpoint import CheckpointError, save_checkpoint
from tanet.data.loader import EpochAwareDataset, EpochTaggedSampler, build_loader
from tanet.engine import distributed as dist_utils
from tanet.engine.builders import build_datasets, build_eval_loader, build_model_with_report
from tanet.engine.config import ConfigError, TrainConfig
from tanet.engine.resolve import resolve_training
from tanet.engine.evaluation import autocast_context, evaluate
from tanet.engine.optim import build_optimizer, build_param_groups, scaled_lr, set_train_mode, trainable_parameters, unwrap
from tanet.engine.rng import capture_rng_state, restore_rng_state, seed_everything
from tanet.engine.run_guards import LOCK_FILE, RUN_FILES, NonFiniteLossError, UnreadableDataError, check_previous_run, check_readable
from tanet.engine.run_log import RunLogger, save_run_config
from tanet.engine.run_summary import epoch_line, run_summary
from tanet.engine.training_state import describe_best, restore_training_state, training_state
from tanet.engine.schedule import ScheduledLR, WarmupSchedule
from tanet.errors import TanetError
from tanet.models.inference import to_channels_last
from tanet.utils.io import remove_stale_temporaries
from tanet.utils.locking import FileLock

__all__ = ["Trainer", "TrainResult", "NonFiniteLossError", "UnreadableDataError", "train", "to_channels_last",
           "RUN_FILES"]


@dataclass
class TrainResult:
    """What a finished run produced."""

    out_dir: Path
    last_checkpoint: Path
    best_checkpoint: Optional[Path]  # this run's best.pt; None when it wrote none (the best is older: best_from)
    best_top1: Optional[float]
    final_metrics: dict  # validation metrics of the last validated epoch (no confusion)
    history: list = field(default_factory=list)  # one dict per epoch, as in log.jsonl
    epochs_run: int = 0  # epochs trained by this call (0 when resuming a finished run)
    best_from: Optional[str] = None  # the file that holds the best weights (this run's best.pt, or a resumed run's)

    def final_line(self) -> str:
        """The run's last line: the files it holds, and where the best weights are."""
        files = [path.name for path in (self.last_checkpoint, self.best_checkpoint) if path is not None and path.exists()]
        best = describe_best(self.best_top1, self.best_from, self.out_dir / "best.pt")
        return f"done: {self.out_dir} ({best}; this run wrote {', '.join(files) or 'no checkpoint'})"


StepHook = Callable[[int, int, float], None]  # (epoch, step, loss) after each optimizer step


def _world() -> int:
    import torch.distributed as dist

    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def _sync_device(device: torch.device) -> torch.device:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized() and dist.get_backend() == "nccl":
        return device
    return torch.device("cpu")


class Trainer:
    """One training run. Building happens in the constructor (so ``trainer.model`` can be inspected
    before :meth:`fit`); :meth:`fit` trains, validates and checkpoints every epoch.

    ``model``, ``train_dataset``, ``val_dataset`` and ``class_names`` may be given to skip building
    them from the config (the model must then carry ``model_config`` for the checkpoint to be
    rebuildable). ``step_hook(epoch, step, loss)`` runs after every optimizer step (tests use it to
    interrupt a run).
    """

    def __init__(self, config: TrainConfig, *, model: Optional[nn.Module] = None,
                 train_dataset: Optional[Dataset] = None, val_dataset: Optional[Dataset] = None,
                 class_names: Optional[Sequence[str]] = None, step_hook: Optional[StepHook] = None):
        info = dist_utils.env_dist_info()
        self.device = dist_utils.select_device(config.runtime.device, info)  # a device that is not there: first
        # the one resolution of the recipe: everything below reads self.resolved / self.config
        self.resolved = resolve_training(config, class_names=class_names,
                                         num_classes=getattr(model, "num_classes", None) if model is not None else None)
        self.config = config = self.resolved.config
        self.step_hook = step_hook
        self._run_logger: Optional[RunLogger] = None  # set while fit() runs (per-iteration logging)
        rt = config.runtime
        self.dist = dist_utils.init_distributed(self.device, rt.dist_backend)
        self.is_main = self.dist.is_main
        self._threads = torch.get_num_threads()
        self._lock: Optional[FileLock] = None
        self._folder_note: Optional[str] = None  # what claiming the run folder did, for the summary
        self.saved_epoch: Optional[int] = None  # the epoch last.pt holds, when this run wrote or resumed it
        self._created_out = False  # this run made runtime.out (removed again when the run is refused)
        try:
            self._build(model, train_dataset, val_dataset)
        except BaseException:
            self._close(refused=True)
            raise

    # ------------------------------------------------------------------ building

    def _build(self, model, train_set, val_set) -> None:
        config, info, device = self.config, self.dist, self.device
        rt, d, o, s = config.runtime, config.data, config.optim, config.schedule
        self.out_dir = Path(rt.out)
        self.last_path, self.best_path = self.out_dir / "last.pt", self.out_dir / "best.pt"
        self._claim_out_dir()
        if rt.deterministic:
            torch.use_deterministic_algorithms(True, warn_only=True)
        if rt.num_threads:
            torch.set_num_threads(rt.num_threads)
        if rt.amp == "fp16" and device.type != "cuda":
            raise ConfigError("runtime.amp='fp16' needs a GPU; use 'bf16' on CPU")
        seed_everything(rt.seed + info.rank)
        if self.is_main:
            for message in self.resolved.warnings:
                warnings.warn(message, UserWarning, stacklevel=3)

        self.class_names = list(self.resolved.class_names) if self.resolved.class_names is not None else None
        self.num_classes = config.model.num_classes
        if train_set is None:
            train_set, built_val = build_datasets(self.resolved)
            val_set = val_set if val_set is not None else built_val
        self.train_set, self.val_set = train_set, val_set
        self.init_report = None  # what fine-tuning (model.init_from / model.weights) loaded
        if model is None:
            model, self.init_report = build_model_with_report(self.resolved, fine_tune=self._resume_path() is None)
        self.model_config = dict(getattr(model, "model_config", {}) or {})
        self.model_config.pop("pretrained", None)  # weights come from the checkpoint, not the file

        if o.partial_bn:
            set_train_mode(model, True, partial_bn=True)  # freeze before groups and DDP
        self.groups = build_param_groups(model, o.linear_lr_policy, o.partial_bn)
        model.to(device)
        if rt.channels_last:
            to_channels_last(model)
        if rt.sync_bn and info.enabled:
            if device.type != "cuda":
                raise ConfigError("runtime.sync_bn needs CUDA (SyncBatchNorm has no CPU kernel)")
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
            self.groups = build_param_groups(model, o.linear_lr_policy, o.partial_bn)
        self.model = model

        self.global_batch = d.batch_size * info.world_size
        self.lr = scaled_lr(o.lr, self.global_batch, o.base_batch_size)
        self.optimizer = build_optimizer(self.groups, self.lr, o.momentum, o.weight_decay, o.nesterov, o.name)
        self.params = trainable_parameters(self.groups)

        self.train_sampler = EpochTaggedSampler(DistributedSampler(
            train_set, num_replicas=info.world_size, rank=info.rank, shuffle=True, seed=rt.seed, drop_last=True))
        if len(self.train_sampler) < d.batch_size:
            raise ConfigError(
                f"the training list has {len(train_set)} videos: fewer than one batch of "
                f"{d.batch_size} per process x {info.world_size} processes")
        pin = d.pin_memory and device.type == "cuda"
        # A DataLoader draws its workers' base seed when it starts an epoch (with persistent workers:
        # only the first epoch it runs). Drawn from the global generator, that draw would shift the
        # dropout stream of a resumed run against an uninterrupted one; its own generator, reseeded
        # from (seed, rank, epoch) in fit(), keeps the global stream untouched and the worker seeds
        # independent of where a run was resumed. (Augmentation is seeded per sample from
        # (seed, epoch, index), whichever worker loads it.)
        self._loader_generator = loader_generator = torch.Generator()
        self.train_loader = build_loader(
            EpochAwareDataset(train_set), d.batch_size, sampler=self.train_sampler, num_workers=d.num_workers,
            persistent_workers=d.persistent_workers, pin_memory=pin, drop_last=True, generator=loader_generator)
        self.val_loader = None
        if val_set is not None:
            self.val_loader = build_eval_loader(val_set, d.val_batch_size, num_workers=d.num_workers,
                                                rank=info.rank, world_size=info.world_size, device=device)
        self.iters_per_epoch = len(self.train_loader)
        if rt.max_steps_per_epoch:
            self.iters_per_epoch = min(self.iters_per_epoch, rt.max_steps_per_epoch)
        schedule = WarmupSchedule(s.name, s.epochs, self.iters_per_epoch, s.milestones, s.gamma,
                                  s.warmup_epochs, s.warmup_start_factor, s.min_lr_factor)
        self.scheduler = ScheduledLR(self.optimizer, schedule, self.lr)
        self.scaler = torch.amp.GradScaler("cuda", enabled=(rt.amp == "fp16" and device.type == "cuda"))
        self.criterion = nn.CrossEntropyLoss(label_smoothing=o.label_smoothing)

        self.start_epoch, self.best_top1, self.best_from, self.history = 0, None, None, []
        resume_path = self._resume_path()
        if resume_path is not None:
            self.resume(resume_path)
        elif rt.resume == "auto" and self._folder_note is None:
            self._print(f"--resume auto: {self.out_dir} holds no run, so a new one starts")
        if self._folder_note is not None:
            self._print(self._folder_note)

        self.train_model: nn.Module = model
        if info.enabled:
            self.train_model = nn.parallel.DistributedDataParallel(
                model, device_ids=[device.index] if device.type == "cuda" else None)
        if rt.compile:
            self.train_model = torch.compile(self.train_model)

    def _claim_out_dir(self) -> None:
        """Lock ``runtime.out`` (main process), remove what interrupted writes left there, and refuse a
        folder that holds another run unless resume or overwrite says what to do with it."""
        error: Optional[BaseException] = None
        if self.is_main:
            try:
                if self.out_dir.exists() and not self.out_dir.is_dir():
                    raise ConfigError(f"runtime.out {self.out_dir} is a file, not a folder; choose another --out")
                self._created_out = not self.out_dir.exists()
                self.out_dir.mkdir(parents=True, exist_ok=True)
                self._lock = FileLock(self.out_dir / LOCK_FILE, what=f"run folder {self.out_dir}",
                                      hint="wait for that run to end, or choose another --out").acquire()
                remove_stale_temporaries(self.out_dir, *RUN_FILES)
                self._folder_note = check_previous_run(self.out_dir, resume=self.config.runtime.resume,
                                                       overwrite=self.config.runtime.overwrite)
            except Exception as caught:  # noqa: BLE001 - re-raised below, after the other ranks heard of it
                error = caught
        # Every process follows the main one (a rank stopping alone would leave the others waiting).
        failed = dist_utils.all_reduce_sum(
            torch.tensor([float(error is not None)], device=_sync_device(self.device))).item()
        if error is not None:
            raise error
        if failed:
            raise TanetError(f"the main process could not claim the run folder {self.out_dir}")

    def _resume_path(self) -> Optional[Path]:
        resume = self.config.runtime.resume
        if not resume:
            return None
        if resume == "auto":
            return self.last_path if self.last_path.exists() else None
        path = Path(resume)
        if not path.exists():
            raise CheckpointError(path, "resume checkpoint does not exist")
        return path

    def resume(self, path: Path) -> None:
        """Continue from a training checkpoint: model, optimizer, schedule, scaler, RNG, history."""
        state = restore_training_state(path, model=self.model, optimizer=self.optimizer, scheduler=self.scheduler,
                                       scaler=self.scaler, base_lr=self.lr, resolved_now=self.config.to_dict(),
                                       allowed=self.config.runtime.resume_allow)
        self.start_epoch, self.history = state.epoch, state.history
        self.best_top1, self.best_from = state.best_top1, state.best_from
        if len(state.rng_per_rank) == self.dist.world_size:
            restore_rng_state(state.rng_per_rank[self.dist.rank])
        else:
            warnings.warn(f"{path}: saved by {len(state.rng_per_rank)} processes, resumed by "
                          f"{self.dist.world_size}; random streams are reseeded", stacklevel=2)
            seed_everything(self.config.runtime.seed + self.dist.rank + 1000003 * self.start_epoch)
        if Path(path).resolve() == self.last_path.resolve():
            self.saved_epoch = self.start_epoch
        self._print(f"resumed from {path} at epoch {self.start_epoch}/{self.config.schedule.epochs}")
        if state.changed:
            self._print("changed since that checkpoint, applied from here on: " + ", ".join(state.changed))

    # ------------------------------------------------------------------ running

    def fit(self) -> TrainResult:
        """Train the remaining epochs; validate, log and checkpoint after each."""
        rt, s = self.config.runtime, self.config.schedule
        logger = RunLogger(self.out_dir, enabled=self.is_main, tensorboard=rt.tensorboard)
        self._run_logger = logger  # per-iteration logging from train_epoch
        try:
            if self.is_main:
                save_run_config(self.resolved, self.out_dir / "config.yaml")
                logger.rewrite(self.history)
                self._print(self.describe())
            final_metrics = dict(self.history[-1]) if self.history else {}
            epochs_run = 0
            run_started = time.perf_counter()
            for epoch in range(self.start_epoch, s.epochs):
                epoch_started = time.perf_counter()
                self.train_sampler.set_epoch(epoch)
                self._loader_generator.manual_seed(rt.seed + 1000003 * (self.dist.rank + 1) + 7919 * epoch)
                record = {"epoch": epoch + 1, "lr": self.scheduler.current_lr, **self.train_epoch(epoch)}
                self._check_finite_state(epoch)
                if self.val_loader is not None and ((epoch + 1) % rt.eval_every == 0 or epoch + 1 == s.epochs):
                    record.update(self.validate(epoch))
                record["epoch_time_s"] = time.perf_counter() - epoch_started
                self.history.append(record)
                score = record.get("val_top1") if self.val_loader is not None else None
                is_best = self.val_loader is None or (
                    score is not None and (self.best_top1 is None or score > self.best_top1))
                if score is not None and is_best:
                    self.best_top1 = score
                if is_best:
                    self.best_from = str(self.best_path)
                rng_all = self._gather_rng()
                if self.is_main:
                    logger.append(record)
                    self.save(record, rng_all, is_best)
                    self._print(epoch_line(record, s.epochs, time.perf_counter() - run_started,
                                           epoch - self.start_epoch + 1))
                final_metrics = dict(record)
                epochs_run += 1
                dist_utils.barrier()
        finally:
            logger.close()
            self._run_logger = None
            self._close()
        best_written = self.best_from is not None and Path(self.best_from) == self.best_path and self.best_path.exists()
        return TrainResult(out_dir=self.out_dir, last_checkpoint=self.last_path,
                           best_checkpoint=self.best_path if best_written else None, best_top1=self.best_top1,
                           final_metrics=final_metrics, history=self.history, epochs_run=epochs_run,
                           best_from=self.best_from)

    def train_epoch(self, epoch: int) -> dict:
        """One pass over the training set; returns the epoch's training statistics."""
        config, rt, o, device = self.config, self.config.runtime, self.config.optim, self.device
        model, optimizer, scheduler, scaler = self.train_model, self.optimizer, self.scheduler, self.scaler
        set_train_mode(model, True, partial_bn=o.partial_bn)
        loss_sum = torch.zeros((), dtype=torch.float64)
        correct = samples = skipped = 0
        started = time.perf_counter()
        bar = None
        if self.is_main and rt.progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=self.iters_per_epoch, desc=f"epoch {epoch + 1}/{config.schedule.epochs}",
                       dynamic_ncols=True, leave=False, file=sys.stderr)
        try:
            for step, batch in enumerate(self.train_loader):
                if step >= self.iters_per_epoch:
                    break
                skipped += int(batch.num_skipped)
                # Every process must take the same decision to step, or DDP would wait forever.
                empty = torch.tensor([float(batch.labels.numel() == 0)], device=_sync_device(device))
                if dist_utils.all_reduce_sum(empty).item() > 0:
                    continue
                clips = batch.clips.to(device, non_blocking=True)
                labels = batch.labels.to(device, non_blocking=True).long()
                with autocast_context(device, rt.amp):
                    logits = model(clips)
                loss = self.criterion(logits.float(), labels)
                loss_value = dist_utils.all_reduce_sum(loss.detach().reshape(1).to(
                    _sync_device(device)).double()).item() / max(1, _world())
                if not math.isfinite(loss_value):
                    raise NonFiniteLossError(
                        f"training loss became {loss_value} at epoch {epoch + 1}, step {step + 1} "
                        f"(lr {scheduler.current_lr:.3g}); {self._kept()}. "
                        "Lower optim.lr, enable optim.clip_grad_norm, or check the input data.")
                scaler.scale(loss).backward()
                if o.clip_grad_norm:
                    scaler.unscale_(optimizer)
                    torch.nn.utils.clip_grad_norm_(self.params, o.clip_grad_norm)
                scaler.step(optimizer)
                scaler.update()
                optimizer.zero_grad(set_to_none=True)
                step_lr = scheduler.current_lr
                scheduler.step()
                batch_n = labels.shape[0]
                loss_sum += float(loss.detach().item()) * batch_n
                correct += int((logits.detach().argmax(dim=1) == labels).sum().item())
                samples += batch_n
                if bar is not None:
                    elapsed = time.perf_counter() - started
                    bar.update(1)
                    bar.set_postfix(loss=f"{loss_sum.item() / samples:.4f}", acc=f"{100.0 * correct / samples:.1f}",
                                    clips_s=f"{samples * _world() / max(elapsed, 1e-9):.1f}")
                elif self.is_main and rt.log_every and (step + 1) % rt.log_every == 0:
                    print(f"epoch {epoch + 1} step {step + 1}/{self.iters_per_epoch} "
                          f"loss {loss_sum.item() / samples:.4f}", flush=True)
                if self._run_logger is not None:
                    self._run_logger.log_step(epoch * self.iters_per_epoch + step + 1, loss_value, step_lr)
                if self.step_hook is not None:
                    self.step_hook(epoch, step, float(loss.detach().item()))
        finally:
            if bar is not None:
                bar.close()
        totals = torch.tensor([loss_sum.item(), float(correct), float(samples), float(skipped)],
                              dtype=torch.float64, device=_sync_device(device))
        totals = dist_utils.all_reduce_sum(totals).cpu()
        elapsed = time.perf_counter() - started
        check_readable("training", epoch, int(totals[2].item()), int(totals[3].item()),
                       max_skip_fraction=self.config.data.max_skip_fraction,
                       dataset=self.train_set if self.is_main else None)
        n = max(totals[2].item(), 1.0)
        return {"train_loss": totals[0].item() / n, "train_top1": 100.0 * totals[1].item() / n,
                "train_skipped": int(totals[3].item()),
                "train_clips_per_s": totals[2].item() / max(elapsed, 1e-9)}

    def validate(self, epoch: int) -> dict:
        """Evaluate on the validation set (every process sees rank 0's BatchNorm statistics)."""
        self._sync_buffers()
        metrics = evaluate(self.model, self.val_loader, self.num_classes, device=self.device,
                           amp=self.config.runtime.amp, criterion=self.criterion,
                           progress=self.is_main and self.config.runtime.progress, desc=f"val {epoch + 1}")
        check_readable("validation", epoch, metrics["num_samples"], metrics["num_skipped"],
                       max_skip_fraction=self.config.data.max_skip_fraction,
                       dataset=self.val_set if self.is_main else None)
        loss = metrics.get("loss")
        if metrics.get("num_nonfinite") or (loss is not None and not math.isfinite(loss)):
            raise NonFiniteLossError(
                f"validation after epoch {epoch + 1} gave non-finite outputs for {metrics.get('num_nonfinite', 0)} "
                f"of {metrics['num_samples']} videos (loss {loss}) although the weights are finite; {self._kept()}. "
                "Lower optim.lr or enable optim.clip_grad_norm.")
        return {"val_top1": metrics["top1"], "val_top5": metrics["top5"],
                "val_mean_class_acc": metrics["mean_class_acc"], "val_loss": metrics.get("loss"),
                "val_skipped": metrics["num_skipped"]}

    def save(self, record: dict, rng_per_rank: list, is_best: bool) -> None:
        """Write ``last.pt`` (and ``best.pt`` when this epoch is the best) atomically. A failed write (a full
        disk) leaves the previous file whole, and the error says what it still holds."""
        state = training_state(
            model=unwrap(self.model), model_config=self.model_config, class_names=self.class_names,
            epoch=record["epoch"], optimizer=self.optimizer, scheduler=self.scheduler, scaler=self.scaler,
            rng_per_rank=rng_per_rank, recipe=self.resolved.recipe.to_dict(), resolved=self.resolved.record(),
            best_top1=self.best_top1, best_from=self.best_from, history=self.history,
            metrics={k: v for k, v in record.items() if k.startswith("val_")})
        try:
            save_checkpoint(self.last_path, state)
            self.saved_epoch = record["epoch"]
            if is_best:
                save_checkpoint(self.best_path, state)
        except OSError as error:
            raise TanetError(f"{error}; {self._kept()}") from error

    # ------------------------------------------------------------------ helpers

    def _kept(self) -> str:
        """What the run folder holds after a stop (only what is true)."""
        if self.saved_epoch:
            return (f"the run stopped without writing a checkpoint of this epoch: {self.last_path} still "
                    f"holds epoch {self.saved_epoch}, the last good one")
        return "the run stopped before any checkpoint of it was written"

    def _check_finite_state(self, epoch: int) -> None:
        """Weights and buffers (BatchNorm running statistics) must be finite before they are saved;
        every process takes the same decision."""
        bad = [name for name, tensor in (*unwrap(self.model).named_parameters(), *unwrap(self.model).named_buffers())
               if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all())]
        count = dist_utils.all_reduce_sum(torch.tensor([float(len(bad))], device=_sync_device(self.device))).item()
        if count:
            where = f" (e.g. {', '.join(bad[:3])})" if bad else " (on another process)"
            raise NonFiniteLossError(
                f"after epoch {epoch + 1} the model holds NaN/inf values in {len(bad) or int(count)} weight or "
                f"buffer tensors{where}; {self._kept()}. Lower optim.lr or enable optim.clip_grad_norm.")

    def _sync_buffers(self) -> None:
        """Give every process rank 0's BatchNorm statistics (each process updated its own during the
        epoch), so validation measures exactly the model that is checkpointed."""
        if not self.dist.enabled:
            return
        import torch.distributed as dist

        for buffer in self.model.buffers():
            dist.broadcast(buffer.data, src=0)

    def _gather_rng(self) -> list[dict]:
        state = capture_rng_state()
        if not self.dist.enabled:
            return [state]
        import torch.distributed as dist

        gathered: list = [None] * self.dist.world_size
        dist.all_gather_object(gathered, state)
        return gathered

    def _close(self, refused: bool = False) -> None:
        torch.set_num_threads(self._threads)  # runtime.num_threads applies to this run only
        if self._lock is not None:
            if refused and self._created_out:  # a run refused before it trained leaves no folder behind
                (self.out_dir / LOCK_FILE).unlink(missing_ok=True)
            self._lock.release()
            self._lock = None
        if refused and self._created_out and self.out_dir.is_dir() and not any(self.out_dir.iterdir()):
            self.out_dir.rmdir()
        if self.dist.enabled:
            dist_utils.cleanup_distributed()

    def _print(self, *args: Any) -> None:
        if self.is_main:
            print(*args, flush=True)

    def describe(self) -> str:
        """The run summary printed at the start: the run, then every resolved value (derived ones marked)."""
        return run_summary(self)


def train(config: TrainConfig, **kwargs: Any) -> TrainResult:
    """``Trainer(config, **kwargs).fit()``."""
    return Trainer(config, **kwargs).fit()
