"""The kernel study end to end: load each data set's checkpoints, capture, summarise, plot, write files."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence, Union

import numpy as np
import torch
from torch.utils.data import Subset

from tanet.data.dataset import build_test_dataset
from tanet.data.loader import build_loader
from tanet.engine.builders import EvalSetup, dataset_options, load_for_eval
from tanet.errors import UsageError
from tanet.models.block_names import BlockNameError, block_aliases, default_blocks, parse_block_name, resolve_block

from .capture import capture_tam_block, static_temporal_kernels
from .plots import plot_block
from .statistics import DESCRIPTION, BlockKernels, _block_comparison, _block_stats, normalise_static_kernels

__all__ = ["KernelDataset", "extract_dataset", "analyse_kernels", "format_summary"]

PathLike = Union[str, os.PathLike]


@dataclass(frozen=True)
class KernelDataset:
    """One side of the comparison: a TANet checkpoint and the videos it is probed with.

    Args:
        name: label in figures and JSON (unique).
        checkpoint: a TANet checkpoint written by ``tanet train``.
        list_file: ``path label`` list of the videos (labels are not used).
        root: folder the list paths are relative to.
        i3d_checkpoint: optional I3D 3×1×1 checkpoint (same depth) trained on the same data, whose
            static kernels are shown next to TAM's.
    """

    name: str
    checkpoint: PathLike
    list_file: PathLike
    root: Optional[PathLike] = None
    i3d_checkpoint: Optional[PathLike] = None


def _spread_indices(count: int, limit: Optional[int]) -> list[int]:
    # Lists are often sorted by class: take evenly spaced videos rather than the first ones.
    if limit is None or limit >= count:
        return list(range(count))
    return sorted(set(np.linspace(0, count - 1, limit).round().astype(int).tolist()))


# The videos are probed with three crops of the test size: start, centre and end along the frame's long side.
# The centre crop is the test protocol's (the V and Θ analysed); the two others are the per-video null of V.
VIEWS = 3
CENTRE_VIEW = 1


def _loader_for(dataset: KernelDataset, setup: EvalSetup, *, max_videos: Optional[int], batch_size: int,
                num_workers: int):
    # Labels are not used (a model may be probed on another data set's videos), so they are not checked.
    # the test view's size and sampling from the resolved recipe, three crops instead of one
    data = setup.config.data
    videos = build_test_dataset(dataset.list_file, dataset.root or None, protocol="efficient", num_crops=VIEWS,
                                size=data.size, scale_size=data.scale_size, **dataset_options(setup.config))
    indices = _spread_indices(len(videos), max_videos)
    subset = Subset(videos, indices)
    return build_loader(subset, batch_size, num_workers=num_workers), len(indices)


def extract_dataset(
    dataset: KernelDataset,
    blocks: Sequence[str],
    *,
    max_videos: Optional[int] = None,
    batch_size: int = 8,
    num_workers: int = 0,
    device: Union[str, torch.device] = "cpu",
    progress: bool = True,
    strict: bool = False,
) -> dict[str, BlockKernels]:
    """V, Θ (and the I3D kernels) of ``blocks`` for one data set, keyed by canonical block name.

    ``strict``: an unreadable video is an error instead of being skipped with a warning."""
    setup = load_for_eval(dataset.checkpoint, protocol="efficient", strict=strict)  # 1 clip x centre crop
    model = setup.model
    canonical = [resolve_block(name, model) for name in blocks]
    loader, count = _loader_for(dataset, setup, max_videos=max_videos, batch_size=batch_size,
                                num_workers=num_workers)
    captured = capture_tam_block(model, loader, canonical, device=device, progress=progress, total=count,
                                 desc=dataset.name, source=dataset.checkpoint)
    static = {}
    if dataset.i3d_checkpoint is not None:
        i3d_model = load_for_eval(dataset.i3d_checkpoint).model
        for name, block in zip(blocks, canonical):
            try:
                resolve_block(name, i3d_model)
            except BlockNameError as error:
                raise BlockNameError(f"{dataset.i3d_checkpoint}: {error}") from None
            static[block] = static_temporal_kernels(i3d_model, block, source=dataset.i3d_checkpoint)
    result = {}
    others = [view for view in range(VIEWS) if view != CENTRE_VIEW]
    for block in canonical:
        importance, theta = captured[block]  # (videos, views, C, T), (videos, views, C, K)
        raw = static.get(block)
        result[block] = BlockKernels(
            importance_map=importance[:, CENTRE_VIEW].astype(np.float32),
            adaptive_kernel=theta[:, CENTRE_VIEW].astype(np.float32),
            static_kernel=None if raw is None else raw.astype(np.float32),
            static_kernel_normalised=None if raw is None else normalise_static_kernels(raw),
            importance_map_views=importance[:, others].astype(np.float32),
        )
    return result


def analyse_kernels(
    datasets: Sequence[KernelDataset],
    blocks: Optional[Sequence[str]],
    out_dir: PathLike,
    *,
    max_videos: Optional[int] = None,
    batch_size: int = 8,
    num_workers: int = 0,
    device: Union[str, torch.device] = "cpu",
    progress: bool = True,
    figures: bool = True,
    strict: bool = False,
) -> dict:
    """Extract, summarise and plot the kernels of ``blocks`` for every data set.

    ``blocks=None`` takes the last block of layer3 and of layer4 of the first checkpoint. Returns the
    summary written to ``kernels.json`` plus, under ``"arrays"``, the :class:`BlockKernels` per data set
    and block (not serialised).
    """
    if not datasets:
        raise UsageError("analyse_kernels needs at least one data set")
    names = [d.name for d in datasets]
    if len(set(names)) != len(names):
        raise UsageError(f"data set names must be unique, got {names}")
    if blocks is None or len(blocks) == 0:
        blocks = default_blocks(load_for_eval(datasets[0].checkpoint).model)
    arrays: dict[str, dict[str, BlockKernels]] = {}
    for dataset in datasets:
        arrays[dataset.name] = extract_dataset(dataset, blocks, max_videos=max_videos, batch_size=batch_size,
                                               num_workers=num_workers, device=device, progress=progress,
                                               strict=strict)
    # created only once every input has been read and every block name resolved: a refused run leaves nothing
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    canonical = list(arrays[names[0]])
    summary: dict[str, Any] = {"description": DESCRIPTION, "datasets": [], "blocks": {}}
    for dataset in datasets:
        summary["datasets"].append({
            "name": dataset.name, "checkpoint": str(dataset.checkpoint), "list_file": str(dataset.list_file),
            "root": None if dataset.root is None else str(dataset.root),
            "i3d_checkpoint": None if dataset.i3d_checkpoint is None else str(dataset.i3d_checkpoint),
        })
    npz: dict[str, np.ndarray] = {}
    for block in canonical:
        per_dataset = {name: arrays[name][block] for name in names}
        layer, index = parse_block_name(block)
        entry: dict[str, Any] = {"paper_name": block_aliases(layer, index), "datasets": {}, "comparisons": []}
        for name, kernels in per_dataset.items():
            entry["datasets"][name] = _block_stats(kernels)
            npz[f"{name}/{block}/importance_map"] = kernels.importance_map
            npz[f"{name}/{block}/adaptive_kernel"] = kernels.adaptive_kernel
            if kernels.importance_map_views is not None:
                npz[f"{name}/{block}/importance_map_views"] = kernels.importance_map_views
            if kernels.static_kernel is not None:
                npz[f"{name}/{block}/i3d_kernel"] = kernels.static_kernel
                npz[f"{name}/{block}/i3d_kernel_normalised"] = kernels.static_kernel_normalised
        for i, first in enumerate(names):
            for second in names[i + 1:]:
                entry["comparisons"].append(
                    {"datasets": [first, second], **_block_comparison(per_dataset[first], per_dataset[second])})
        if figures:
            written = plot_block(block, per_dataset, out / f"kernels_{block}")
            entry["figures"] = [p.name for p in written]
        summary["blocks"][block] = entry
    (out / "kernels.json").write_text(json.dumps(summary, indent=2) + "\n")
    np.savez_compressed(out / "kernels.npz", **npz)
    summary["arrays"] = arrays
    return summary


def format_summary(summary: dict) -> str:
    """A short text table of the numbers behind the four observations, each with its meaning and direction."""
    lines = []
    for block, entry in summary["blocks"].items():
        lines.append(f"{block} ({entry['paper_name']})")
        for name, stats in entry["datasets"].items():
            lines.append(f"  {name}: {stats['num_videos']} videos")
            lines.append(f"    smoothness (mean |neighbour difference|, lower = smoother): V {stats['importance_smoothness']:.4f}"
                         f"  Θ {stats['theta_smoothness']:.4f}")
            if "importance_video_variance" in stats:
                lines.append(f"    V's temporal profile, variance (higher = more video-dependent): across videos "
                             f"{stats['importance_video_variance']:.3g}  per-video null (two crops of one video) "
                             f"{stats['importance_view_variance']:.3g}")
            spread = f"    spread (std per tap, lower = narrower): Θ {stats['theta_spread']:.4f}"
            if "i3d_raw_spread" in stats:
                spread += f"  I3D raw {stats['i3d_raw_spread']:.4f}"
            lines.append(spread)
            lines.append("    Θ tap mean " + " ".join(f"{v:.3f}" for v in stats["theta_tap_mean"]))
        for comparison in entry["comparisons"]:
            a, b = comparison["datasets"]
            text = f"  {a} vs {b} (higher = the sets differ more): KS distance Θ {comparison['theta_ks']:.4f}"
            if comparison.get("i3d_raw_ks") is not None:
                text += f"  I3D raw {comparison['i3d_raw_ks']:.4f}"
            text += f"; JS(bits) Θ {comparison['theta_js']:.4f}"
            if comparison.get("i3d_raw_js") is not None:
                text += f"  I3D raw {comparison['i3d_raw_js']:.4f}"
            lines.append(text)
    return "\n".join(lines)
