"""What keeps a training run from losing work or reporting garbage, as functions the trainer calls.

* the run folder: what a run writes there (:data:`RUN_FILES`), its lock file, and the refusal of a
  folder that holds another run unless resume or overwrite says what to do with it;
* resume: which keys changed since the checkpoint (applied and listed), which may not change (they shape
  the optimiser state) and which change only when asked (what the model learns from);
* data: an epoch that read no video, or more than ``data.max_skip_fraction`` unreadable ones, stops the run.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Optional, Sequence

from tanet.data.decode import VideoDecodeError
from tanet.engine.config import ConfigError
from tanet.errors import TanetError

__all__ = ["NonFiniteLossError", "UnreadableDataError", "RUN_FILES", "LOCK_FILE", "check_previous_run",
           "resume_changes", "check_readable", "first_unreadable"]

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


def check_previous_run(out_dir: Path, *, resume: Optional[str], overwrite: bool) -> Optional[str]:
    """Refuse ``out_dir`` when it holds a run, unless ``resume`` continues it or ``overwrite`` replaces it
    (then the old run's files are removed). Returns a line for the run to print, or None.

    ``resume="auto"`` continues the run whose ``last.pt`` is there, starts one in a folder that holds no
    run, and starts again a run that stopped before its first checkpoint (only its ``config.yaml`` and
    empty logs are there). A run that finished epochs but has no ``last.pt`` (``best.pt`` or logged epochs
    remain) is refused: starting over would replace its files. ``resume`` naming a checkpoint file continues
    it into ``out_dir``, which must then hold no other run.
    """
    previous = [name for name in RUN_FILES if (out_dir / name).exists()]
    if not previous:
        return None
    held = ", ".join(previous)
    if overwrite:
        for name in RUN_FILES:
            (out_dir / name).unlink(missing_ok=True)
        shutil.rmtree(out_dir / "tensorboard", ignore_errors=True)
        return f"--overwrite: removed the run that was in {out_dir} ({held})"
    resumable = (out_dir / "last.pt").exists()
    log = out_dir / "log.jsonl"
    trained = (out_dir / "best.pt").exists() or (log.exists() and log.stat().st_size > 0)
    if resume == "auto" and resumable:
        return None
    if resume == "auto" and not trained:
        return f"--resume auto: the run in {out_dir} stopped before its first checkpoint, so it starts again"
    if resume and resume != "auto" and resumable and Path(resume).exists() \
            and (out_dir / "last.pt").resolve() == Path(resume).resolve():
        return None  # continuing this folder's own last.pt
    if resumable:
        raise ConfigError(
            f"{out_dir} holds a run already ({held}): continue it with --resume auto (runtime.resume=auto), "
            "or replace it with --overwrite (runtime.overwrite=true), or choose another --out")
    if trained:
        raise ConfigError(
            f"{out_dir} holds a run ({held}) that cannot be resumed: it has no last.pt. Starting over would replace "
            "its files; replace them on purpose with --overwrite (runtime.overwrite=true), or choose another --out")
    raise ConfigError(
        f"{out_dir} holds the start of a run that wrote no checkpoint ({held}): start it again with --resume auto, "
        "replace it with --overwrite, or choose another --out")


# Keys whose change on resume would change what the model learns from, or the model itself: refused
# unless runtime.resume_allow names them (the weights and optimizer state were trained under the old ones).
_LEARNING_KEYS = (
    "model.name", "model.num_segments", "model.width", "model.dropout", "model.num_classes", "model.temporal.",
    "data.synthetic.", "data.sampling", "data.sampling_rule", "data.dense_interval", "data.size", "data.scale_size",
    "data.flip", "data.crop_scales", "data.frames", "data.frame_template", "data.class_names",
)
# Keys that only say where or how the run executes, or how resume itself is asked for: never listed.
_IGNORED_KEYS = ("runtime.resume", "runtime.overwrite", "runtime.resume_allow", "runtime.progress", "runtime.out")


def resume_changes(saved: Any, now: dict, path: Path, allowed: Sequence[str] = ()) -> list[str]:
    """``key old -> new`` for every key of the configuration ``now`` (a nested dict) that differs from the
    checkpoint's ``saved`` one. Refuses a change of the keys that shape the optimizer state, and of the keys
    that change what the model learned from (data view, sampling, architecture) unless ``allowed`` names
    them."""
    if not isinstance(saved, dict):
        return []
    changed = [(key, old, new) for key, old, new in _differences(saved, now, "")
               if not key.startswith(_IGNORED_KEYS)]
    fixed = [item for item in changed if item[0] in _STATE_SHAPING_KEYS]
    if fixed:
        raise ConfigError(
            f"cannot resume {path} with " + ", ".join(f"{k}={new!r} (it was trained with {old!r})"
                                                       for k, old, new in fixed)
            + ": the optimizer state does not carry over; resume with the old value, or start a new run "
            "(--overwrite, or another --out)")
    refused = [item for item in changed if item[0].startswith(_LEARNING_KEYS) and item[0] not in allowed]
    if refused:
        keys = ",".join(k for k, _, _ in refused)
        raise ConfigError(
            f"cannot resume {path} with " + ", ".join(f"{k}={new!r} (it was trained with {old!r})"
                                                       for k, old, new in refused)
            + f": that changes what the model learns from. Resume with the old values, start a new run, or accept "
            f"the change with --set runtime.resume_allow=[{keys}]")
    return [f"{k} {old!r} -> {new!r}" for k, old, new in changed]


def _differences(saved: dict, now: dict, prefix: str) -> list[tuple[str, Any, Any]]:
    found = []
    for key, value in now.items():
        if key not in saved:
            continue
        before = saved[key]
        if isinstance(value, dict) and isinstance(before, dict):
            found += _differences(before, value, f"{prefix}{key}.")
        elif before != value:
            found.append((f"{prefix}{key}", before, value))
    return found


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
