"""What keeps a training run from losing work or reporting garbage, as functions the trainer calls.

* the run folder: what a run writes there (:data:`RUN_FILES`), its lock file, and the refusal of a
  folder that holds another run unless resume or overwrite says what to do with it;
* resume: which optimiser / schedule keys changed since the checkpoint (applied, listed) and which may
  not change (they shape the optimiser state);
* data: an epoch that read no video, or more than ``data.max_skip_fraction`` unreadable ones, stops the run.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Optional

from tanet.data.decode import VideoDecodeError
from tanet.engine.config import ConfigError
from tanet.errors import TanetError

__all__ = ["NonFiniteLossError", "UnreadableDataError", "RUN_FILES", "LOCK_FILE", "check_previous_run",
           "changed_training_keys", "check_readable", "first_unreadable"]

# What a run writes into runtime.out (removed by runtime.overwrite), and its lock file.
RUN_FILES = ("config.yaml", "last.pt", "best.pt", "log.jsonl", "log.csv", "curves.png")
LOCK_FILE = ".lock"
# optim keys that shape the optimizer state: a resume cannot change them
_STATE_SHAPING_KEYS = ("optim.name", "optim.linear_lr_policy", "optim.partial_bn")


class NonFiniteLossError(TanetError, RuntimeError):
    """The training loss, the weights or buffers, or the validation outputs became NaN or infinite;
    the run stopped without writing a checkpoint of that epoch."""


class UnreadableDataError(TanetError):
    """An epoch read no video at all, or more than ``data.max_skip_fraction`` of them were unreadable."""


def check_previous_run(out_dir: Path, *, resume: bool, overwrite: bool) -> None:
    """Refuse ``out_dir`` when it holds a run, unless ``resume`` continues it or ``overwrite`` replaces it
    (then the old run's files are removed)."""
    previous = [name for name in ("last.pt", "config.yaml") if (out_dir / name).exists()]
    if not previous or resume:
        return
    if not overwrite:
        raise ConfigError(
            f"{out_dir} holds a run already ({', '.join(previous)}): continue it with --resume auto "
            "(runtime.resume=auto), or replace it with --overwrite (runtime.overwrite=true)")
    for name in RUN_FILES:
        (out_dir / name).unlink(missing_ok=True)
    shutil.rmtree(out_dir / "tensorboard", ignore_errors=True)


def changed_training_keys(saved: Any, now: dict, path: Path) -> list[str]:
    """``key old -> new`` for each optim/schedule key of the recipe ``now`` (a config dict) that differs
    from the checkpoint's ``saved`` config; refuses a change of the keys that shape the optimizer state."""
    if not isinstance(saved, dict):
        return []
    changed = []
    for section in ("optim", "schedule"):
        before = saved.get(section) if isinstance(saved.get(section), dict) else {}
        for key, value in now[section].items():
            if key in before and before[key] != value:
                changed.append((f"{section}.{key}", before[key], value))
    fixed = [item for item in changed if item[0] in _STATE_SHAPING_KEYS]
    if fixed:
        raise ConfigError(
            f"cannot resume {path} with " + ", ".join(f"{k}={new!r} (it was trained with {old!r})"
                                                       for k, old, new in fixed)
            + ": the optimizer state does not carry over; resume with the old value, or start a new run "
            "(--overwrite, or another --out)")
    return [f"{k} {old!r} -> {new!r}" for k, old, new in changed]


def check_readable(what: str, epoch: int, read: int, skipped: int, *, max_skip_fraction: float,
                   dataset: Any = None) -> None:
    """Stop when an epoch read no video, or more than ``max_skip_fraction`` were unreadable; the message
    names one unreadable file of ``dataset`` (pass None on the processes that should not look)."""
    seen = read + skipped
    if read > 0 and skipped <= max_skip_fraction * seen:
        return
    if seen == 0:
        raise UnreadableDataError(f"{what} epoch {epoch + 1} had no video to read: its list is empty")
    example = first_unreadable(dataset) if dataset is not None else None
    text = (f"{what} epoch {epoch + 1}: {skipped} of {seen} videos could not be read"
            + (f" (e.g. {example})" if example else " (see the warnings above)"))
    if read == 0:
        text += "; no video was readable, so nothing can be learned or measured"
    else:
        text += f", more than data.max_skip_fraction={max_skip_fraction:g}"
    raise UnreadableDataError(
        text + ". Check the list and --root, find the bad files with `tanet check-videos LIST --root ROOT "
        "--write-clean CLEAN`, or raise data.max_skip_fraction.")


def first_unreadable(dataset: Any, limit: int = 200) -> Optional[str]:
    """``path: reason`` of the first of ``dataset``'s first ``limit`` videos that cannot be read
    (the loader only counts skipped samples; this names one, for the message)."""
    load = getattr(dataset, "load", None)
    if load is None:
        return None
    for index in range(min(len(dataset), limit)):
        try:
            load(index)
        except VideoDecodeError as error:
            return str(error)
        except Exception:  # noqa: BLE001 - only looking for an example
            continue
    return None
