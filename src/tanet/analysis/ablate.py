"""The paper's ablations on a budget: train and test a grid of variants of one recipe.

Python API::

    from tanet.engine import load_config
    from tanet.analysis.ablate import parse_grid, run_ablation
    base = load_config("configs/cpu_small.yaml", ["data.root=...", "data.train_list=...", "data.val_list=..."])
    results = run_ablation(base, [parse_grid("tam_position=a,b,c,d"), parse_grid("tam_branches=local,global,both")],
                           "runs/ablate")

Every ``--grid KEY=V1,V2,...`` is one axis. Axes are separate one-axis sweeps around the base recipe
(the paper's tables), or their Cartesian product with ``product=True``. Keys: the TAM options
``tam_position`` (alias ``style``), ``tam_branches`` (``branches``), ``tam_alpha`` (``alpha``),
``tam_beta`` (``beta``), ``tam_kernel_size`` (``K``), ``temporal_stages`` (``stages``; values are digit
strings, ``234`` = layers 2-4), or any recipe key ``section.key`` (``model.name``, ``optim.lr`` ...).

Each row trains with the engine's :func:`~tanet.engine.train` into ``out/runs/<row>-<hash>/train``
(``resume=auto``: a killed row continues from its last epoch), is tested on the validation list with
:func:`~tanet.engine.testing.test_checkpoint` (the final weights, not the best epoch: the validation
list is the test list here), and leaves ``result.json``; a rerun skips rows whose result exists. Rows
whose resolved recipes are identical (e.g. the base value of two sweeps) are trained once. The table
goes to ``ablation.md`` and ``ablation.csv``.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence, Union

import yaml
from torch import nn

from tanet.analysis.ablation_results import MODEL_OPTIONS, AblationResult
from tanet.analysis.ablation_tables import ablation_claims, format_table, paper_choice, write_tables
from tanet.analysis.flops import complexity
from tanet.engine.builders import build_model, model_options, synthetic_set
from tanet.engine.resolve import resolve_training
from tanet.engine.parallel import run_jobs
from tanet.engine.config import ConfigError, TrainConfig, set_key, valid_keys
from tanet.engine.testing import test_checkpoint
from tanet.engine.trainer import train
from tanet.models import build_model as create_architecture
from tanet.utils.io import atomic_write_json

__all__ = ["GridAxis", "AblationRow", "AblationResult", "parse_grid", "expand_grid", "row_config",
           "run_ablation", "format_table", "write_tables", "ablation_claims", "paper_choice", "MODEL_OPTIONS", "PlannedRow",
           "plan_rows", "row_dir", "resolve_synthetic"]

# Short aliases of the paper's knobs (MODEL_OPTIONS: the model.temporal section, usable as bare grid keys).
ALIASES = {"style": "tam_position", "position": "tam_position", "branches": "tam_branches", "alpha": "tam_alpha",
           "beta": "tam_beta", "K": "tam_kernel_size", "kernel_size": "tam_kernel_size", "stages": "temporal_stages"}
# runtime keys that do not change what a row computes (left out of its identity hash)
_NOT_IDENTITY = ("out", "resume", "progress", "tensorboard", "log_every")


@dataclass(frozen=True)
class GridAxis:
    """One ablation axis: a config key and the values it takes."""

    key: str
    values: tuple

    def __post_init__(self) -> None:
        if not self.values:
            raise ConfigError(f"--grid {self.key}: give at least one value")


@dataclass(frozen=True)
class AblationRow:
    """One variant: the sweep it belongs to and the keys it changes."""

    sweep: str
    overrides: tuple  # ((key, value), ...)

    @property
    def label(self) -> str:
        return ", ".join(f"{key}={_show(value)}" for key, value in self.overrides) or "base"


def _show(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "".join(str(v) for v in value) if all(isinstance(v, int) and 0 <= v <= 9 for v in value) \
            else "[" + ",".join(str(v) for v in value) + "]"
    return str(value)


# ------------------------------------------------------------------------------------------ grids

def canonical_key(key: str) -> str:
    """``alpha`` -> ``tam_alpha``; ``section.key`` is checked against the recipe's keys."""
    key = key.strip()
    key = ALIASES.get(key, key)
    if key in MODEL_OPTIONS:
        return key
    if key in valid_keys():
        return key.removeprefix("model.temporal.")
    raise ConfigError(
        f"unknown grid key {key!r}; use a TAM option ({', '.join(MODEL_OPTIONS)}; aliases "
        f"{', '.join(f'{a}={k}' for a, k in ALIASES.items())}) or a recipe key section.key: {', '.join(valid_keys())}"
    )


def _parse_value(key: str, text: str) -> Any:
    text = text.strip()
    if key == "temporal_stages":
        digits = text.replace("+", "").replace(" ", "")
        if not digits or not digits.isdigit() or any(d not in "1234" for d in digits) or len(set(digits)) != len(digits):
            raise ConfigError(f"temporal_stages value {text!r}: write the layers as digits, e.g. 1234, 234 or 4")
        return sorted(int(d) for d in digits)
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def parse_grid(spec: str) -> GridAxis:
    """``"tam_position=a,b,c,d"`` -> GridAxis("tam_position", ("a", "b", "c", "d")); values are YAML scalars."""
    if "=" not in spec:
        raise ConfigError(f"--grid {spec!r}: expected KEY=V1,V2,... (e.g. tam_position=a,b,c,d)")
    raw_key, raw_values = spec.split("=", 1)
    key = canonical_key(raw_key)
    values = tuple(_parse_value(key, text) for text in raw_values.split(",") if text.strip())
    return GridAxis(key, values)


def expand_grid(axes: Sequence[GridAxis], product: bool = False) -> list[AblationRow]:
    """Rows of the grid: one sweep per axis (default) or the Cartesian product of all axes."""
    keys = [axis.key for axis in axes]
    if len(set(keys)) != len(keys):
        raise ConfigError(f"a grid key is given twice: {keys}")
    if product:
        return [AblationRow("product", tuple(zip(keys, combo))) for combo in itertools.product(*(a.values for a in axes))]
    return [AblationRow(axis.key, ((axis.key, value),)) for axis in axes for value in axis.values]


def _set(config: TrainConfig, key: str, value: Any) -> None:
    set_key(config, f"model.temporal.{key}" if key in MODEL_OPTIONS else key, value, source="grid key")


def row_config(base: TrainConfig, row: AblationRow) -> TrainConfig:
    """A copy of ``base`` with the row's keys applied (validated)."""
    config = TrainConfig.from_dict(base.to_dict())
    for key, value in row.overrides:
        _set(config, key, value)
    config.validate()
    return config


def config_hash(config: TrainConfig) -> str:
    """Identity of what a row computes: the resolved recipe without paths and display settings."""
    data = config.to_dict()
    # "tam_position=b" and "tam_branches=both" are both the default model: one recipe, trained once
    data["model"]["temporal"]["temporal_stages"] = sorted(data["model"]["temporal"]["temporal_stages"])
    data["runtime"] = {k: v for k, v in data["runtime"].items() if k not in _NOT_IDENTITY}
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:10]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "-", text).strip("-")[:60] or "base"


# ------------------------------------------------------------------------------------------ running

@dataclass
class PlannedRow:
    row: AblationRow
    config: TrainConfig
    hash: str
    params_m: float
    gflops: float


def plan_rows(base: TrainConfig, rows: Sequence[AblationRow]) -> list[PlannedRow]:
    """Resolve every row and build its model before training anything (a bad row fails early).

    Each row's architecture is built once before the data are rendered or read, so that a row that cannot
    work (TA-Block style c on a BasicBlock ResNet, a width too small to build) is a one-line error at once."""
    for number, row in enumerate(rows, start=1):
        _row_model(base, row, number, placeholder_classes=True)
    base = resolve_synthetic(base)
    if not base.data.train_list or not base.data.val_list:
        raise ConfigError("an ablation needs data.train_list and data.val_list (--train-list, --val-list)")
    planned = []
    for number, row in enumerate(rows, start=1):
        config, model = _row_model(base, row, number)
        cost = complexity(model, config.model.num_segments, config.data.size)
        planned.append(PlannedRow(row, config, config_hash(config), cost.mparams, cost.gflops))
    return planned


def _row_model(base: TrainConfig, row: AblationRow, number: int,
               placeholder_classes: bool = False) -> tuple[TrainConfig, nn.Module]:
    """The row's recipe and its model with fresh weights (the architecture is counted; weights are loaded when it
    trains); ``placeholder_classes``: the architecture alone, built without resolving the recipe (a 2-way
    classifier unless the recipe gives the count: no data set rendered, no class list read, no file loaded)."""
    try:
        config = row_config(base, row)
        if placeholder_classes:
            model = create_architecture(config.model.name, num_classes=config.model.num_classes or 2,
                                        **model_options(config))
        else:
            counted = TrainConfig.from_dict(config.to_dict())
            counted.model.pretrained = "scratch"
            model = build_model(resolve_training(counted))
        return config, model
    except (ConfigError, ValueError, TypeError) as error:
        raise ConfigError(f"ablation row {number} ({row.label}): {error}") from None


def resolve_synthetic(base: TrainConfig) -> TrainConfig:
    """A recipe on a built-in set (``data.synthetic.kind``) with its lists filled in: train on the train split,
    test on the val split once after training (no validation during training: the test is that pass)."""
    if base.data.synthetic.kind is None:
        return base
    config = TrainConfig.from_dict(base.to_dict())
    dataset, d = synthetic_set(config), config.data
    d.root = d.root or str(dataset.root)
    d.train_list = d.train_list or str(dataset.train_list)
    d.val_list = d.val_list or str(dataset.val_list)
    d.class_names = d.class_names or str(dataset.classes_file)
    d.synthetic.validate = False
    return config


def row_dir(out: Path, planned: PlannedRow) -> Path:
    existing = sorted((out / "runs").glob(f"*-{planned.hash}"))
    return existing[0] if existing else out / "runs" / f"{_slug(planned.row.label)}-{planned.hash}"


def _read_result(path: Path) -> Optional[dict]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and "top1" in data else None


def _train_row(task: dict) -> dict:
    """Train and test one row with one seed (in this process or a worker); writes and returns its result."""
    config = TrainConfig.from_dict(task["config"])
    folder = Path(task["folder"])
    folder.mkdir(parents=True, exist_ok=True)
    # no validation while training: the row is tested once, on its final weights, right after
    training = TrainConfig.from_dict(config.to_dict())
    training.data.val_list = None
    training.data.synthetic.validate = False
    started = time.perf_counter()
    trained = train(training)
    wall = time.perf_counter() - started
    train_time = sum(record.get("epoch_time_s", 0.0) for record in trained.history) or wall
    d = config.data
    metrics = test_checkpoint(
        trained.last_checkpoint, d.val_list, d.root or None, out=folder / "test", protocol=task["test_protocol"],
        batch_size=d.val_batch_size or d.batch_size, num_workers=d.num_workers, device=config.runtime.device,
        amp=config.runtime.amp, progress=task["progress"],
    )
    result = {**task["fields"], "top1": float(metrics["top1"]), "top5": float(metrics["top5"]),
              "mean_class_acc": float(metrics["mean_class_acc"]), "train_time_s": float(train_time),
              "epochs": len(trained.history), "run_dir": str(folder), "checkpoint": str(trained.last_checkpoint),
              "seed": config.runtime.seed}
    # a row counts as done only once its result is complete
    atomic_write_json(folder / "result.json", {**result, "test_protocol": task["test_protocol"]})
    return result


def run_ablation(
    base_config: TrainConfig,
    grid: Union[Sequence[GridAxis], Sequence[str], dict],
    out_dir: Union[str, os.PathLike],
    *,
    product: bool = False,
    test_protocol: str = "efficient",
    progress: Optional[bool] = None,
    seeds: int = 1,
    jobs: int = 1,
) -> list[AblationResult]:
    """Train and test every row of ``grid`` and write ``ablation.md`` / ``ablation.csv`` to ``out_dir``.

    ``grid``: :class:`GridAxis` objects, ``"key=v1,v2"`` strings, or a mapping ``{key: [values]}``.
    Rows already done (``result.json`` present) are read back instead of retrained. ``seeds`` > 1 trains
    every row with training seeds ``runtime.seed``, +1, ... (``<row>/seed<k>/``); the tables then give
    mean ± sd and, per row, the 95 % interval of its difference to the paper's choice (the base recipe's
    value of the row's sweep), paired by seed. ``jobs`` > 1 trains that many runs side by side in
    single-threaded processes.
    """
    if seeds < 1 or jobs < 1:
        raise ConfigError(f"seeds and jobs must be >= 1, got seeds={seeds}, jobs={jobs}")
    axes = _axes(grid)
    out = Path(out_dir)
    planned = plan_rows(base_config, expand_grid(axes, product))  # every row checked before the data are touched
    base_config = resolve_synthetic(base_config)
    out.mkdir(parents=True, exist_ok=True)
    show = base_config.runtime.progress if progress is None else progress
    first_seed = base_config.runtime.seed
    cells = []  # (number, planned row, seed, folder)
    folders: dict[str, Path] = {}  # rows with identical recipes share one folder
    for number, item in enumerate(planned, start=1):
        folders.setdefault(item.hash, row_dir(out, item))
        for seed in range(first_seed, first_seed + seeds):
            folder = folders[item.hash] if seeds == 1 else folders[item.hash] / f"seed{seed}"
            cells.append((number, item, seed, folder))
    tasks, seen = [], set()
    for number, item, seed, folder in cells:
        if str(folder) in seen or _read_result(folder / "result.json") is not None:
            continue
        seen.add(str(folder))
        config = TrainConfig.from_dict(item.config.to_dict())
        config.runtime.out = str(folder / "train")
        config.runtime.resume = "auto"
        config.runtime.progress = show and jobs == 1
        config.runtime.seed = seed
        if jobs > 1:
            config.runtime.num_threads = 1
        tasks.append({"config": config.to_dict(), "folder": str(folder), "test_protocol": test_protocol,
                      "progress": show and jobs == 1, "label": item.row.label, "number": number,
                      "fields": {"params_m": item.params_m, "gflops": item.gflops, "config_hash": item.hash}})
    total = len(planned)

    def started_or_done(task: dict, result: Optional[dict] = None) -> None:
        head = f"[row {task['number']}/{total}] {task['label']}" + (f" seed {task['config']['runtime']['seed']}"
                                                                    if seeds > 1 else "")
        if result is None:
            print(f"{head}: training {task['config']['model']['name']} -> {task['folder']}", flush=True)
        else:
            print(f"{head}: top-1 {result['top1']:.2f}%  top-5 {result['top5']:.2f}%  "
                  f"({result['train_time_s']:.0f} s training)", flush=True)

    if jobs == 1:
        for task in tasks:
            started_or_done(task)
            started_or_done(task, _train_row(task))
    elif tasks:
        print(f"training {len(tasks)} runs in {jobs} processes", flush=True)
        run_jobs(_train_row, tasks, jobs, on_result=started_or_done)
    trained_now = {task["folder"] for task in tasks}
    results: list[AblationResult] = []
    reported = set()
    for number, item, seed, folder in cells:
        done = _read_result(folder / "result.json")
        if done is None:
            raise ConfigError(f"ablation row {number} ({item.row.label}) seed {seed}: no result in {folder}")
        reused = str(folder) not in trained_now or str(folder) in reported
        reported.add(str(folder))
        done.update(sweep=item.row.sweep, label=item.row.label, overrides=dict(item.row.overrides),
                    params_m=item.params_m, gflops=item.gflops, config_hash=item.hash)
        if reused:
            print(f"[row {number}/{total}] {item.row.label}{f' seed {seed}' if seeds > 1 else ''}: done before, "
                  f"top-1 {done['top1']:.2f}% ({folder})", flush=True)
        results.append(AblationResult(**{k: done[k] for k in AblationResult.__dataclass_fields__ if k in done},
                                      reused=reused))
    write_tables(results, out, base_config, test_protocol)
    return results


def _axes(grid: Union[Sequence[GridAxis], Sequence[str], dict]) -> list[GridAxis]:
    if isinstance(grid, dict):
        axes = []
        for raw_key, values in grid.items():
            key = canonical_key(raw_key)
            axes.append(GridAxis(key, tuple(_parse_value(key, v) if isinstance(v, str) else v for v in values)))
        return axes
    return [axis if isinstance(axis, GridAxis) else parse_grid(axis) for axis in grid]
