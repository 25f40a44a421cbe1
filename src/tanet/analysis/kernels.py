"""What TAM learns: importance maps V, video-adaptive kernels Θ and I3D's static 3×1×1 kernels.

The paper's supplementary study, as a tool that works on any checkpoint and list of videos::

    from tanet.analysis.kernels import KernelDataset, analyse_kernels
    summary = analyse_kernels(
        [KernelDataset("appearance", "runs/app/last.pt", "app/val.txt", "app", i3d_checkpoint="runs/app_i3d/last.pt"),
         KernelDataset("motion", "runs/mot/last.pt", "mot/val.txt", "mot", i3d_checkpoint="runs/mot_i3d/last.pt")],
        blocks=["layer3.1", "layer4.1"], out_dir="runs/kernels")

For every data set (a TANet checkpoint and the videos it is probed with) and every block, V (C×T) and
Θ (C×K) of each video are read through :class:`~tanet.modules.tam.TAMCapture` (the forward is not
changed); an I3D 3×1×1 checkpoint of the same depth gives the static temporal kernels of the same block.
Written to ``out_dir``:

* ``kernels_<block>.png`` / ``.svg`` — one figure per block: V per frame position, Θ per tap and the
  I3D kernels per tap, data sets side by side;
* ``kernels.json`` — the numbers behind the paper's three observations (V smoother than Θ, narrow I3D
  kernels, Θ differing between data sets while I3D kernels do not);
* ``kernels.npz`` — the raw arrays, keys ``<data set>/<block>/<array>``.

Block names: torchvision style ``layer3.5`` or the paper's ``stage4_6b`` (stage 2..5 = layer1..4, the
number after ``_`` counts blocks from 1; the optional trailing letter, the TA-Block style the paper writes
next to it, is accepted and not used).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence, Union

import numpy as np
import torch
from torch import nn

from tanet.modules.tam import TAM, TAMCapture
from tanet.modules.temporal import InflatedConv

__all__ = [
    "KernelDataset",
    "BlockKernels",
    "BlockNameError",
    "parse_block_name",
    "block_aliases",
    "resolve_block",
    "capture_tam_block",
    "static_temporal_kernels",
    "normalise_static_kernels",
    "js_divergence",
    "temporal_smoothness",
    "analyse_kernels",
]

PathLike = Union[str, os.PathLike]

# Θ lives in [0, 1] (softmax); L1-normalised I3D kernels in [-1, 1]. Both get bins of the same width so
# that the two Jensen–Shannon divergences are measured at the same resolution.
BIN_WIDTH = 0.02
THETA_RANGE = (0.0, 1.0)
STATIC_RANGE = (-1.0, 1.0)


class BlockNameError(ValueError):
    """A block name that is malformed or not in the model; the message lists the valid names."""


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


@dataclass
class BlockKernels:
    """What one block gave for one data set (numpy arrays, float32)."""

    importance_map: np.ndarray  # V, (videos, C, T)
    adaptive_kernel: np.ndarray  # Θ, (videos, C, K)
    static_kernel: Optional[np.ndarray] = None  # I3D, (out, in, K), spatial taps summed
    static_kernel_normalised: Optional[np.ndarray] = None  # (pairs, K), |taps| sum to 1


# ------------------------------------------------------------------------------------------ block names

_LAYER_RE = re.compile(r"^(?:backbone\.)?layer([1-4])\.(\d+)$")
_STAGE_RE = re.compile(r"^stage([2-5])_(\d+)([a-d]?)$")


def parse_block_name(name: str) -> tuple[int, int]:
    """``layer3.5`` or ``stage4_6b`` -> (layer 3, block index 5). Raises :class:`BlockNameError`."""
    text = name.strip()
    match = _LAYER_RE.match(text)
    if match:
        return int(match.group(1)), int(match.group(2))
    match = _STAGE_RE.match(text)
    if match and int(match.group(2)) >= 1:
        return int(match.group(1)) - 1, int(match.group(2)) - 1
    raise BlockNameError(
        f"malformed block name {name!r}: use torchvision style 'layerS.B' (S = 1..4, B from 0) or the "
        f"paper's 'stageS_Bb' (S = 2..5, B from 1; e.g. stage4_6b = layer3.5)"
    )


def block_aliases(layer: int, index: int) -> str:
    """The paper's name of ``layer{layer}.{index}`` (``stage4_6b`` for layer3.5)."""
    return f"stage{layer + 1}_{index + 1}b"


def _backbone(model: nn.Module) -> nn.Module:
    return getattr(model, "backbone", model)


def _blocks(model: nn.Module) -> dict[str, nn.Module]:
    backbone = _backbone(model)
    found = {}
    for layer in range(1, 5):
        stage = getattr(backbone, f"layer{layer}", None)
        if stage is None:
            continue
        for index, block in enumerate(stage):
            found[f"layer{layer}.{index}"] = block
    return found


def resolve_block(name: str, model: nn.Module) -> str:
    """The canonical ``layerS.B`` name of a block of ``model``; unknown names list the valid ones."""
    blocks = _blocks(model)
    try:
        layer, index = parse_block_name(name)
    except BlockNameError as error:
        raise BlockNameError(f"{error}\nvalid blocks: {_valid_listing(blocks)}") from None
    canonical = f"layer{layer}.{index}"
    if canonical not in blocks:
        raise BlockNameError(f"unknown block {name!r} (= {canonical}); valid blocks: {_valid_listing(blocks)}")
    return canonical


def _valid_listing(blocks: dict[str, nn.Module]) -> str:
    parts = []
    for canonical in blocks:
        layer, index = parse_block_name(canonical)
        parts.append(f"{canonical} ({block_aliases(layer, index)})")
    return ", ".join(parts)


def default_blocks(model: nn.Module) -> list[str]:
    """The last block of layer3 and of layer4 (for ResNet-50: the paper's stage4_6b and stage5_3b)."""
    blocks = list(_blocks(model))
    last = {}
    for canonical in blocks:
        last[canonical.split(".")[0]] = canonical
    return [last[layer] for layer in ("layer3", "layer4") if layer in last]


# ------------------------------------------------------------------------------------------ extraction

def _tam_of(model: nn.Module, block: str, source: Any) -> tuple[str, TAM]:
    module = _blocks(model)[block]
    tam = getattr(module, "tam", None)
    if not isinstance(tam, TAM):
        with_tam = [name for name, blk in _blocks(model).items() if isinstance(getattr(blk, "tam", None), TAM)]
        raise BlockNameError(
            f"{source}: block {block} has no TAM (is this a TANet checkpoint? are its temporal_stages "
            f"set?); blocks with TAM: {', '.join(with_tam) or 'none'}"
        )
    if tam.branches != "both":
        raise ValueError(
            f"{source}: the TAM of block {block} has branches={tam.branches!r}; V and Θ both exist only "
            "with branches='both'"
        )
    prefix = "backbone." if hasattr(model, "backbone") else ""
    return f"{prefix}{block}.tam", tam


def capture_tam_block(
    model: nn.Module,
    loader: Any,
    blocks: Sequence[str],
    *,
    device: Union[str, torch.device] = "cpu",
    progress: bool = False,
    total: Optional[int] = None,
    desc: str = "videos",
    source: Any = None,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Run ``model`` over ``loader`` and return ``{block: (V (N, C, T), Θ (N, C, K))}``.

    ``loader`` yields ``(clips, labels[, num_bad])`` batches of single-view clips (N, 3, T, H, W);
    ``blocks`` are canonical ``layerS.B`` names whose TAM is read through :class:`TAMCapture`.
    """
    names = {block: _tam_of(model, block, source)[0] for block in blocks}
    model.eval().to(device)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc=desc, unit="video", dynamic_ncols=True, file=sys.stderr)
    try:
        with TAMCapture(model, names=list(names.values())) as capture, torch.no_grad():
            for batch in loader:
                clips = batch[0]
                done = clips.shape[0] if clips.numel() else 0
                if done:
                    if clips.dim() != 5:
                        raise ValueError(
                            f"expected single-view clips (N, 3, T, H, W), got a batch of shape {tuple(clips.shape)}"
                        )
                    model(clips.to(device))
                if bar is not None:
                    bar.update(done + (int(batch[2]) if len(batch) > 2 else 0))
    finally:
        if bar is not None:
            bar.close()
    result = {}
    for block, name in names.items():
        if not capture.records.get(name):
            raise ValueError(f"{source}: no video could be read, nothing was captured")
        stacked = capture.stacked(name)
        result[block] = (stacked.importance_map.numpy(), stacked.adaptive_kernel.numpy())
    return result


def static_temporal_kernels(model: nn.Module, block: str, source: Any = None) -> np.ndarray:
    """I3D's static temporal kernels of a block's inflated conv: (out, in, K).

    For the 3×1×1 conv of a bottleneck this is the weight itself; for a t×3×3 conv (BasicBlock models)
    the spatial taps are summed, i.e. the temporal response to a spatially uniform input.
    """
    module = _blocks(model)[block]
    conv = getattr(module, "conv1", None)
    if not isinstance(conv, InflatedConv):
        inflated = [name for name, blk in _blocks(model).items() if isinstance(getattr(blk, "conv1", None), InflatedConv)]
        raise BlockNameError(
            f"{source}: block {block} has no inflated (I3D) conv; is this an i3d311_* checkpoint? "
            f"blocks with one: {', '.join(inflated) or 'none'}"
        )
    weight = conv.weight.detach().float().cpu()
    return weight.sum(dim=(3, 4)).numpy()


def normalise_static_kernels(kernels: np.ndarray) -> np.ndarray:
    """(out, in, K) -> (pairs, K), each (output, input) channel pair's taps divided by Σ|taps|.

    Θ is a softmax (its taps sum to 1), a raw conv weight has an arbitrary scale per pair; dividing by
    the L1 norm puts both on the same footing (|taps| sum to 1) while keeping the signs. All-zero pairs
    are dropped.
    """
    flat = kernels.reshape(-1, kernels.shape[-1]).astype(np.float64)
    norms = np.abs(flat).sum(axis=1)
    keep = norms > 0
    return (flat[keep] / norms[keep, None]).astype(np.float32)


# ------------------------------------------------------------------------------------------ statistics

def temporal_smoothness(values: np.ndarray) -> float:
    """Mean |x[..., t+1] − x[..., t]| along the last axis (frames for V, taps for Θ)."""
    if values.shape[-1] < 2:
        return 0.0
    return float(np.abs(np.diff(values.astype(np.float64), axis=-1)).mean())


def _histogram(values: np.ndarray, value_range: tuple[float, float]) -> np.ndarray:
    bins = int(round((value_range[1] - value_range[0]) / BIN_WIDTH))
    counts, _ = np.histogram(np.clip(values, *value_range), bins=bins, range=value_range)
    return counts.astype(np.float64)


def js_divergence(a: np.ndarray, b: np.ndarray, value_range: tuple[float, float]) -> float:
    """Jensen–Shannon divergence (bits, in [0, 1]) between the histograms of two samples.

    Both samples are binned on the same fixed grid over ``value_range`` (bin width :data:`BIN_WIDTH`).
    """
    p, q = _histogram(np.ravel(a), value_range), _histogram(np.ravel(b), value_range)
    if p.sum() == 0 or q.sum() == 0:
        raise ValueError("js_divergence needs two non-empty samples")
    p, q = p / p.sum(), q / q.sum()
    m = 0.5 * (p + q)

    def kl(x: np.ndarray) -> float:
        mask = x > 0
        return float(np.sum(x[mask] * np.log2(x[mask] / m[mask])))

    return float(min(max(0.5 * kl(p) + 0.5 * kl(q), 0.0), 1.0))


def _per_tap_js(a: np.ndarray, b: np.ndarray, value_range: tuple[float, float]) -> list[float]:
    """a, b: (..., K) -> JS divergence of each tap's pooled values."""
    taps = a.shape[-1]
    if b.shape[-1] != taps:
        raise ValueError(f"cannot compare kernels with {taps} and {b.shape[-1]} taps")
    a, b = a.reshape(-1, taps), b.reshape(-1, taps)
    return [js_divergence(a[:, k], b[:, k], value_range) for k in range(taps)]


def _block_stats(kernels: BlockKernels) -> dict:
    V, theta = kernels.importance_map, kernels.adaptive_kernel
    stats = {
        "num_videos": int(V.shape[0]),
        "channels": int(V.shape[1]),
        "num_segments": int(V.shape[2]),
        "kernel_size": int(theta.shape[2]),
        "importance_frame_mean": V.mean(axis=(0, 1)).tolist(),
        "importance_frame_std": V.std(axis=(0, 1)).tolist(),
        "theta_tap_mean": theta.mean(axis=(0, 1)).tolist(),
        "theta_tap_std": theta.std(axis=(0, 1)).tolist(),
        "importance_smoothness": temporal_smoothness(V),
        "theta_smoothness": temporal_smoothness(theta),
    }
    stats["importance_smoother_than_theta"] = stats["importance_smoothness"] < stats["theta_smoothness"]
    if kernels.static_kernel_normalised is not None:
        normalised = kernels.static_kernel_normalised
        stats.update(
            i3d_tap_mean=normalised.mean(axis=0).tolist(),
            i3d_tap_std=normalised.std(axis=0).tolist(),
            i3d_raw_tap_mean=kernels.static_kernel.mean(axis=(0, 1)).tolist(),
            i3d_raw_tap_std=kernels.static_kernel.std(axis=(0, 1)).tolist(),
            i3d_smoothness=temporal_smoothness(normalised),
        )
    return stats


DESCRIPTION = {
    "importance_map": "V, the local branch's sigmoid importance map, per video and channel over the T frames",
    "theta": "Θ, the global branch's video-adaptive kernel (softmax over K taps), per video and channel",
    "i3d": (
        "the static temporal kernels of the I3D 3x1x1 checkpoint's inflated conv in the same block, one per "
        "(output, input) channel pair and tap (t x 3 x 3 convs: spatial taps summed); each pair is divided by "
        "the sum of its |taps| (L1 normalisation) so that, like Θ, the magnitudes of its taps sum to 1 (signs kept); raw statistics "
        "are given as i3d_raw_*"
    ),
    "importance_smoothness": "mean |V[t+1] - V[t]| over videos, channels and frames",
    "theta_smoothness": "mean |Θ[k+1] - Θ[k]| over videos, channels and taps",
    "theta_js": (
        "Jensen-Shannon divergence (bits, 0 = same, 1 = disjoint) between the two data sets' Θ values, per "
        f"tap over all videos and channels, histograms with bins of {BIN_WIDTH} on [0, 1]; theta_js is the mean over taps"
    ),
    "i3d_js": (
        "the same divergence between the two data sets' L1-normalised I3D kernels, per tap over all channel "
        f"pairs, bins of {BIN_WIDTH} on [-1, 1] (same bin width as for Θ)"
    ),
    "observations": (
        "the paper's three observations: V is smoother than Θ (importance_smoothness < theta_smoothness); the "
        "I3D kernels are narrowly distributed (small i3d_tap_std); Θ differs between data sets more than the I3D "
        "kernels do (theta_js > i3d_js)"
    ),
}


# ------------------------------------------------------------------------------------------ figures

def _violins(ax, groups: list[list[np.ndarray]], names: list[str], xlabel: str, title: str, colours) -> None:
    """groups[position][dataset] -> side-by-side violins per position."""
    count = len(names)
    width = 0.8 / count
    for d, name in enumerate(names):
        data = [group[d] for group in groups]
        positions = [p + (d - (count - 1) / 2) * width for p in range(len(groups))]
        parts = ax.violinplot(data, positions=positions, widths=width * 0.95, showmedians=True, showextrema=False)
        for body in parts["bodies"]:
            body.set_facecolor(colours[d])
            body.set_edgecolor(colours[d])
            body.set_alpha(0.6)
        parts["cmedians"].set_color("black")
    ax.set_xticks(range(len(groups)))
    ax.set_xlabel(xlabel)
    ax.set_title(title, fontsize=10)
    ax.grid(axis="y", alpha=0.3)


def _sample(values: np.ndarray, limit: int, rng: np.random.Generator) -> np.ndarray:
    # Violins of a few thousand points look the same as of a million and draw much faster.
    values = np.ravel(values)
    if values.size > limit:
        values = rng.choice(values, size=limit, replace=False)
    return values.astype(np.float64)


def plot_block(block: str, per_dataset: dict[str, BlockKernels], path_stem: Path, max_points: int = 4000) -> list[Path]:
    """One figure for one block: V per frame, Θ per tap, I3D per tap; data sets side by side."""
    # A bare Figure (no pyplot): renders with Agg and leaves the caller's backend and figures alone.
    from matplotlib import colormaps
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    rng = np.random.default_rng(0)
    names = list(per_dataset)
    colours = [colormaps["tab10"](i % 10) for i in range(len(names))]
    have_static = [n for n in names if per_dataset[n].static_kernel_normalised is not None]
    panels = 3 if have_static else 2
    fig = Figure(figsize=(4.6 * panels, 3.6))
    axes = fig.subplots(1, panels)
    first = per_dataset[names[0]]
    num_segments, kernel_size = first.importance_map.shape[2], first.adaptive_kernel.shape[2]
    layer, index = parse_block_name(block)
    _violins(
        axes[0],
        [[_sample(per_dataset[n].importance_map[:, :, t], max_points, rng) for n in names] for t in range(num_segments)],
        names, "frame t", "importance map V (local branch)", colours,
    )
    axes[0].set_xticklabels([str(t + 1) for t in range(num_segments)])
    axes[0].set_ylim(0, 1)
    taps = [str(k - kernel_size // 2) for k in range(kernel_size)]
    _violins(
        axes[1],
        [[_sample(per_dataset[n].adaptive_kernel[:, :, k], max_points, rng) for n in names] for k in range(kernel_size)],
        names, "tap (frame offset)", "adaptive kernel Θ (global branch)", colours,
    )
    axes[1].set_xticklabels(taps)
    axes[1].set_ylim(0, 1)
    if have_static:
        static_taps = per_dataset[have_static[0]].static_kernel_normalised.shape[1]
        _violins(
            axes[2],
            [[_sample(per_dataset[n].static_kernel_normalised[:, k], max_points, rng) for n in have_static]
             for k in range(static_taps)],
            have_static, "tap (frame offset)", "I3D 3x1x1 kernel (L1-normalised)",
            [colours[names.index(n)] for n in have_static],
        )
        axes[2].set_xticklabels([str(k - static_taps // 2) for k in range(static_taps)])
        axes[2].set_ylim(-1, 1)
    fig.legend(handles=[Patch(color=c, alpha=0.6, label=n) for n, c in zip(names, colours)],
               loc="upper right", fontsize=8, frameon=False)
    fig.suptitle(f"{block} ({block_aliases(layer, index)})", fontsize=11, x=0.02, ha="left")
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    written = []
    for suffix in (".png", ".svg"):
        path = path_stem.parent / f"{path_stem.name}{suffix}"  # not with_suffix: "layer4.1" has a dot
        fig.savefig(path, dpi=120)
        written.append(path)
    return written


# ------------------------------------------------------------------------------------------ the analysis

def _spread_indices(count: int, limit: Optional[int]) -> list[int]:
    # Lists are often sorted by class: take evenly spaced videos rather than the first ones.
    if limit is None or limit >= count:
        return list(range(count))
    return sorted(set(np.linspace(0, count - 1, limit).round().astype(int).tolist()))


def _loader_for(dataset: KernelDataset, model: nn.Module, checkpoint: dict, *, max_videos: Optional[int],
                batch_size: int, num_workers: int):
    from torch.utils.data import Subset

    from tanet.data.dataset import build_loader, build_test_dataset
    from tanet.engine.config import TrainConfig
    from tanet.engine.training import data_kwargs

    config = TrainConfig.from_dict(checkpoint["config"]) if isinstance(checkpoint.get("config"), dict) else TrainConfig()
    config.model.num_segments = model.num_segments
    # Labels are not used (a model may be probed on another data set's videos), so they are not checked.
    videos = build_test_dataset(
        dataset.list_file, dataset.root or None, protocol="efficient", size=config.data.size,
        scale_size=config.data.scale_size, num_classes=None, **data_kwargs(config),
    )
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
) -> dict[str, BlockKernels]:
    """V, Θ (and the I3D kernels) of ``blocks`` for one data set, keyed by canonical block name."""
    from tanet.engine.checkpoint import load_trained_model

    model, checkpoint = load_trained_model(dataset.checkpoint)
    canonical = [resolve_block(name, model) for name in blocks]
    loader, count = _loader_for(dataset, model, checkpoint, max_videos=max_videos, batch_size=batch_size,
                                num_workers=num_workers)
    captured = capture_tam_block(model, loader, canonical, device=device, progress=progress, total=count,
                                 desc=dataset.name, source=dataset.checkpoint)
    static = {}
    if dataset.i3d_checkpoint is not None:
        i3d_model, _ = load_trained_model(dataset.i3d_checkpoint)
        for name, block in zip(blocks, canonical):
            try:
                resolve_block(name, i3d_model)
            except BlockNameError as error:
                raise BlockNameError(f"{dataset.i3d_checkpoint}: {error}") from None
            static[block] = static_temporal_kernels(i3d_model, block, source=dataset.i3d_checkpoint)
    result = {}
    for block in canonical:
        importance, theta = captured[block]
        raw = static.get(block)
        result[block] = BlockKernels(
            importance_map=importance.astype(np.float32),
            adaptive_kernel=theta.astype(np.float32),
            static_kernel=None if raw is None else raw.astype(np.float32),
            static_kernel_normalised=None if raw is None else normalise_static_kernels(raw),
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
) -> dict:
    """Extract, summarise and plot the kernels of ``blocks`` for every data set.

    ``blocks=None`` takes the last block of layer3 and of layer4 of the first checkpoint. Returns the
    summary written to ``kernels.json`` plus, under ``"arrays"``, the :class:`BlockKernels` per data set
    and block (not serialised).
    """
    if not datasets:
        raise ValueError("analyse_kernels needs at least one data set")
    names = [d.name for d in datasets]
    if len(set(names)) != len(names):
        raise ValueError(f"data set names must be unique, got {names}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if blocks is None or len(blocks) == 0:
        from tanet.engine.checkpoint import load_trained_model

        blocks = default_blocks(load_trained_model(datasets[0].checkpoint)[0])
    arrays: dict[str, dict[str, BlockKernels]] = {}
    for dataset in datasets:
        arrays[dataset.name] = extract_dataset(dataset, blocks, max_videos=max_videos, batch_size=batch_size,
                                               num_workers=num_workers, device=device, progress=progress)
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
            if kernels.static_kernel is not None:
                npz[f"{name}/{block}/i3d_kernel"] = kernels.static_kernel
                npz[f"{name}/{block}/i3d_kernel_normalised"] = kernels.static_kernel_normalised
        for i, first in enumerate(names):
            for second in names[i + 1:]:
                a, b = per_dataset[first], per_dataset[second]
                theta_js = _per_tap_js(a.adaptive_kernel, b.adaptive_kernel, THETA_RANGE)
                comparison = {"datasets": [first, second], "theta_js_per_tap": theta_js,
                              "theta_js": float(np.mean(theta_js)), "i3d_js_per_tap": None, "i3d_js": None}
                if a.static_kernel_normalised is not None and b.static_kernel_normalised is not None:
                    i3d_js = _per_tap_js(a.static_kernel_normalised, b.static_kernel_normalised, STATIC_RANGE)
                    comparison.update(i3d_js_per_tap=i3d_js, i3d_js=float(np.mean(i3d_js)))
                entry["comparisons"].append(comparison)
        if figures:
            written = plot_block(block, per_dataset, out / f"kernels_{block}")
            entry["figures"] = [p.name for p in written]
        summary["blocks"][block] = entry
    (out / "kernels.json").write_text(json.dumps(summary, indent=2) + "\n")
    np.savez_compressed(out / "kernels.npz", **npz)
    summary["arrays"] = arrays
    return summary


def format_summary(summary: dict) -> str:
    """A short text table of the headline numbers."""
    lines = []
    for block, entry in summary["blocks"].items():
        lines.append(f"{block} ({entry['paper_name']})")
        for name, stats in entry["datasets"].items():
            text = (f"  {name:14s} V smoothness {stats['importance_smoothness']:.4f}  "
                    f"Θ smoothness {stats['theta_smoothness']:.4f}  Θ tap mean "
                    + " ".join(f"{v:.3f}" for v in stats["theta_tap_mean"]))
            if "i3d_tap_std" in stats:
                text += "  I3D tap std " + " ".join(f"{v:.3f}" for v in stats["i3d_tap_std"])
            lines.append(text)
        for comparison in entry["comparisons"]:
            a, b = comparison["datasets"]
            text = f"  JS({a}, {b}): Θ {comparison['theta_js']:.4f}"
            if comparison["i3d_js"] is not None:
                text += f"  I3D {comparison['i3d_js']:.4f}"
            lines.append(text)
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------ CLI

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", action="append", required=True, metavar="PT",
                        help="TANet checkpoint of one data set (repeat once per data set)")
    parser.add_argument("--list", action="append", required=True, dest="list_file", metavar="TXT",
                        help="video list of that data set (one per --checkpoint, same order)")
    parser.add_argument("--root", action="append", default=None, metavar="DIR",
                        help="folder the list paths are relative to (once for all, or once per data set)")
    parser.add_argument("--name", action="append", default=None,
                        help="label of the data set (default: the list file's folder name)")
    parser.add_argument("--i3d-checkpoint", action="append", default=None, metavar="PT",
                        help="I3D 3x1x1 checkpoint trained on that data set (once for all, or once per data set)")
    parser.add_argument("--blocks", nargs="+", default=None,
                        help="blocks to probe: layer3.5 or stage4_6b style (default: last block of layer3 and layer4)")
    parser.add_argument("--out", default="runs/kernels", help="output folder (default runs/kernels)")
    parser.add_argument("--max-videos", type=int, default=None, help="videos per data set (evenly spread over the list)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--workers", type=int, default=0, help="data-loading processes")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N (default cpu)")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--no-figures", action="store_true", help="write only kernels.json and kernels.npz")


def _per_dataset(values: Optional[list], count: int, flag: str) -> list:
    if not values:
        return [None] * count
    if len(values) == 1:
        return values * count
    if len(values) != count:
        raise ValueError(f"{flag} must be given once or once per --checkpoint ({count}), got {len(values)}")
    return list(values)


def datasets_from_args(args: argparse.Namespace) -> list[KernelDataset]:
    count = len(args.checkpoint)
    if len(args.list_file) != count:
        raise ValueError(f"give one --list per --checkpoint: {count} checkpoints, {len(args.list_file)} lists")
    roots = _per_dataset(args.root, count, "--root")
    i3d = _per_dataset(args.i3d_checkpoint, count, "--i3d-checkpoint")
    if args.name:
        if len(args.name) != count:
            raise ValueError(f"give one --name per --checkpoint: {count} checkpoints, {len(args.name)} names")
        names = list(args.name)
    else:
        names = [Path(path).resolve().parent.name or f"set{i + 1}" for i, path in enumerate(args.list_file)]
        if len(set(names)) != len(names):
            names = [f"{name}{i + 1}" for i, name in enumerate(names)]
    return [KernelDataset(n, c, l, r, i) for n, c, l, r, i in zip(names, args.checkpoint, args.list_file, roots, i3d)]


def run(args: argparse.Namespace) -> int:
    from tanet.data.lists import ListFileError
    from tanet.engine.checkpoint import CheckpointError

    try:
        datasets = datasets_from_args(args)
        summary = analyse_kernels(
            datasets, args.blocks, args.out, max_videos=args.max_videos, batch_size=args.batch_size,
            num_workers=args.workers, device=args.device, progress=not args.no_progress,
            figures=not args.no_figures,
        )
    except (ValueError, CheckpointError, ListFileError, FileNotFoundError) as error:
        print(f"tanet kernels: error: {error}", file=sys.stderr)
        return 2
    print(format_summary(summary))
    print(f"wrote {Path(args.out) / 'kernels.json'}, kernels.npz and one figure per block")
    return 0
