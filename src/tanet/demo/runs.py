"""The demo's training runs: one job = one model on one set with one seed (train, then test once);
jobs run in a few single-threaded worker processes side by side.

Tiny models on 2 cores: independent runs in one-thread processes keep both cores busy without splitting
tiny convolutions over threads (and OpenMP threads of processes that share cores spin against each other:
pretrain-2d with 2 threads on a loaded machine took 273 s for an epoch that took 7-10 s with one). Each worker decodes every clip once and keeps it in
memory (``data.backend=memory``), so later epochs and runs of that worker read no video file.
"""
from __future__ import annotations

import contextlib
import io
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from tanet.engine.parallel import run_jobs

__all__ = ["MODELS", "KINDS", "DEPTH_WIDTHS", "demo_models", "DemoPlan", "DEFAULT_PLAN", "QUICK_PLAN", "Job",
           "train_config", "run_job", "run_jobs", "pair_accuracies"]

KINDS = ("motion", "appearance")
# the width each depth trains at in the demo (the recipe's model.width is overridden): what fits its budget
DEPTH_WIDTHS = {18: 0.25, 26: 0.125}


def demo_models(depth: int) -> dict:
    """Short name in metrics.json -> registered model, for ResNet-``depth``. Bottleneck depths get the paper's
    I3D 3×1×1 (every bottleneck's conv1 inflated); BasicBlock depths (18, 34), which have no 1×1 conv, I3D 3×3×3."""
    i3d = f"i3d333_r{depth}" if depth in (18, 34) else f"i3d311_r{depth}"
    return {"tanet": f"tanet_r{depth}", "tsn": f"tsn_r{depth}", "tsm": f"tsm_r{depth}", "i3d": i3d}


MODELS = demo_models(26)  # the default plan's


@dataclass(frozen=True)
class DemoPlan:
    """What sets the demo's size. The training settings, the same for every model of a set, are the
    shipped recipes (their epochs included); the rest is the sets', the 2D pretraining's and the kernel
    analysis' size."""

    recipe: str  # the pretrained protocol's shipped recipe (configs/<recipe>.yaml)
    scratch_recipe: Optional[str] = None  # the scratch protocol's (None: ``recipe``)
    depth: int = 18  # the ResNet of every model (and of the 2D start), at DEPTH_WIDTHS[depth]
    seeds: int = 3
    # the appearance set's classes (None: the preset's); 6 keeps its epochs as cheap as the motion set's
    appearance_classes: Optional[int] = None
    motion_classes: Optional[int] = None
    epochs: Optional[int] = None  # overrides the recipe's epochs (``--epochs``)
    pretrain: dict = field(default_factory=dict)  # Pretrain2DOptions fields (depth and width follow the models)
    kernel_videos: int = 64
    kernel_blocks: tuple = ("layer3.1", "layer4.1")
    jobs: int = 2  # worker processes

    @property
    def models(self) -> dict:
        return demo_models(self.depth)

    @property
    def width(self) -> float:
        return DEPTH_WIDTHS[self.depth]

    def recipe_for(self, pretrained: bool) -> str:
        return self.recipe if pretrained or self.scratch_recipe is None else self.scratch_recipe


DEFAULT_PLAN = DemoPlan(recipe="demo_pretrained", scratch_recipe="demo", depth=26, seeds=5, appearance_classes=6)
QUICK_PLAN = DemoPlan(recipe="demo_quick", depth=26, seeds=2, appearance_classes=4, motion_classes=4, kernel_videos=12, jobs=1,
                      pretrain=dict(per_class=4, val_per_class=2, image_size=48, crop=40, epochs=1, batch_size=32))


@dataclass(frozen=True)
class Job:
    """One run: ``model`` (short name) on ``kind`` with training seed ``seed``."""

    kind: str
    model: str
    seed: int
    run_dir: str
    overrides: tuple  # recipe overrides (key=value)
    recipe: str


def train_config(plan: DemoPlan, kind: str, model_name: str, out: Path, seed: int, *, pretrained: Optional[str],
                 data_seed: int = 0):
    """The recipe of one run (``pretrained``: a 2D weights file, or None from scratch)."""
    from tanet.engine.config import load_config

    return load_config(plan.recipe_for(pretrained is not None),
                       job_overrides(plan, kind, model_name, out, seed, pretrained=pretrained, data_seed=data_seed))


def job_overrides(plan: DemoPlan, kind: str, model_name: str, out: Path, seed: int, *, pretrained: Optional[str],
                  data_seed: int = 0) -> list[str]:
    overrides = [
        f"model.name={model_name}", f"data.synthetic.kind={kind}", f"data.synthetic.seed={data_seed}",
        # no validation during training: each run is tested once afterwards (test_checkpoint), which also
        # gives the confusion matrix the pair accuracies need
        "data.synthetic.validate=false",
        # decode every clip once per worker process, and no loader process beside the worker
        "data.backend=memory", "data.num_workers=0",
        f"model.width={plan.width}",
        f"runtime.out='{out}'", f"runtime.seed={seed}", "runtime.resume=auto", "runtime.progress=false",
        "runtime.num_threads=1", "runtime.tensorboard=false",
    ]
    classes = plan.appearance_classes if kind == "appearance" else plan.motion_classes
    if classes is not None:
        overrides.append(f"data.synthetic.num_classes={classes}")
    overrides.append("model.pretrained=scratch" if pretrained is None else f"model.pretrained='{pretrained}'")
    if plan.epochs is not None:
        overrides.append(f"schedule.epochs={plan.epochs}")
    return overrides


def pair_accuracies(confusion) -> Optional[dict]:
    """For the motion set's class pairs (a class and its time reversal, adjacent indices):
    how often the pair is right, and how often the class is right when the pair is.

    A model blind to temporal order scores about 50 % within pairs.
    """
    import torch

    confusion = torch.as_tensor(confusion, dtype=torch.float64)
    if confusion.shape[0] % 2:
        return None
    pair_of = torch.arange(confusion.shape[0]) // 2
    same_pair = confusion[pair_of[:, None] == pair_of[None, :]].sum()
    total, correct = confusion.sum(), confusion.diag().sum()
    if total == 0 or same_pair == 0:
        return None
    return {"pair_top1": float(100 * same_pair / total), "within_pair_top1": float(100 * correct / same_pair)}


# per process: the digest of each set's decoded clips, computed once from the frames this process decoded
_CLIPS_DIGESTS: dict = {}


def _clips_digest(dataset) -> dict:
    """The fingerprint's hash of a set's decoded clips, read from this process's memory cache (the runs decoded
    every clip of the set already: no second decode)."""
    from tanet.demo.fingerprint import decoded_clips_digest

    key = str(dataset.root)
    if key not in _CLIPS_DIGESTS:
        _CLIPS_DIGESTS[key] = decoded_clips_digest([dataset.train_list, dataset.val_list], dataset.root,
                                                   backend="memory")
    return _CLIPS_DIGESTS[key]


def run_job(job: Job) -> dict:
    """Train and test one run (its console output goes to ``run_dir/console.txt``); the row for metrics.json."""
    import json

    import torch

    from tanet.data.memory import memory_cache_info
    from tanet.engine.config import load_config
    from tanet.engine.testing import test_checkpoint
    from tanet.engine.trainer import train

    torch.set_num_threads(1)
    run_dir = Path(job.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    result_path = run_dir / "result.json"
    if result_path.is_file():  # finished before (a rerun with the same --out)
        try:
            return {**json.loads(result_path.read_text()), "reused": True}
        except ValueError:
            pass
    config = load_config(job.recipe, list(job.overrides))
    console = io.StringIO()
    misses_before = memory_cache_info()["misses"]
    started = time.perf_counter()
    with contextlib.redirect_stdout(console):
        result = train(config)
        trained = time.perf_counter()
        from tanet.engine.builders import synthetic_set

        dataset = synthetic_set(config)
        metrics = test_checkpoint(result.last_checkpoint, dataset.val_list, str(dataset.root), out=run_dir / "test",
                                  protocol="efficient", batch_size=config.data.batch_size, device="cpu",
                                  progress=False)
    tested = time.perf_counter()
    from tanet.demo.fingerprint import recipe_digest, run_environment

    (run_dir / "console.txt").write_text(console.getvalue())
    row = {
        "kind": job.kind, "model": job.model, "seed": job.seed, "run_dir": str(run_dir),
        "top1": float(metrics["top1"]), "top5": float(metrics["top5"]),
        "mean_class_acc": float(metrics["mean_class_acc"]),
        "train_seconds": round(trained - started, 2), "test_seconds": round(tested - trained, 2),
        "epoch_seconds": [round(r.get("epoch_time_s", 0.0), 2) for r in result.history],
        "decoded_files": memory_cache_info()["misses"] - misses_before,
        "history": [{k: r[k] for k in ("epoch", "train_loss", "train_top1", "lr") if k in r} for r in result.history],
        "checkpoint": str(result.last_checkpoint), "confusion_png": str(run_dir / "test" / "confusion.png"),
        "environment": run_environment(), "clips_digest": _clips_digest(dataset), "recipe_digest": recipe_digest(config),
    }
    if job.kind == "motion":
        pairs = pair_accuracies(metrics["confusion"])
        if pairs:
            row.update(pairs)
    from tanet.utils.io import atomic_write_json

    atomic_write_json(result_path, row)
    return row
