"""What a training run prints: the summary at start (the run, then every resolved value, derived ones
marked with why) and one line per epoch."""
from __future__ import annotations

from typing import Any

__all__ = ["run_summary", "epoch_line", "hms"]


def hms(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600:d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def run_summary(trainer: Any) -> str:
    """The summary of a built :class:`~tanet.engine.trainer.Trainer`."""
    from tanet.engine.finetune import describe_init

    config, info = trainer.config, trainer.dist
    name = trainer.model_config.get("name", config.model.name)
    lines = [
        f"model {name} ({config.model.num_segments} segments) on {trainer.device}"
        f"{f' x {info.world_size} processes' if info.enabled else ''}",
        f"train videos {len(trainer.train_set)}, val videos {len(trainer.val_set) if trainer.val_set is not None else 0}",
        f"batch {config.data.batch_size}/process (global {trainer.global_batch}), lr {trainer.lr:.4g}"
        + (f" (scaled from {config.optim.lr} at batch {config.optim.base_batch_size})"
           if config.optim.base_batch_size else ""),
        f"param groups (linear lr policy {config.optim.linear_lr_policy}"
        f"{trainer.resolved.mark('optim.linear_lr_policy')}): " + ", ".join(
            f"{g['name']} {len(g['params'])} (lr x{g['lr_mult']:g}, wd x{g['decay_mult']:g})" for g in trainer.groups),
        *trainer.resolved.describe(),
    ]
    if trainer.init_report is not None:
        lines.append(describe_init(trainer.init_report, trainer.num_classes))
    return "\n".join(lines)


def epoch_line(record: dict, total_epochs: int, elapsed: float, epochs_done: int) -> str:
    """``epoch 3/10: train loss ... | val top-1 ... | 12.3s, ETA 0:01:30``."""
    remaining = (total_epochs - record["epoch"]) * elapsed / max(epochs_done, 1)
    text = (f"epoch {record['epoch']}/{total_epochs}: train loss {record['train_loss']:.4f} "
            f"top-1 {record['train_top1']:.1f}% (skipped {record['train_skipped']})")
    if "val_top1" in record:
        text += (f" | val top-1 {record['val_top1']:.2f}% top-5 {record['val_top5']:.2f}% "
                 f"(skipped {record['val_skipped']})")
    return text + f" | {record['epoch_time_s']:.1f}s, ETA {hms(remaining)}"
