"""From the demo's per-seed runs to ``metrics.json``: every cell over seeds, and every claim with its
95 % interval of the paired (same seed) difference (:mod:`tanet.analysis.evidence`)."""
from __future__ import annotations

from typing import Sequence

from tanet.analysis.evidence import Claim, claim, summarize
from tanet.models.block_names import block_aliases, parse_block_name

__all__ = ["METRICS", "MARGIN_MOTION", "NON_INFERIORITY", "TSM_GAP_DETAIL", "aggregate", "accuracy_claims",
           "kernel_claims"]

METRICS = ("top1", "top5", "mean_class_acc", "pair_top1", "within_pair_top1")
MARGIN_MOTION = 20.0  # an earlier issue's expectation: TANet ahead of TSN on the motion set by >= 20 points
# "on par" on the appearance set, fixed before any run: within 5 points, about two binomial standard deviations
# of one run's top-1 on the appearance test split
NON_INFERIORITY = 5.0
# TANet above TSM is reported, not a headline: the demo is not sized to decide it. The paper-scale gap is about
# 2 points (MMAction2's own Something-Something V1 8-frame models: TANet 47.45, TSM 45.58 top-1; its
# configs/recognition/{tanet,tsm}/README.md), and the demo's paired differences TANet − TSM spread by 3.6-5.8
# points over 5 seeds (three demos, two ISA settings); showing a 1.9-point gap at 80 % power would take
# ((1.96 + 0.84) * 4.5 / 1.9)^2, about 44 seeds. Each claim's "seeds to decide" says the same from the run's data.
TSM_GAP_DETAIL = "not sized to decide: the paper-scale gap is about 2 points, within the spread over seeds"


def aggregate(rows: Sequence[dict], kinds: Sequence[str], models: Sequence[str]) -> dict:
    """``{kind: {model: {"top1": mean, "top1_std": sd, "top1_seeds": [...], ..., "seeds": [...], "runs": [...]}}}``."""
    metrics: dict = {}
    for kind in kinds:
        metrics[kind] = {}
        for model in models:
            cell = sorted((r for r in rows if r["kind"] == kind and r["model"] == model), key=lambda r: r["seed"])
            if not cell:
                continue
            entry: dict = {}
            for key in METRICS:
                values = [r[key] for r in cell if key in r]
                if len(values) != len(cell):
                    continue
                stats = summarize(values)
                entry[key] = round(stats.mean, 2)
                entry[f"{key}_std"] = None if stats.std is None else round(stats.std, 2)
                entry[f"{key}_seeds"] = [round(v, 2) for v in stats.values]
            entry["seeds"] = [r["seed"] for r in cell]
            entry["train_seconds"] = [r["train_seconds"] for r in cell]
            entry["runs"] = [r["run_dir"] for r in cell]
            metrics[kind][model] = entry
    return metrics


def _seeds(metrics: dict, kind: str, model: str, key: str = "top1") -> list:
    return metrics[kind][model][f"{key}_seeds"]


def accuracy_claims(metrics: dict) -> list[Claim]:
    """The paper's accuracy claims on the two sets, each decided by its interval; the ``headline`` ones are those
    the demo is sized to decide (``extra["headline"]``)."""
    claims = []
    motion, appearance = metrics.get("motion", {}), metrics.get("appearance", {})
    if "tanet" in motion and "tsn" in motion:
        claims.append(claim("motion set: TANet above TSN (top-1)", _seeds(metrics, "motion", "tanet"),
                            _seeds(metrics, "motion", "tsn"), detail="difference TANet − TSN, points; the paper's "
                            "central claim", headline=True))
        for other, name, headline, detail in (("tsm", "TSM", False, TSM_GAP_DETAIL), ("i3d", "I3D", True, "")):
            if other in motion:
                claims.append(claim(f"motion set: TANet above {name} (top-1)", _seeds(metrics, "motion", "tanet"),
                                    _seeds(metrics, "motion", other), headline=headline,
                                    detail=f"difference TANet − {name}" + (f"; {detail}" if detail else "")))
    if "tanet" in appearance and "tsn" in appearance:
        claims.append(claim(f"appearance set: TANet not below TSN by more than {NON_INFERIORITY:g} points (top-1)",
                            _seeds(metrics, "appearance", "tanet"), _seeds(metrics, "appearance", "tsn"),
                            margin=-NON_INFERIORITY, headline=True,
                            detail=f"the paper: on par or better; held when the interval lies above −{NON_INFERIORITY:g}"))
    if "tanet" in motion and "tsn" in motion:
        claims.append(claim(f"motion set: TANet above TSN by at least {MARGIN_MOTION:g} points",
                            _seeds(metrics, "motion", "tanet"), _seeds(metrics, "motion", "tsn"),
                            margin=MARGIN_MOTION, detail="held when the interval lies above +20", headline=False))
        if "within_pair_top1_seeds" in motion["tanet"] and "within_pair_top1_seeds" in motion["tsn"]:
            claims.append(claim("motion set: TANet tells a motion from its time reversal better than TSN "
                                "(within-pair accuracy)", _seeds(metrics, "motion", "tanet", "within_pair_top1"),
                                _seeds(metrics, "motion", "tsn", "within_pair_top1"),
                                detail="TSN, blind to frame order, sits near 50 %", headline=False))
    return claims


def kernel_claims(per_seed: Sequence[dict]) -> list[Claim]:
    """``per_seed``: one ``{(claim, block, where): (a, b)}`` per seed
    (:func:`~tanet.analysis.kernels.statistics.kernel_claim_values`); one claim ``a − b > 0`` per key."""
    keys = [key for key in per_seed[0] if all(key in values for values in per_seed)] if per_seed else []
    claims = []
    for name, block, where in keys:
        first = [values[(name, block, where)][0] for values in per_seed]
        second = [values[(name, block, where)][1] for values in per_seed]
        claims.append(claim(f"kernels {block} ({block_aliases(*parse_block_name(block))}), {where}: {name}", first, second,
                            detail=f"means {sum(first) / len(first):.4f} vs {sum(second) / len(second):.4f}",
                            kind="kernel"))
    return claims
