"""The demo's figures and ``report.md``: curves with a band over seeds, accuracy with error bars and a
chance line, the claims with their intervals, the models' cost, where the time went."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from tanet.analysis.evidence import SEEDS_TO_DECIDE_NOTE
from tanet.utils.io import atomic_write, atomic_write_text

__all__ = ["write_curves", "write_accuracy_chart", "accuracy_table", "fingerprint_lines", "write_report", "COLOURS"]

COLOURS = {"tanet": "#c0392b", "tsn": "#7f8c8d", "tsm": "#2980b9", "i3d": "#27ae60"}


def _save(figure, path: Path) -> None:
    with atomic_write(path, "wb") as handle:
        figure.savefig(handle, format="png", dpi=110)


def write_curves(rows: Sequence[dict], kinds: Sequence[str], models: Sequence[str], path: Path) -> Path:
    """Training loss and top-1 per epoch, per set (columns) and model (colours): mean over seeds, band = ±1 sd."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(5 * len(kinds), 6.4), layout="constrained")
    axes = figure.subplots(2, len(kinds), squeeze=False)
    for column, kind in enumerate(kinds):
        for model in models:
            histories = [r["history"] for r in rows if r["kind"] == kind and r["model"] == model and r.get("history")]
            if not histories:
                continue
            length = min(len(h) for h in histories)
            epochs = np.arange(1, length + 1)
            for row, key in enumerate(("train_loss", "train_top1")):
                values = np.array([[h[e][key] for e in range(length)] for h in histories], dtype=np.float64)
                mean = values.mean(axis=0)
                axis = axes[row, column]
                axis.plot(epochs, mean, color=COLOURS.get(model), label=f"{model} (n={len(histories)})", marker=".")
                if len(histories) > 1:
                    spread = values.std(axis=0, ddof=1)
                    axis.fill_between(epochs, mean - spread, mean + spread, color=COLOURS.get(model), alpha=0.2)
        axes[0, column].set_title(f"{kind} set: training loss")
        axes[1, column].set_title(f"{kind} set: training top-1 (%)")
        for row in range(2):
            axes[row, column].set_xlabel("epoch")
            axes[row, column].grid(alpha=0.3)
        axes[0, column].legend(fontsize=7)
    _save(figure, path)
    return path


def write_accuracy_chart(metrics: dict, kinds: Sequence[str], chance: dict, path: Path) -> Path:
    """Test top-1 per model and set: mean (bar), ±1 sd (error bar), every seed (dots), chance (dashed line)."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(3.8 * len(kinds), 3.4), layout="constrained")
    axes = figure.subplots(1, len(kinds), squeeze=False)[0]
    for axis, kind in zip(axes, kinds):
        names = list(metrics[kind])
        means = [metrics[kind][n]["top1"] for n in names]
        errors = [metrics[kind][n]["top1_std"] or 0.0 for n in names]
        axis.bar(names, means, yerr=errors, capsize=4, color=[COLOURS.get(n, "#999") for n in names], alpha=0.85)
        for position, name in enumerate(names):
            seeds = metrics[kind][name]["top1_seeds"]
            axis.plot([position] * len(seeds), seeds, "k.", markersize=4)
            axis.annotate(f"{means[position]:.0f}", (position, min(means[position] + errors[position] + 2, 99)),
                          ha="center", fontsize=8)
        axis.axhline(chance[kind], color="black", linestyle="--", linewidth=1, label=f"chance {chance[kind]:.0f} %")
        axis.set_ylim(0, 105)
        axis.set_title(f"{kind} set")
        axis.set_ylabel("test top-1 (%)")
        axis.legend(fontsize=7, loc="lower right")
    _save(figure, path)
    return path


def _cell(entry: Optional[dict], key: str) -> str:
    if entry is None or key not in entry:
        return ""
    std = entry.get(f"{key}_std")
    return f"{entry[key]:.1f}" + ("" if std is None else f" ± {std:.1f}")


def accuracy_table(metrics: dict, models: dict) -> str:
    lines = ["| model | motion top-1 | motion within-pair | appearance top-1 | motion top-1 per seed | "
             "appearance top-1 per seed |", "|---|---|---|---|---|---|"]
    for short, model_name in models.items():
        motion, appearance = metrics.get("motion", {}).get(short), metrics.get("appearance", {}).get(short)
        if motion is None and appearance is None:
            continue
        seeds = lambda e: "" if e is None else ", ".join(f"{v:.1f}" for v in e["top1_seeds"])  # noqa: E731
        lines.append(f"| {short} ({model_name}) | {_cell(motion, 'top1')} | {_cell(motion, 'within_pair_top1')} | "
                     f"{_cell(appearance, 'top1')} | {seeds(motion)} | {seeds(appearance)} |")
    return "\n".join(lines)


def _claims_table(claims) -> list[str]:
    lines = ["| claim | verdict | mean difference ± half-width [95 % interval] | seeds to decide | per seed |",
             "|---|---|---|---:|---|"]
    for c in claims:
        name = f"**{c.name}**" if c.extra.get("headline") else c.name
        lines.append(f"| {name} | **{c.verdict}** | {c.interval.text()} | {c.seeds_text()} | "
                     + ", ".join(f"{d:+.3g}" for d in c.interval.differences) + " |")
    return lines


def fingerprint_lines(fingerprint: dict) -> list[str]:
    """The fingerprint as a short list (report.md; the README quotes it beside its tables)."""
    cpu, software = fingerprint["cpu"], fingerprint["software"]
    lines = [f"- digest `{fingerprint['digest']}`"]
    for kind, entry in fingerprint["data"].items():
        decoded = entry["decoded"]
        text = (f"`{decoded['sha256'][:16]}` ({decoded['clips']} clips)" if "sha256" in decoded
                else f"**workers disagree**: {decoded}")
        lines.append(f"- {kind} set: spec `{entry['spec']}`, {entry['codec']}, decoded clips {text}")
    if fingerprint.get("pretrained_2d"):
        lines.append(f"- 2D start `{fingerprint['pretrained_2d']['file']}`: tensors "
                     f"`{fingerprint['pretrained_2d']['sha256'][:16]}`")
    recipes = fingerprint.get("recipes") or {}
    if recipes:
        split = [cell for cell, value in recipes.items() if not isinstance(value, str)]
        lines.append(f"- recipes: {len(recipes)} cells, one SHA-256 each in metrics.json"
                     + (f"; **seeds trained with different recipes** in {', '.join(split)}" if split else ""))
    if "capability" in cpu:
        dispatch = ", ".join(f"{k}={v}" for k, v in cpu["dispatch_env"].items()) or "no dispatch overrides"
        lines.append(f"- CPU: {cpu['model']} ({cpu['machine']}), torch CPU capability **{cpu['capability']}**, "
                     f"{dispatch}; {fingerprint['threads_per_run']} thread(s) per run, "
                     f"{fingerprint['processes']} process(es)")
    else:
        lines.append(f"- CPU: **runs disagree**: {cpu}")
    lines.append(f"- torch {software['torch']}, numpy {software['numpy']}, PyAV {software.get('pyav')} (FFmpeg "
                 f"{software.get('ffmpeg')}, libavcodec {software.get('libavcodec')}), torchcodec "
                 f"{software.get('torchcodec')}, Python {software['python']}, tanet {software.get('tanet')}")
    return lines


def _link(path: str, out: Path) -> str:
    return os.path.relpath(path, out)


def write_report(out: Path, *, command: str, protocol_text: str, datasets: dict, metrics: dict, models: dict,
                 rows: Sequence[dict], claims: list, kernel_claims: list, costs: dict, timing: dict, chance: dict,
                 kernel_blocks: Sequence[str], pretrain: Optional[dict], fingerprint: Optional[dict] = None) -> None:
    seeds = sorted({r["seed"] for r in rows})
    lines = [
        "# tanet demo report", "",
        f"Command: `{command}` — {timing['total_s'] / 60:.1f} minutes on this machine "
        f"(load average at the start {timing.get('load_start', '?')}, at the end {timing.get('load_end', '?')}).", "",
        protocol_text, "",
        f"Seeds: {', '.join(map(str, seeds))} (every cell is trained once per seed; the data sets are fixed). "
        "Cells are mean ± sample standard deviation over seeds; a claim is decided by the 95 % t interval of the "
        "difference paired by seed: **held** (entirely on the claimed side of 0), **not shown** (contains 0), "
        "**did not hold** (entirely on the other side). Headline claims, those the demo is sized to decide, are in "
        "bold. " + SEEDS_TO_DECIDE_NOTE, "",
    ]
    for kind, dataset in datasets.items():
        lines.append(f"- {kind} set: {dataset.num_train} training / {dataset.num_val} test clips, "
                     f"{len(dataset.class_names)} classes (chance {chance[kind]:.1f} %), `{dataset.root}`")
    if pretrain:
        lines.append(f"- shared 2D start: `{pretrain['path']}` — a ResNet-{pretrain['options']['depth']} "
                     f"(width {pretrain['options']['width']:g}) trained on {pretrain['train_images']} built-in still "
                     f"images of {pretrain['classes']} classes (val top-1 {pretrain['val_top1']:.1f} %, chance "
                     f"{pretrain['chance']:.1f} %); `tanet pretrain-2d` makes it")
    if fingerprint:
        lines += ["", "## Fingerprint", "", "What determines these numbers (`metrics.json` has the whole record); the "
                  "same digest and command give the same numbers to the last digit:", ""] + fingerprint_lines(fingerprint)
    lines += ["", "## Accuracy (%)", "", accuracy_table(metrics, models), "", "![accuracy](accuracy.png)", "",
              "## Claims", ""] + _claims_table(claims)
    lines += ["", "## Training curves", "", "Mean over seeds, band ±1 sd (training loss and top-1 on the training "
              "clips; each run is tested once, after its last epoch).", "", "![curves](curves.png)", "",
              "## Runs", "", "| set | model | seed | top-1 | confusion matrix | run folder |", "|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: (r["kind"], list(models).index(r["model"]), r["seed"])):
        lines.append(f"| {r['kind']} | {r['model']} | {r['seed']} | {r['top1']:.1f} | "
                     f"[confusion]({_link(r['confusion_png'], out)}) | [{_link(r['run_dir'], out)}]"
                     f"({_link(r['run_dir'], out)}) |")
    lines += ["", "## Models", "", "One clip of the demo's input; CPU latency: median of single-threaded forward passes "
              "of one clip on this machine.", "", "| model | params (M) | GFLOPs | CPU latency (ms) |", "|---|---:|---:|---:|"]
    for short, cost in costs.items():
        lines.append(f"| {short} ({models[short]}) | {cost['params_m']:.3f} | {cost['gflops']:.4f} | "
                     f"{cost['latency_ms']:.1f} |")
    if kernel_claims:
        lines += ["", "## Learned kernels", "",
                  "The supplementary's four observations, measured on each seed's TANet and I3D at the last block of "
                  "the two deepest stages (I3D on its raw temporal kernel values), each decided over seeds "
                  "(`kernels/seed*/kernels.json` describes every statistic):", ""]
        lines += _claims_table(kernel_claims)
        lines += ["", "Figures (seed " + str(seeds[0]) + "); numbers per seed in `kernels/seed*/kernels.json`:", ""]
        lines += [f"![{block}](kernels/seed{seeds[0]}/kernels_{block}.png)" for block in kernel_blocks]
    lines += ["", "## Where the time went", "", "| phase | wall time (s) |", "|---|---:|"]
    lines += [f"| {name} | {seconds:.1f} |" for name, seconds in timing["phases"].items()]
    lines += [f"| total | {timing['total_s']:.1f} |", "",
              f"Training runs: {timing['runs']} in {timing['jobs']} worker process(es); summed per-run time "
              f"{timing['run_train_s']:.0f} s training + {timing['run_test_s']:.0f} s testing; "
              f"{timing['decoded_files']} video files decoded (each once per worker)."]
    atomic_write_text(out / "report.md", "\n".join(lines) + "\n")
