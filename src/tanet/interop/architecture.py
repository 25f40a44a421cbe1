"""Read the architecture (``create_model`` arguments) off a native-layout state dict, and say what the
weights leave open.

Weights fix the depth, the width, the classes and a TAM's shape, but not everything: TSM's shift has
no weights (a TSN and a TSM state dict are the same keys), TSN/TSM/I3D weights do not depend on the
frames per clip T, and a TAM after conv1 sees as many channels as one after conv2 (bottlenecks: b and
c; basic blocks: b and d). :func:`infer_architecture` reports those as ``undetermined`` with their
candidates instead of guessing; the file's other records (a native ``model_config``, the layout of
the code that wrote it) or the user settle them (:func:`tanet.interop.loading.settle_architecture`).
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Optional

import torch

from tanet.checkpoint import CheckpointError
from tanet.errors import UsageError

__all__ = ["ArchitectureError", "AmbiguousArchitectureError", "InferredArchitecture", "infer_architecture",
           "infer_model_config", "SETTLED_BY"]

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


class AmbiguousArchitectureError(CheckpointError, UsageError):
    """The file does not determine the model (exit code 2: the command must say which)."""


# architecture key -> (command-line flag, Python argument) that settles it
SETTLED_BY = {"name": ("--model", "the model name"), "num_segments": ("--segments", "num_segments="),
              "tam_position": ("--tam-position", "tam_position=")}


@dataclass(frozen=True)
class InferredArchitecture:
    """``config``: the ``create_model`` arguments the weights determine; ``undetermined``: the
    arguments they leave open, each with its candidates (empty: any value, e.g. the frames T)."""

    config: dict[str, Any]
    undetermined: dict[str, tuple] = field(default_factory=dict)


def _shape(state: Mapping[str, torch.Tensor], key: str) -> tuple[int, ...]:
    if key not in state:
        raise ArchitectureError(f"cannot read the architecture: key {key!r} is missing")
    return tuple(state[key].shape)


def infer_architecture(state: Mapping[str, torch.Tensor], *, temporal_shift: Optional[bool] = None,
                       tam_position: Optional[str] = None) -> InferredArchitecture:
    """What native-layout weights say about their model, and what they leave open.

    * depth: blocks per stage and block type (a ``conv3`` means bottlenecks);
    * width: ``conv1`` output channels / 64; num_classes: rows of ``fc.weight``;
    * kind: ``tanet`` (``.tam.`` keys), ``i3d311`` / ``i3d333`` (5-D ``conv1`` weights in bottleneck /
      basic blocks), else ``tsm`` or ``tsn``: ``temporal_shift`` says which when the layout shows the
      shift (a foreign TSM wraps conv1); None (native keys): both stay candidates;
    * TAM: num_segments = in-features of ``G.0``, alpha = its out-features / T, kernel size = rows of
      ``G.3``, beta = channels / out-channels of ``L.0``, ``temporal_stages`` = the stages holding
      TAMs; the position from the channels each TAM sees, unless ``tam_position`` (the one position
      the writing code has, e.g. the official TAM code's b) is given, which must fit them.

    num_segments of TSN/TSM/I3D and positions whose channels coincide are left undetermined.
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
        raise ArchitectureError(f"no supported ResNet has {kind} blocks {list(layers)} per stage")
    base_channels = _shape(state, "backbone.conv1.weight")[0]
    config: dict[str, Any] = {"num_classes": _shape(state, "fc.weight")[0], "width": base_channels / 64}
    undetermined: dict[str, tuple] = {}
    tam_prefixes = sorted({key.split(".tam.")[0] for key in state if ".tam." in key})
    if tam_prefixes:
        config["name"] = f"tanet_r{depth}"
        config.update(_tam_config(state, tam_prefixes, bottleneck))
        positions = _tam_positions(state, tam_prefixes, bottleneck)
        if tam_position is not None:
            if tam_position not in positions:
                raise ArchitectureError(f"the TAMs' channel counts do not fit TA-Block position {tam_position!r}, "
                                        "the one the code that wrote this layout has")
            positions = [tam_position]
        if len(positions) == 1:
            config["tam_position"] = positions[0]
        else:
            undetermined["tam_position"] = tuple(positions)
        return InferredArchitecture(config, undetermined)
    undetermined["num_segments"] = ()
    if len(_shape(state, "backbone.layer1.0.conv1.weight")) == 5:
        config["name"] = f"{'i3d311' if bottleneck else 'i3d333'}_r{depth}"
        config["inflate_size"] = _shape(state, "backbone.layer1.0.conv1.weight")[2]
    elif temporal_shift is None:
        undetermined["name"] = (f"tsn_r{depth}", f"tsm_r{depth}")
    else:
        config["name"] = f"{'tsm' if temporal_shift else 'tsn'}_r{depth}"
    return InferredArchitecture(config, undetermined)


def infer_model_config(state: Mapping[str, torch.Tensor], *, temporal_shift: Optional[bool] = None) -> dict[str, Any]:
    """The ``create_model`` arguments the weights determine (see :func:`infer_architecture`)."""
    return dict(infer_architecture(state, temporal_shift=temporal_shift).config)


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
    stages = sorted({int(prefix.split(".")[1][len("layer"):]) for prefix in prefixes})
    if stages != [1, 2, 3, 4]:
        config["temporal_stages"] = stages
    return config


def _tam_positions(state: Mapping[str, torch.Tensor], blocks: list[str], bottleneck: bool) -> list[str]:
    """The TA-Block positions whose channel count fits every TAM (the paper's b first)."""
    candidates = ["b", "c", "a", "d"] if bottleneck else ["b", "a", "d"]
    for block in blocks:
        local = f"{block}.tam.L.0.weight"
        if local not in state:  # a global-only TAM does not see channels
            continue
        channels = _shape(state, local)[1]
        conv1_out, conv1_in = _shape(state, f"{block}.conv1.weight")[:2]
        conv2_out = _shape(state, f"{block}.conv2.weight")[0]
        last_out = _shape(state, f"{block}.conv3.weight" if bottleneck else f"{block}.conv2.weight")[0]
        fits = {"b": conv1_out, "c": conv2_out, "a": conv1_in, "d": last_out}
        candidates = [position for position in candidates if fits[position] == channels]
    if not candidates:
        raise ArchitectureError("the TAMs' channel counts fit no single TA-Block position (a, b, c or d)")
    return candidates
