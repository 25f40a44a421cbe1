"""Set folders and the cache: writing a set, recognising a finished one, regenerating a damaged one.

A set lives in ``<cache>/<kind>-<hash of spec>`` (the cache is ``$TANET_HOME/synthetic``) or in
a folder of the caller's choosing. It is rendered into a temporary sibling folder and renamed
into place when complete; its ``manifest.json`` records the spec, the generator version and
every file's size, so a set that is outdated or damaged is recognised and rendered again.

Writers of one set take turns: :func:`generate` holds an exclusive lock (``.<set>.lock`` beside the
set) while it checks, renders and moves a set into place, so a second process asking for the same
set waits for the first and then reuses its set instead of rendering it again and replacing the
finished one under a reader. (Only ``force=True`` or a damaged set replaces a finished folder.)
"""
from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

from tanet.data.encode import encode_video, resolve_codec
from tanet.data.labels import flip_label_map
from tanet.errors import UsageError
from tanet.utils.cache import tanet_home
from tanet.utils.locking import FileLock

from .render import render_clip
from .spec import GENERATOR_VERSION, KINDS, PRESETS, SyntheticPreset, SyntheticSpec, video_seed

__all__ = ["MANIFEST", "SyntheticDataset", "dataset_dir", "default_cache_dir", "generate", "synthesize"]

MANIFEST = "manifest.json"
_FORMAT = "tanet-synthetic"
_OWN_ENTRIES = {"train.txt", "val.txt", "classes.txt", "videos", MANIFEST}


@dataclass(frozen=True)
class SyntheticDataset:
    """Where a generated set lives. List paths are relative to ``root``."""

    spec: SyntheticSpec
    root: Path
    train_list: Path
    val_list: Path
    classes_file: Path
    video_dir: Path
    class_names: tuple[str, ...]
    codec: str
    num_train: int
    num_val: int
    reused: bool
    seconds: float

    @property
    def data_root(self) -> Path:
        """Folder the list-file paths are relative to (pass it as the data root)."""
        return self.root

    def flip_label_map(self) -> dict[int, int]:
        """``{label: label of its mirror image}`` for the classes a horizontal flip swaps.

        Left/right and clockwise/counterclockwise pairs of the motion set (the rule of
        :func:`tanet.data.labels.flip_label_map`); ``map.get(label, label)`` applies it.
        """
        return flip_label_map(self.class_names)

    def summary(self) -> str:
        how = "reused from cache" if self.reused else f"generated in {self.seconds:.1f} s"
        s = self.spec
        return (
            f"{s.kind} set: {len(self.class_names)} classes, {self.num_train} train + {self.num_val} val clips "
            f"of {s.frames} frames at {s.size}x{s.size} px, {s.fps} fps, {self.codec} ({how})\n"
            f"  root:    {self.root}\n  train:   {self.train_list}\n  val:     {self.val_list}\n"
            f"  classes: {self.classes_file}"
        )


def default_cache_dir() -> Path:
    """Where generated sets are cached: ``$TANET_HOME/synthetic`` (see :func:`tanet.utils.cache.tanet_home`)."""
    return tanet_home("synthetic")


def dataset_dir(spec: SyntheticSpec, cache_dir: Union[str, Path, None] = None) -> Path:
    """``<cache_dir>/<kind>-<hash of spec>`` (cache_dir defaults to :func:`default_cache_dir`)."""
    base = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    return base / f"{spec.kind}-{spec.fingerprint()}"


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def _plan(spec: SyntheticSpec) -> list[tuple[str, int, int, str]]:
    """(split, label, index, relative path) of every clip, in list-file order."""
    jobs = []
    names = spec.class_names
    for split, per_class in (("train", spec.train_per_class), ("val", spec.val_per_class)):
        for label, name in enumerate(names):
            for index in range(per_class):
                jobs.append((split, label, index, f"videos/{split}/{label:02d}_{_slug(name)}/{index:04d}.mp4"))
    return jobs


def _render_and_encode(spec: SyntheticSpec, codec: str, tmp_root: str, job: tuple[str, int, int, str]) -> tuple[str, int]:
    split, label, index, rel = job
    clip = render_clip(spec, label, video_seed(spec, split, label, index))
    path = Path(tmp_root) / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    encode_video(path, clip.frames, spec.fps, codec=codec, crf=spec.crf)
    return rel, path.stat().st_size


def _read_manifest(root: Path) -> Optional[dict]:
    try:
        manifest = json.loads((root / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) and manifest.get("format") == _FORMAT else None


def _is_complete(root: Path, spec: SyntheticSpec) -> Optional[dict]:
    """The manifest if ``root`` holds a finished set of exactly ``spec``, else None."""
    manifest = _read_manifest(root)
    if manifest is None or manifest.get("version") != GENERATOR_VERSION or manifest.get("spec") != spec.to_dict():
        return None
    for rel, size in manifest.get("files", {}).items():
        try:
            if (root / rel).stat().st_size != size:
                return None
        except OSError:
            return None
    return manifest


def _info(spec: SyntheticSpec, root: Path, manifest: dict, reused: bool, seconds: float) -> SyntheticDataset:
    return SyntheticDataset(
        spec=spec,
        root=root,
        train_list=root / "train.txt",
        val_list=root / "val.txt",
        classes_file=root / "classes.txt",
        video_dir=root / "videos",
        class_names=tuple(manifest["class_names"]),
        codec=manifest["codec"],
        num_train=manifest["num_train"],
        num_val=manifest["num_val"],
        reused=reused,
        seconds=seconds,
    )


def _remove_stale_partials(root: Path) -> None:
    """Delete temp folders of earlier runs for ``root`` whose process is gone."""
    for candidate in root.parent.glob(f".{root.name}.partial-*"):
        try:
            pid = int(candidate.name.rsplit("-", 2)[-2])
        except ValueError:
            continue
        if pid != os.getpid() and _pid_alive(pid):
            continue
        shutil.rmtree(candidate, ignore_errors=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def generate(
    spec: SyntheticSpec,
    root: Union[str, Path, None] = None,
    *,
    cache_dir: Union[str, Path, None] = None,
    force: bool = False,
    workers: int = 1,
    progress: bool = False,
) -> SyntheticDataset:
    """Render ``spec`` to ``root`` (default :func:`dataset_dir`), or reuse a finished copy.

    The set is written to a temporary sibling folder and renamed into place only when all
    videos, list files and the manifest (spec, generator version, file sizes) are written,
    so an interrupted run never leaves a set that looks usable. A folder whose manifest does
    not match ``spec`` or whose files are missing or have the wrong size is regenerated; a
    non-empty folder that is not a generated set raises :class:`FileExistsError`.

    Args:
        workers: processes rendering in parallel (the output is identical for any number).
        progress: print a progress bar (tqdm) to stderr.
    """
    root = Path(root).expanduser() if root is not None else dataset_dir(spec, cache_dir)
    start = time.perf_counter()
    if not force:
        manifest = _is_complete(root, spec)
        if manifest is not None:
            return _info(spec, root, manifest, reused=True, seconds=time.perf_counter() - start)
    waited = []

    def on_wait(holder: Optional[int]) -> None:
        waited.append(holder)
        print(f"waiting for {'process ' + str(holder) if holder else 'another process'}, which is writing "
              f"the synthetic set {root}", file=sys.stderr, flush=True)

    with FileLock(root.parent / f".{root.name}.lock", what=f"synthetic set {root}", blocking=True, on_wait=on_wait):
        # Whoever held the lock may just have written this very set (for `force` too: it is fresh).
        manifest = _is_complete(root, spec) if (waited or not force) else None
        if manifest is not None:
            return _info(spec, root, manifest, reused=True, seconds=time.perf_counter() - start)
        return _generate_locked(spec, root, start, workers, progress)


def _generate_locked(spec: SyntheticSpec, root: Path, start: float, workers: int, progress: bool) -> SyntheticDataset:
    if root.exists():
        if not root.is_dir():
            raise FileExistsError(f"{root} exists and is not a folder")
        foreign = sorted(p.name for p in root.iterdir() if p.name not in _OWN_ENTRIES)
        if foreign:
            raise FileExistsError(
                f"{root} is not a tanet synthetic data set (it contains {', '.join(foreign[:5])}); "
                "refusing to overwrite it"
            )
    root.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_partials(root)

    codec = resolve_codec(spec.codec)
    tmp = root.parent / f".{root.name}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        jobs = _plan(spec)
        sizes = dict(_run_jobs(spec, codec, tmp, jobs, workers, progress))
        names = spec.class_names
        lists = {"train": [], "val": []}
        for split, label, _, rel in jobs:
            lists[split].append(f"{rel} {label}\n")
        for split, lines in lists.items():
            (tmp / f"{split}.txt").write_text("".join(lines))
        (tmp / "classes.txt").write_text("".join(f"{name}\n" for name in names))
        files = dict(sizes)
        for name in ("train.txt", "val.txt", "classes.txt"):
            files[name] = (tmp / name).stat().st_size
        import av

        manifest = {
            "format": _FORMAT,
            "version": GENERATOR_VERSION,
            "spec": spec.to_dict(),
            "codec": codec,
            "pyav": av.__version__,
            "class_names": names,
            "num_train": len(lists["train"]),
            "num_val": len(lists["val"]),
            "files": files,
        }
        # The manifest is written last: its presence marks a finished set.
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
        _move_into_place(tmp, root, spec)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    manifest = _is_complete(root, spec)
    if manifest is None:  # pragma: no cover - only if the folder was changed under us
        raise RuntimeError(f"generated synthetic set at {root} is incomplete")
    return _info(spec, root, manifest, reused=False, seconds=time.perf_counter() - start)


def _move_into_place(tmp: Path, root: Path, spec: SyntheticSpec) -> None:
    if root.exists():
        # An outdated or damaged set: move it aside first so `root` is never half-written.
        trash = root.parent / f".{root.name}.partial-{os.getpid()}-old{uuid.uuid4().hex[:8]}"
        os.rename(root, trash)
        shutil.rmtree(trash, ignore_errors=True)
    try:
        os.rename(tmp, root)
    except OSError:
        # Another process finished the same set first; keep theirs if it is complete.
        if _is_complete(root, spec) is None:
            raise


def _run_jobs(spec, codec, tmp, jobs, workers, progress):
    """Render and encode ``jobs`` into ``tmp``, yielding ``(relative path, size)`` in job order."""
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(jobs), desc=f"rendering {spec.kind} set", unit="clip", file=sys.stderr)
    try:
        if workers <= 1:
            for job in jobs:
                yield _render_and_encode(spec, codec, str(tmp), job)
                if bar is not None:
                    bar.update()
        else:
            from concurrent.futures import ProcessPoolExecutor
            from functools import partial

            work = partial(_render_and_encode, spec, codec, str(tmp))
            with ProcessPoolExecutor(max_workers=workers) as pool:
                for result in pool.map(work, jobs, chunksize=8):
                    yield result
                    if bar is not None:
                        bar.update()
    finally:
        if bar is not None:
            bar.close()


# What ``synthesize`` accepts as overrides: every spec field but the kind, which it sets itself.
_OVERRIDABLE = frozenset(f.name for f in dataclasses.fields(SyntheticSpec)) - {"kind"}


def synthesize(
    kind: str = "both",
    *,
    preset: Union[str, SyntheticPreset] = "default",
    out: Union[str, Path, None] = None,
    force: bool = False,
    workers: int = 1,
    progress: bool = False,
    **spec_overrides,
) -> list[SyntheticDataset]:
    """Generate (or reuse) the built-in set of ``kind``: ``"motion"``, ``"appearance"`` or ``"both"``.

    Args:
        preset: ``"default"`` or ``"quick"`` (see :data:`PRESETS`), or a :class:`SyntheticPreset`.
        out: parent folder of the sets (default :func:`default_cache_dir`); each set is a
            sub-folder named by :func:`dataset_dir`.
        force: render again even where a finished copy exists.
        workers: processes rendering in parallel (the output is identical for any number).
        progress: print a progress bar (tqdm) to stderr.
        spec_overrides: :class:`SyntheticSpec` fields (``seed``, ``size``, ``frames``,
            ``num_classes``, ...) that replace the preset's values; None keeps the preset's.

    Returns one :class:`SyntheticDataset` per kind (motion first for ``"both"``). Raises
    :class:`~tanet.errors.UsageError` for an unknown kind, preset or field, or a value the spec
    rejects, before anything is rendered.
    """
    if kind != "both" and kind not in KINDS:
        raise UsageError(f"kind must be 'both' or one of {KINDS}, got {kind!r}")
    if isinstance(preset, str):
        if preset not in PRESETS:
            raise UsageError(f"unknown preset {preset!r}; choose from {', '.join(PRESETS)}")
        preset = PRESETS[preset]
    unknown = sorted(set(spec_overrides) - _OVERRIDABLE)
    if unknown:
        raise UsageError(f"unknown SyntheticSpec field(s) {', '.join(unknown)}; "
                         f"valid: {', '.join(sorted(_OVERRIDABLE))}")
    if workers < 1:
        raise UsageError(f"workers must be >= 1, got {workers}")
    specs = [preset.spec(k, **spec_overrides) for k in (KINDS if kind == "both" else (kind,))]
    return [generate(spec, cache_dir=out, force=force, workers=workers, progress=progress) for spec in specs]
