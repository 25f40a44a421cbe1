"""``tanet demo``: the paper's central claim, measured on a laptop CPU in minutes, over several seeds.

Generates the built-in motion ("Something-Something-like") and appearance ("Kinetics-like") sets (cached),
and — the paper's protocol — a shared 2D start: a ResNet-18 trained on the built-in still images
(``tanet pretrain-2d``, cached) from which every video model is initialised as from ImageNet (TAM fresh,
TSM shifting the pretrained features, I3D inflating the 2D kernels). Then it trains TANet, TSN, TSM and
I3D (``i3d333_r18``: 3×3×3 convs) on each set with every seed, tests each run once, probes each seed's
TAM and I3D kernels, and writes a run folder:

* ``metrics.json`` — per set and model ``{"top1": mean, "top1_std": …, "top1_seeds": […], "top5": …}``
  (percent), ``"claims"``: ``[{"name", "verdict", "interval", …}]``, the models' cost and the timing;
* ``report.md`` — tables, claims with intervals, curves, accuracy chart, links to every run, the time;
* ``runs/<set>/<model>/seed<k>/`` — every training run (config, checkpoints, log) and its ``test/``;
* ``kernels/seed<k>/`` — the kernel analysis of each seed.

``protocol="scratch"`` trains every model from random weights instead (the recipe's epochs). The training
recipe is the shipped ``configs/demo.yaml`` (``demo_quick.yaml`` for ``--quick``). A rerun with the same
``out`` reuses finished runs.
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Sequence

from tanet.demo.runs import DEFAULT_PLAN, KINDS, MODELS, QUICK_PLAN, DemoPlan, Job, job_overrides, pair_accuracies, \
    run_job, run_jobs, train_config

__all__ = ["DemoPlan", "DEFAULT_PLAN", "QUICK_PLAN", "PROTOCOLS", "run_demo", "pair_accuracies", "MODELS", "KINDS"]

PROTOCOLS = ("pretrained", "scratch")


def _load() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "?"


def kernel_job(task: dict) -> dict:
    """The kernel analysis of one seed (in a worker): its summary (no arrays) and the claim values."""
    import torch

    from tanet.analysis.kernels import KernelDataset, analyse_kernels
    from tanet.analysis.kernels.statistics import kernel_claim_values

    torch.set_num_threads(1)
    summary = analyse_kernels([KernelDataset(**d) for d in task["datasets"]], list(task["blocks"]), task["out"],
                              max_videos=task["max_videos"], progress=False, figures=task["figures"])
    summary.pop("arrays", None)
    return {"seed": task["seed"], "values": kernel_claim_values(summary)}


def _costs(plan: DemoPlan, models: Sequence[str], num_classes: int) -> dict:
    """Params, GFLOPs and single-threaded CPU latency of one clip per model."""
    import torch

    from tanet.analysis.flops import complexity
    from tanet.engine.builders import model_options
    from tanet.factory import create_model

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    costs = {}
    try:
        for short in models:
            config = train_config(plan, "motion", MODELS[short], Path("."), 0, pretrained=None)
            model = create_model(config.model.name, num_classes=num_classes, **model_options(config)).eval()
            cost = complexity(model, config.model.num_segments, config.data.size)
            clip = torch.randn(1, 3, config.model.num_segments, config.data.size, config.data.size)
            times = []
            with torch.no_grad():
                for repeat in range(12):
                    started = time.perf_counter()
                    model(clip)
                    if repeat >= 2:
                        times.append(time.perf_counter() - started)
            costs[short] = {"params_m": round(cost.mparams, 4), "gflops": round(cost.gflops, 5),
                            "latency_ms": round(1000 * sorted(times)[len(times) // 2], 2)}
    finally:
        torch.set_num_threads(threads)
    return costs


def run_demo(
    out: str | Path = "runs/demo",
    *,
    plan: DemoPlan = DEFAULT_PLAN,
    protocol: str = "pretrained",
    first_seed: int = 0,
    data_seed: int = 0,
    kernels: bool = True,
    progress: bool = True,
    models: Sequence[str] = tuple(MODELS),
    command: str = "tanet demo",
) -> dict:
    """Run the whole demo; returns the metrics written to ``metrics.json``."""
    from tanet.analysis.evidence import HELD
    from tanet.demo.report import write_accuracy_chart, write_curves, write_report
    from tanet.demo.summary import accuracy_claims, aggregate, kernel_claims
    from tanet.engine.builders import synthetic_set
    from tanet.engine.pretrain2d import Pretrain2DOptions, ensure_pretrained_2d
    from tanet.utils.io import atomic_write_json

    unknown = [name for name in models if name not in MODELS]
    if unknown or "tanet" not in models or "tsn" not in models:
        raise ValueError(f"models must include tanet and tsn and come from {list(MODELS)}, got {list(models)}")
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
    if plan.seeds < 1:
        raise ValueError(f"seeds must be >= 1, got {plan.seeds}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    started, load_start = time.perf_counter(), _load()
    phases: dict[str, float] = {}

    def phase_done(name: str, since: float) -> float:
        now = time.perf_counter()
        phases[name] = round(now - since, 1)
        return now

    mark = started
    datasets = {}
    for kind in KINDS:
        print(f"[data] {kind} set", flush=True)
        datasets[kind] = synthetic_set(train_config(plan, kind, MODELS["tanet"], out, 0, pretrained=None,
                                                    data_seed=data_seed))
        print(f"       {datasets[kind].summary()}", flush=True)
    mark = phase_done("data sets (render or read the cache)", mark)

    recipe = train_config(plan, "motion", MODELS["tanet"], out, 0, pretrained=None)
    pretrain = None
    if protocol == "pretrained":
        options = Pretrain2DOptions(depth=18, width=recipe.model.width, **plan.pretrain)
        path, summary = ensure_pretrained_2d(options, log=lambda text: print(f"[pretrain-2d] {text}", flush=True))
        pretrain = {**summary, "path": str(path)}
        print(f"[pretrain-2d] {'cached' if summary.get('cached') else 'trained'}: {path} "
              f"(val top-1 {summary['val_top1']:.1f} %)", flush=True)
        mark = phase_done("2D pretraining (pretrain-2d)" + (", cached" if summary.get("cached") else ""), mark)

    seeds = list(range(first_seed, first_seed + plan.seeds))
    # longest first: the motion set (twice the clips), then the heavier models
    order = sorted(((kind, short, seed) for seed in seeds for kind in KINDS for short in models),
                   key=lambda item: (KINDS.index(item[0]), ["i3d", "tanet", "tsm", "tsn"].index(item[1])
                                     if item[1] in ("i3d", "tanet", "tsm", "tsn") else 9, item[2]))
    jobs = [Job(kind, short, seed, str(out / "runs" / kind / short / f"seed{seed}"),
                tuple(job_overrides(plan, kind, MODELS[short], out / "runs" / kind / short / f"seed{seed}", seed,
                                    pretrained=None if pretrain is None else pretrain["path"], data_seed=data_seed)),
                plan.recipe) for kind, short, seed in order]
    done = []

    def report_run(job: Job, row: dict) -> None:
        done.append(row)
        reused = " (finished before)" if row.get("reused") else f" ({row['train_seconds']:.0f} s)"
        print(f"[{len(done)}/{len(jobs)}] {job.kind} set, {MODELS[job.model]}, seed {job.seed}: "
              f"top-1 {row['top1']:.1f} %{reused}", flush=True)

    print(f"[runs] {len(jobs)} runs ({len(models)} models x {len(KINDS)} sets x {len(seeds)} seeds, {protocol}) "
          f"in {plan.jobs} process(es)", flush=True)
    rows = run_jobs(run_job, jobs, plan.jobs, on_result=report_run)
    mark = phase_done(f"training and testing {len(jobs)} runs ({plan.jobs} processes)", mark)

    metrics = aggregate(rows, KINDS, models)
    chance = {kind: 100.0 / len(datasets[kind].class_names) for kind in KINDS}
    claims = accuracy_claims(metrics)
    found_kernel_claims = []
    if kernels and "i3d" in models:
        print("[kernels] probing the learned TAM and I3D kernels of every seed", flush=True)
        by_cell = {(r["kind"], r["model"], r["seed"]): r for r in rows}
        tasks = [{"seed": seed, "out": str(out / "kernels" / f"seed{seed}"), "blocks": tuple(plan.kernel_blocks),
                  "max_videos": plan.kernel_videos, "figures": seed == seeds[0],
                  "datasets": [{"name": kind, "checkpoint": by_cell[(kind, "tanet", seed)]["checkpoint"],
                                "list_file": str(datasets[kind].val_list), "root": str(datasets[kind].root),
                                "i3d_checkpoint": by_cell[(kind, "i3d", seed)]["checkpoint"]} for kind in KINDS]}
                 for seed in seeds]
        results = run_jobs(kernel_job, tasks, plan.jobs)
        found_kernel_claims = kernel_claims([r["values"] for r in results])
        mark = phase_done("kernel analysis (every seed)", mark)

    costs = _costs(plan, models, len(datasets["motion"].class_names))
    write_curves(rows, KINDS, models, out / "curves.png")
    write_accuracy_chart(metrics, KINDS, chance, out / "accuracy.png")
    phase_done("model cost, figures and report", mark)
    total = time.perf_counter() - started
    timing = {"phases": phases, "total_s": round(total, 1), "load_start": load_start, "load_end": _load(),
              "runs": len(rows), "jobs": plan.jobs, "run_train_s": sum(r["train_seconds"] for r in rows),
              "run_test_s": sum(r["test_seconds"] for r in rows),
              "decoded_files": sum(r.get("decoded_files", 0) for r in rows)}
    if protocol == "pretrained":
        protocol_text = (f"Protocol **pretrained** (the paper's): every model starts from the same 2D ResNet-18 "
                         f"(width {recipe.model.width:g}) trained on the built-in still images; TAM starts fresh, TSM "
                         f"shifts, I3D inflates the 2D kernels (centre tap). {plan.pretrained_epochs} epochs.")
    else:
        protocol_text = (f"Protocol **scratch**: every model starts from random weights; "
                         f"{plan.epochs or recipe.schedule.epochs} epochs.")
    m, d, o = recipe.model, recipe.data, recipe.optim
    protocol_text += (f" Each model: ResNet-18 at width {m.width}, {m.num_segments} frames ({d.size}×{d.size}), "
                      f"{o.name} lr {o.lr}, batch {d.batch_size}; tested with 1 clip × centre crop on the held-out clips.")
    metrics_out = {**metrics, "protocol": protocol, "seeds": seeds,
                   "claims": [c.to_dict() for c in claims + found_kernel_claims],
                   "models": costs, "chance": chance, "timing": timing,
                   "pretrained_2d": None if pretrain is None else {k: pretrain[k] for k in
                                                                   ("path", "options", "val_top1", "chance")}}
    atomic_write_json(out / "metrics.json", metrics_out)
    write_report(out, command=command, protocol_text=protocol_text, datasets=datasets, metrics=metrics,
                 models={s: MODELS[s] for s in models}, rows=rows, claims=claims, kernel_claims=found_kernel_claims,
                 costs=costs, timing=timing, chance=chance, kernel_blocks=plan.kernel_blocks, pretrain=pretrain)
    from tanet.demo.report import accuracy_table

    print()
    print(accuracy_table(metrics, {s: MODELS[s] for s in models}))
    print()
    for c in claims + found_kernel_claims:
        print(c.line())
    print("\nwhere the time went:")
    for name, seconds in phases.items():
        print(f"  {seconds:7.1f} s  {name}")
    print(f"  {total:7.1f} s  total (load average {load_start} at the start, {timing['load_end']} at the end)")
    held = sum(c.verdict == HELD for c in claims)
    print(f"\n{held}/{len(claims)} accuracy claims held; report: {out / 'report.md'}  ({total / 60:.1f} min)")
    return metrics_out
