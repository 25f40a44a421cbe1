"""Read the architecture (``create_model`` arguments) off a native-layout state dict."""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import torch

__all__ = ["ArchitectureError", "infer_model_config"]

# (bottleneck?, blocks per stage) -> depth, as torchvision's ResNets
_DEPTHS: dict[tuple[bool, tuple[int, ...]], int] = {
    (False, (2, 2, 2, 2)): 18,
    (True, (2, 2, 2, 2)): 26,
    (False, (3, 4, 6, 3)): 34,
    (True, (3, 4, 6, 3)): 50,
    (True, (3, 4, 23, 3)): 101,
}


class ArchitectureError(ValueError):
    """The weights do not describe a model this package can build."""


def _shape(state: Mapping[str, torch.Tensor], key: str) -> tuple[int, ...]:
    if key not in state:
        raise ArchitectureError(f"cannot read the architecture: key {key!r} is missing")
    return tuple(state[key].shape)


def infer_model_config(
    state: Mapping[str, torch.Tensor], *, temporal_shift: bool = False, default_num_segments: int = 8
) -> dict[str, Any]:
    """``create_model`` keyword arguments that rebuild the model these native-layout weights belong to.

    * depth: blocks per stage and block type (a ``conv3`` means bottlenecks);
    * width: ``conv1`` output channels / 64; num_classes: rows of ``fc.weight``;
    * kind: ``tanet`` (``.tam.`` keys), ``i3d311`` / ``i3d333`` (5-D ``conv1`` weights in bottleneck /
      basic blocks), ``tsm``
      (``temporal_shift``, known only from a foreign layout), else ``tsn``;
    * TAM: num_segments = in-features of ``G.0``, alpha = its out-features / T, kernel size = rows
      of ``G.3``, beta = channels / out-channels of ``L.0``, position from the channels it sees,
      ``temporal_stages`` = the stages holding TAMs.

    Weights do not record num_segments for TSN/TSM/I3D (``default_num_segments`` is used) nor the
    dropout rate. Positions whose channels coincide everywhere (b and c in bottlenecks, b and d in
    basic blocks) cannot be told apart: ``b``, the paper's, is assumed; a native ``model_config`` wins.
    """
    stages: dict[int, set[int]] = {}
    for key in state:
        match = re.match(r"^backbone\.layer([1-4])\.(\d+)\.", key)
        if match:
            stages.setdefault(int(match.group(1)), set()).add(int(match.group(2)))
    if sorted(stages) != [1, 2, 3, 4]:
        raise ArchitectureError(f"expected ResNet stages layer1..layer4 under 'backbone.', found {sorted(stages)}")
    layers = tuple(len(stages[stage]) for stage in (1, 2, 3, 4))
    bottleneck = "backbone.layer1.0.conv3.weight" in state
    depth = _DEPTHS.get((bottleneck, layers))
    if depth is None:
        kind = "bottleneck" if bottleneck else "basic"
        raise ArchitectureError(f"no supported ResNet has {kind} blocks {list(layers)} per stage (18/34/50/101)")
    base_channels = _shape(state, "backbone.conv1.weight")[0]
    width = base_channels / 64
    num_classes = _shape(state, "fc.weight")[0]

    tam_prefixes = sorted({key.split(".tam.")[0] for key in state if ".tam." in key})
    config: dict[str, Any] = {"num_classes": num_classes, "width": width}
    if tam_prefixes:
        config.update(_tam_config(state, tam_prefixes, bottleneck))
        family = "tanet"
    elif len(_shape(state, "backbone.layer1.0.conv1.weight")) == 5:
        family = "i3d311" if bottleneck else "i3d333"
        config["num_segments"] = default_num_segments
        config["inflate_size"] = _shape(state, "backbone.layer1.0.conv1.weight")[2]
    else:
        family = "tsm" if temporal_shift else "tsn"
        config["num_segments"] = default_num_segments
    return {"name": f"{family}_r{depth}", **config}


def _tam_config(state: Mapping[str, torch.Tensor], prefixes: list[str], bottleneck: bool) -> dict[str, Any]:
    first = prefixes[0] + ".tam."
    has_global = f"{first}G.0.weight" in state
    has_local = f"{first}L.0.weight" in state
    branches = "both" if has_global and has_local else ("global" if has_global else "local")
    config: dict[str, Any] = {}
    if has_global:
        hidden_frames, num_segments = _shape(state, f"{first}G.0.weight")
        kernel_size = _shape(state, f"{first}G.3.weight")[0]
        if hidden_frames % num_segments:
            raise ArchitectureError(f"{first}G.0.weight: {hidden_frames} hidden units is not a multiple of T={num_segments}")
        config.update(num_segments=num_segments, tam_alpha=hidden_frames // num_segments, tam_kernel_size=kernel_size)
    if has_local:
        hidden_channels, channels, local_kernel = _shape(state, f"{first}L.0.weight")
        beta = channels // hidden_channels
        if channels // beta != hidden_channels:
            raise ArchitectureError(f"{first}L.0.weight: {channels}->{hidden_channels} channels is no integer reduction")
        if has_global and local_kernel != config["tam_kernel_size"]:
            raise ArchitectureError(
                f"TAM with adaptive kernel size {config['tam_kernel_size']} but local conv size {local_kernel}: "
                "this package ties both to tam_kernel_size"
            )
        config.update(tam_beta=beta)
        config.setdefault("tam_kernel_size", local_kernel)
    if not has_global:
        raise ArchitectureError("a TAM without its global branch does not record num_segments; rebuild it by hand")
    config["tam_branches"] = branches
    config["tam_position"] = _tam_position(state, prefixes, bottleneck)
    stages = sorted({int(prefix.split(".")[1][len("layer"):]) for prefix in prefixes})
    if stages != [1, 2, 3, 4]:
        config["temporal_stages"] = stages
    return config


def _tam_position(state: Mapping[str, torch.Tensor], blocks: list[str], bottleneck: bool) -> str:
    """The TA-Block position whose channel count fits every TAM (b preferred: the paper's model)."""
    candidates = ["b", "a", "d"]
    for block in blocks:
        local = f"{block}.tam.L.0.weight"
        if local not in state:  # a global-only TAM does not see channels
            continue
        channels = _shape(state, local)[1]
        conv1_out, conv1_in = _shape(state, f"{block}.conv1.weight")[:2]
        last_out = _shape(state, f"{block}.conv3.weight" if bottleneck else f"{block}.conv2.weight")[0]
        fits = {"b": conv1_out, "a": conv1_in, "d": last_out}
        candidates = [position for position in candidates if fits[position] == channels]
    if not candidates:
        raise ArchitectureError("the TAMs' channel counts fit no single TA-Block position (a, b, c or d)")
    return candidates[0]
