"""``tanet demo``: the paper's central claim, measured on a laptop CPU in minutes, over several seeds.

Generates the built-in motion ("Something-Something-like") and appearance ("Kinetics-like") sets (cached),
and — the paper's protocol — a shared 2D start: a ResNet-26 (Bottleneck blocks, width 1/8) trained on the
built-in still images (``tanet pretrain-2d``, cached) from which every video model is initialised as from
ImageNet (TAM fresh, TSM shifting the pretrained features, I3D inflating the 2D kernels). Then it trains
TANet (style b), TSN, TSM and the paper's I3D 3×1×1 (``i3d311_r26``: every bottleneck's first conv inflated)
on each set with every seed (``--depth 18``: the BasicBlock ResNet-18 and I3D 3×3×3), tests each run once,
probes each seed's TAM and I3D kernels, and writes a run folder:

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
from typing import Optional, Sequence

from tanet.errors import TanetError

from tanet.demo.runs import DEFAULT_PLAN, KINDS, MODELS, QUICK_PLAN, DemoPlan, Job, demo_models, job_overrides, \
    pair_accuracies, run_job, train_config

__all__ = ["DemoPlan", "DEFAULT_PLAN", "QUICK_PLAN", "PROTOCOLS", "run_demo", "pair_accuracies", "MODELS", "KINDS",
           "demo_models"]

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


def pretrain_job(options) -> tuple[str, dict]:
    """The shared 2D start (in a worker): trained once, then read from the cache."""
    from tanet.engine.pretrain2d import ensure_pretrained_2d

    path, summary = ensure_pretrained_2d(options, log=lambda text: print(f"[pretrain-2d] {text}", flush=True))
    return str(path), summary


def warm_job(datasets: list) -> dict:
    """Decode every clip of the sets into this worker's memory cache (while another worker trains the 2D start):
    its runs then read no video file. Returns the sets' clip digests (the fingerprint's)."""
    from tanet.demo.fingerprint import decoded_clips_digest

    return {kind: decoded_clips_digest(lists, root, backend="memory") for kind, lists, root in datasets}


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
            config = train_config(plan, "motion", plan.models[short], Path("."), 0, pretrained=None)
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


def _render_sets(plan: DemoPlan, out: Path, data_seed: int) -> dict:
    """Both sets, rendered (with ``plan.jobs`` processes) or read from the cache, as the runs will find them."""
    from tanet.data.synthetic import PRESETS, generate

    datasets = {}
    for kind in KINDS:
        print(f"[data] {kind} set", flush=True)
        synthetic = train_config(plan, kind, plan.models["tanet"], out, 0, pretrained=None,
                                 data_seed=data_seed).data.synthetic
        spec = PRESETS[synthetic.preset].spec(kind, seed=synthetic.seed, num_classes=synthetic.num_classes)
        datasets[kind] = generate(spec, workers=plan.jobs)
        print(f"       {datasets[kind].summary()}", flush=True)
    return datasets


def _protocol_text(plan: DemoPlan, recipe, protocol: str) -> str:
    m, d, o, s = recipe.model, recipe.data, recipe.optim, recipe.schedule
    net = f"ResNet-{plan.depth} (width {m.width:g})"
    if protocol == "pretrained":
        text = (f"Protocol **pretrained** (the paper's): every model starts from the same 2D {net} trained on the "
                f"built-in still images; TAM starts fresh, TSM shifts, I3D inflates the 2D kernels (centre tap). "
                f"{s.epochs} epochs (`{plan.recipe_for(True)}.yaml`).")
    else:
        text = (f"Protocol **scratch**: every model starts from random weights; {s.epochs} epochs "
                f"(`{plan.recipe_for(False)}.yaml`).")
    return text + (f" Each model: {net}, {m.num_segments} frames ({d.size}×{d.size}), {o.name} lr {o.lr}, batch "
                   f"{d.batch_size}, {s.name} schedule with {s.warmup_epochs:g} warm-up epoch(s); tested once, with "
                   f"1 clip × centre crop on the held-out clips.")


def run_demo(
    out: str | Path = "runs/demo",
    *,
    plan: DemoPlan = DEFAULT_PLAN,
    protocol: str = "pretrained",
    first_seed: int = 0,
    data_seed: int = 0,
    kernels: bool = True,
    progress: bool = True,
    models: Optional[Sequence[str]] = None,
    command: str = "tanet demo",
) -> dict:
    """Run the whole demo; returns the metrics written to ``metrics.json``."""
    from tanet.analysis.evidence import HELD
    from tanet.demo.fingerprint import build_fingerprint
    from tanet.demo.report import accuracy_table, write_accuracy_chart, write_curves, write_report
    from tanet.demo.summary import accuracy_claims, aggregate, kernel_claims
    from tanet.engine.parallel import WorkerPool
    from tanet.engine.pretrain2d import Pretrain2DOptions
    from tanet.utils.io import atomic_write_json

    names = plan.models
    models = tuple(names) if models is None else tuple(models)
    unknown = [name for name in models if name not in names]
    if unknown or "tanet" not in models or "tsn" not in models:
        raise ValueError(f"models must include tanet and tsn and come from {list(names)}, got {list(models)}")
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
    datasets = _render_sets(plan, out, data_seed)
    mark = phase_done("data sets (render or read the cache)", mark)
    # the recipe the runs follow (the 2D start's path is not known yet: a stand-in that names the protocol)
    recipe = train_config(plan, "motion", names["tanet"], out, 0,
                          pretrained="synthetic" if protocol == "pretrained" else None)
    seeds = list(range(first_seed, first_seed + plan.seeds))
    with WorkerPool(plan.jobs) as pool:
        # one worker trains (or reads) the 2D start while another decodes the sets into its memory cache
        warm = pool.submit(warm_job, [(kind, [str(d.train_list), str(d.val_list)], str(d.root))
                                      for kind, d in datasets.items()]) if plan.jobs > 1 else None
        pretrain = None
        if protocol == "pretrained":
            options = Pretrain2DOptions(depth=plan.depth, width=plan.width, **plan.pretrain)
            ok, value = pool.submit(pretrain_job, options).result()
            if not ok:
                raise TanetError(f"pretrain-2d failed:\n{value}")
            path, summary = value
            pretrain = {**summary, "path": path}
            print(f"[pretrain-2d] {'cached' if summary.get('cached') else 'trained'}: {path} "
                  f"(val top-1 {summary['val_top1']:.1f} %)", flush=True)
            mark = phase_done("2D start (pretrain-2d" + (", cached)" if summary.get("cached") else ")")
                              + (" beside decoding the sets" if warm else ""), mark)

        # longest first: the motion set (more clips), then the heavier models
        order = sorted(((kind, short, seed) for seed in seeds for kind in KINDS for short in models),
                       key=lambda item: (KINDS.index(item[0]), ["i3d", "tanet", "tsm", "tsn"].index(item[1]), item[2]))
        jobs = []
        for kind, short, seed in order:
            run_dir = out / "runs" / kind / short / f"seed{seed}"
            overrides = job_overrides(plan, kind, names[short], run_dir, seed, data_seed=data_seed,
                                      pretrained=None if pretrain is None else pretrain["path"])
            jobs.append(Job(kind, short, seed, str(run_dir), tuple(overrides), plan.recipe_for(pretrain is not None)))
        done: list = []
        kernel_futures: dict = {}
        want_kernels = kernels and "i3d" in models

        def submit_kernels(seed: int) -> None:
            cells = {(r["kind"], r["model"]): r for r in done if r["seed"] == seed}
            if not all((kind, model) in cells for kind in KINDS for model in ("tanet", "i3d")):
                return
            task = {"seed": seed, "out": str(out / "kernels" / f"seed{seed}"), "blocks": tuple(plan.kernel_blocks),
                    "max_videos": plan.kernel_videos, "figures": seed == seeds[0],
                    "datasets": [{"name": kind, "checkpoint": cells[(kind, "tanet")]["checkpoint"],
                                  "list_file": str(datasets[kind].val_list), "root": str(datasets[kind].root),
                                  "i3d_checkpoint": cells[(kind, "i3d")]["checkpoint"]} for kind in KINDS]}
            kernel_futures[seed] = pool.submit(kernel_job, task)

        def report_run(job: Job, row: dict) -> None:
            done.append(row)
            reused = " (finished before)" if row.get("reused") else f" ({row['train_seconds']:.0f} s)"
            print(f"[{len(done)}/{len(jobs)}] {job.kind} set, {names[job.model]}, seed {job.seed}: "
                  f"top-1 {row['top1']:.1f} %{reused}", flush=True)
            if want_kernels and job.model in ("tanet", "i3d") and job.seed not in kernel_futures:
                submit_kernels(job.seed)  # queued behind the runs: it fills the last worker's idle tail

        print(f"[runs] {len(jobs)} runs ({len(models)} models x {len(KINDS)} sets x {len(seeds)} seeds, {protocol}) "
              f"in {plan.jobs} process(es)", flush=True)
        rows = pool.map(run_job, jobs, on_result=report_run, started=[warm] if warm else ())
        found_kernel_claims = []
        if want_kernels:
            print("[kernels] probing the learned TAM and I3D kernels of every seed", flush=True)
            results = []
            for seed in seeds:
                ok, value = kernel_futures[seed].result()
                if not ok:
                    raise TanetError(f"the kernel analysis of seed {seed} failed:\n{value}")
                results.append(value)
            found_kernel_claims = kernel_claims([r["values"] for r in results])
        mark = phase_done(f"training and testing {len(jobs)} runs ({plan.jobs} processes)"
                          + (", then the kernels of every seed" if want_kernels else ""), mark)

    metrics = aggregate(rows, KINDS, models)
    chance = {kind: 100.0 / len(datasets[kind].class_names) for kind in KINDS}
    claims = accuracy_claims(metrics)
    fingerprint = build_fingerprint(rows=rows, datasets=datasets, processes=plan.jobs,
                                    pretrained_path=None if pretrain is None else pretrain["path"])
    costs = _costs(plan, models, len(datasets["motion"].class_names))
    write_curves(rows, KINDS, models, out / "curves.png")
    write_accuracy_chart(metrics, KINDS, chance, out / "accuracy.png")
    phase_done("fingerprint, model cost, figures and report", mark)
    total = time.perf_counter() - started
    timing = {"phases": phases, "total_s": round(total, 1), "load_start": load_start, "load_end": _load(),
              "runs": len(rows), "jobs": plan.jobs, "run_train_s": sum(r["train_seconds"] for r in rows),
              "run_test_s": sum(r["test_seconds"] for r in rows),
              "decoded_files": sum(r.get("decoded_files", 0) for r in rows)}
    protocol_text = _protocol_text(plan, recipe, protocol)
    metrics_out = {**metrics, "protocol": protocol, "seeds": seeds, "depth": plan.depth, "fingerprint": fingerprint,
                   "claims": [c.to_dict() for c in claims + found_kernel_claims],
                   "models": costs, "chance": chance, "timing": timing,
                   "pretrained_2d": None if pretrain is None else {k: pretrain[k] for k in
                                                                   ("path", "options", "val_top1", "chance")}}
    atomic_write_json(out / "metrics.json", metrics_out)
    write_report(out, command=command, protocol_text=protocol_text, datasets=datasets, metrics=metrics,
                 models={s: names[s] for s in models}, rows=rows, claims=claims, kernel_claims=found_kernel_claims,
                 costs=costs, timing=timing, chance=chance, kernel_blocks=plan.kernel_blocks, pretrain=pretrain,
                 fingerprint=fingerprint)
    print()
    print(accuracy_table(metrics, {s: names[s] for s in models}))
    print()
    for c in claims + found_kernel_claims:
        print(c.line())
    print(f"\nfingerprint {fingerprint['digest']}: CPU {fingerprint['cpu'].get('capability', '?')}, "
          f"torch {fingerprint['software']['torch']} (metrics.json has the whole record)")
    print("\nwhere the time went:")
    for name, seconds in phases.items():
        print(f"  {seconds:7.1f} s  {name}")
    print(f"  {total:7.1f} s  total (load average {load_start} at the start, {timing['load_end']} at the end)")
    held = sum(c.verdict == HELD for c in claims)
    print(f"\n{held}/{len(claims)} accuracy claims held; report: {out / 'report.md'}  ({total / 60:.1f} min)")
    return metrics_out
