"""Figures of V, Θ and the I3D kernels: one per block, data sets side by side (matplotlib only)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from tanet.models.block_names import block_aliases, parse_block_name

from .statistics import BlockKernels

__all__ = ["plot_block"]


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
        # raw values on Θ's axis (the supplementary's figures): L1 normalisation would hide how narrow they are
        static_taps = per_dataset[have_static[0]].static_kernel.shape[-1]
        _violins(
            axes[2],
            [[_sample(per_dataset[n].static_kernel.reshape(-1, static_taps)[:, k], max_points, rng)
              for n in have_static] for k in range(static_taps)],
            have_static, "tap (frame offset)", "I3D temporal kernel (raw values, Θ's axis)",
            [colours[names.index(n)] for n in have_static],
        )
        axes[2].set_xticklabels([str(k - static_taps // 2) for k in range(static_taps)])
        low = min(0.0, *(float(per_dataset[n].static_kernel.min()) for n in have_static))
        axes[2].set_ylim(max(low, -1.0), 1)
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
