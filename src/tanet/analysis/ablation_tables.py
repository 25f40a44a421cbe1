"""The ablation's tables: one per sweep, over seeds with each row's 95 % interval against the paper's
choice (:mod:`tanet.analysis.evidence`); ``ablation.md``, ``ablation.csv`` and ``ablation.json``."""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Optional, Sequence

from tanet.analysis.ablation_results import MODEL_OPTIONS, AblationResult
from tanet.analysis.evidence import SEEDS_TO_DECIDE_NOTE, claim, summarize
from tanet.engine.config import TrainConfig
from tanet.utils.io import atomic_write_json

__all__ = ["CSV_FIELDS", "paper_choice", "ablation_claims", "format_table", "write_tables"]

CSV_FIELDS = ("sweep", "row", "seed", "top1", "top5", "mean_class_acc", "params_m", "gflops", "train_time_s",
              "epochs", "config_hash", "run_dir")


def _base_value(config: TrainConfig, key: str) -> Any:
    if key in MODEL_OPTIONS:
        value = getattr(config.model.temporal, key)
    else:
        value = config.to_dict()
        for part in key.split("."):
            value = value[part]
    return sorted(value) if key == "temporal_stages" else value


def paper_choice(results: Sequence[AblationResult], base_config: TrainConfig, sweep: str) -> Optional[str]:
    """The label of the sweep's row that is the base recipe (the paper's choice: style b, both branches ...)."""
    for result in results:
        if result.sweep == sweep and all(
                (sorted(value) if key == "temporal_stages" else value) == _base_value(base_config, key)
                for key, value in result.overrides.items()):
            return result.label
    return None


def ablation_claims(results: Sequence[AblationResult], base_config: Optional[TrainConfig]) -> dict:
    """Per sweep: each row over seeds (mean, sd, values) and, for every row but the paper's choice, the claim
    "the row is below the paper's choice", decided by the 95 % interval of row − choice paired by seed."""
    summary: dict = {}
    by_row: dict = {}
    for result in results:
        by_row.setdefault((result.sweep, result.label), []).append(result)
    for (sweep, label), runs in by_row.items():
        runs = sorted(runs, key=lambda r: r.seed)
        stats = summarize([r.top1 for r in runs])
        entry = summary.setdefault(sweep, {"choice": None, "rows": {}})
        entry["rows"][label] = {"top1": stats.mean, "top1_std": stats.std, "top1_seeds": list(stats.values),
                                "seeds": [r.seed for r in runs], "claim": None}
    for sweep, entry in summary.items():
        choice = paper_choice(results, base_config, sweep) if base_config is not None else None
        entry["choice"] = choice
        if choice is None:
            continue
        reference = entry["rows"][choice]
        for label, row in entry["rows"].items():
            if label == choice or row["seeds"] != reference["seeds"]:
                continue
            row["claim"] = claim(f"{label} is below the paper's choice {choice}", row["top1_seeds"],
                                 reference["top1_seeds"], side="less", detail=f"difference {label} − {choice}")
    return summary


def format_table(results: Sequence[AblationResult], base_config: Optional[TrainConfig] = None,
                 test_protocol: str = "efficient") -> str:
    """Markdown: one table per sweep (or one for a product grid); over several seeds, mean ± sd, every seed,
    and each row's difference to the paper's choice with its 95 % interval and verdict."""
    lines = []
    seeds = sorted({r.seed for r in results})
    if base_config is not None:
        m, d = base_config.model, base_config.data
        init = m.pretrained if m.pretrained not in (None, "scratch") else "from scratch"
        lines += [
            f"Ablation of {m.name} (width {m.width:g}), {m.num_segments} frames at {d.size}x{d.size}, "
            f"{base_config.schedule.epochs} epochs, init: {init}; tested with the {test_protocol} protocol on "
            f"`{Path(d.val_list).name if d.val_list else '?'}`; training seeds {', '.join(map(str, seeds))}. "
            "GFLOPs: multiply-adds of one clip.",
            "",
        ]
    summary = ablation_claims(results, base_config)
    firsts: dict[tuple, AblationResult] = {}
    times: dict[tuple, list] = {}
    for result in results:
        firsts.setdefault((result.sweep, result.label), result)
        times.setdefault((result.sweep, result.label), []).append(result.train_time_s)
    for sweep, entry in summary.items():
        if len(seeds) > 1:
            lines += [f"**{sweep}** (paper's choice: {entry['choice'] or 'not in this sweep'})", "",
                      "| row | top-1 (%) mean ± sd | per seed | − paper's choice [95 % interval] | verdict | seeds to decide | "
                      "params (M) | GFLOPs | train time |", "|---|---:|---|---|---|---:|---:|---:|---:|"]
        else:
            lines += [f"**{sweep}**", "", "| row | top-1 (%) | top-5 (%) | params (M) | GFLOPs | train time |",
                      "|---|---:|---:|---:|---:|---:|"]
        for label, row in entry["rows"].items():
            r = firsts[(sweep, label)]
            mean_time = sum(times[(sweep, label)]) / len(times[(sweep, label)])
            if len(seeds) > 1:
                c = row["claim"]
                difference = "(the choice)" if label == entry["choice"] else ("" if c is None else c.interval.text())
                verdict, needed = ("", "") if c is None else (c.verdict, c.seeds_text())
                lines.append(f"| {label} | {row['top1']:.1f} ± {row['top1_std'] or 0:.1f} | "
                             + ", ".join(f"{v:.1f}" for v in row["top1_seeds"])
                             + f" | {difference} | {verdict} | {needed} | {r.params_m:.3f} | {r.gflops:.4f} | {_duration(mean_time)} |")
            else:
                lines.append(f"| {label} | {r.top1:.2f} | {r.top5:.2f} | {r.params_m:.3f} | {r.gflops:.4f} | "
                             f"{_duration(r.train_time_s)} |")
        lines.append("")
    if len(seeds) > 1:
        lines += ["A row's verdict is about the paper's ordering: **held** when the interval of row − choice lies "
                  "below 0 (the paper's choice is better), **not shown** when it contains 0, **did not hold** when "
                  "it lies above 0. " + SEEDS_TO_DECIDE_NOTE, ""]
    return "\n".join(lines)


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def write_tables(results: Sequence[AblationResult], out: Path, base_config: Optional[TrainConfig] = None,
                 test_protocol: str = "efficient") -> tuple[Path, Path]:
    markdown = out / "ablation.md"
    markdown.write_text(format_table(results, base_config, test_protocol))
    summary = ablation_claims(results, base_config)
    for entry in summary.values():
        for row in entry["rows"].values():
            row["claim"] = None if row["claim"] is None else row["claim"].to_dict()
    atomic_write_json(out / "ablation.json", {"sweeps": summary, "claims": [
        row["claim"] for entry in summary.values() for row in entry["rows"].values() if row["claim"]]})
    table = out / "ablation.csv"
    with open(table, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_FIELDS)
        writer.writeheader()
        for r in results:
            writer.writerow({"sweep": r.sweep, "row": r.label, "seed": r.seed, "top1": f"{r.top1:.4f}", "top5": f"{r.top5:.4f}",
                             "mean_class_acc": f"{r.mean_class_acc:.4f}", "params_m": f"{r.params_m:.6f}",
                             "gflops": f"{r.gflops:.6f}", "train_time_s": f"{r.train_time_s:.2f}",
                             "epochs": r.epochs, "config_hash": r.config_hash, "run_dir": r.run_dir})
    return markdown, table
