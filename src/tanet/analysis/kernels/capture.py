"""Reading a model's kernels: V and Θ of chosen TAM blocks over a loader, I3D's static kernels of a block."""
from __future__ import annotations

import sys
from typing import Any, Optional, Sequence, Union

import numpy as np
import torch
from torch import nn

from tanet.errors import TanetError, UsageError
from tanet.models.block_names import BlockNameError, named_blocks
from tanet.modules.tam import TAM, TAMCapture
from tanet.modules.temporal import InflatedConv

__all__ = ["capture_tam_block", "static_temporal_kernels"]


def _tam_of(model: nn.Module, block: str, source: Any) -> tuple[str, TAM]:
    module = named_blocks(model)[block]
    tam = getattr(module, "tam", None)
    if not isinstance(tam, TAM):
        with_tam = [name for name, blk in named_blocks(model).items() if isinstance(getattr(blk, "tam", None), TAM)]
        raise BlockNameError(
            f"{source}: block {block} has no TAM (is this a TANet checkpoint? are its temporal_stages "
            f"set?); blocks with TAM: {', '.join(with_tam) or 'none'}"
        )
    if tam.branches != "both":
        raise UsageError(
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

    ``loader`` yields :class:`tanet.data.Batch` es of single-view clips (N, 3, T, H, W), or of several views
    per video (N, views, 3, T, H, W): V and Θ then keep the view axis, (N, views, C, T) and (N, views, C, K).
    ``blocks`` are canonical ``layerS.B`` names whose TAM is read through :class:`TAMCapture`.
    """
    names = {block: _tam_of(model, block, source)[0] for block in blocks}
    model.eval().to(device)
    views = None
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc=desc, unit="video", dynamic_ncols=True, file=sys.stderr)
    try:
        with TAMCapture(model, names=list(names.values())) as capture, torch.no_grad():
            for batch in loader:
                clips = batch.clips
                done = clips.shape[0] if clips.numel() else 0
                if done:
                    if clips.dim() not in (5, 6) or (views is not None and (clips.dim() == 6) != (views > 0)):
                        raise ValueError(f"expected clips (N, 3, T, H, W) or (N, views, 3, T, H, W), the same "
                                         f"for every batch; got a batch of shape {tuple(clips.shape)}")
                    views = clips.shape[1] if clips.dim() == 6 else 0
                    model((clips.flatten(0, 1) if views else clips).to(device))
                if bar is not None:
                    bar.update(done + int(batch.num_skipped))
    finally:
        if bar is not None:
            bar.close()
    result = {}
    for block, name in names.items():
        if not capture.records.get(name):
            raise TanetError(f"{source}: no video could be read, nothing was captured")
        stacked = capture.stacked(name)
        importance, kernel = stacked.importance_map.numpy(), stacked.adaptive_kernel.numpy()
        if views:  # clips of one video are adjacent (flattened video-major)
            importance = importance.reshape(-1, views, *importance.shape[1:])
            kernel = kernel.reshape(-1, views, *kernel.shape[1:])
        result[block] = (importance, kernel)
    return result


def static_temporal_kernels(model: nn.Module, block: str, source: Any = None) -> np.ndarray:
    """I3D's static temporal kernels of a block's inflated conv: (out, in, K).

    For the 3×1×1 conv of a bottleneck this is the weight itself; for a t×3×3 conv (BasicBlock models)
    the spatial taps are summed, i.e. the temporal response to a spatially uniform input.
    """
    module = named_blocks(model)[block]
    conv = getattr(module, "conv1", None)
    if not isinstance(conv, InflatedConv):
        inflated = [name for name, blk in named_blocks(model).items()
                    if isinstance(getattr(blk, "conv1", None), InflatedConv)]
        raise BlockNameError(
            f"{source}: block {block} has no inflated (I3D) conv; is this an I3D (i3d311_* / i3d333_*) "
            f"checkpoint? blocks with one: {', '.join(inflated) or 'none'}"
        )
    weight = conv.weight.detach().float().cpu()
    return weight.sum(dim=(3, 4)).numpy()
