"""The residual blocks of the ResNet family with their temporal insertion points, and the spec that says
which temporal module a block gets (TAM, TSM's shift, I3D's inflated conv) and where.

A block knows the channels each of its TA-Block positions sees (:meth:`BasicBlock.channels_at`,
:meth:`Bottleneck.channels_at`), so that a ResNet can refuse a position or a width that cannot work
before it builds anything (:mod:`tanet.models.resnet`).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from tanet.errors import UsageError
from tanet.modules.tam import TAM, Branches
from tanet.modules.temporal import InflatedConv, TemporalShift

TemporalKind = Literal["none", "tam", "shift", "inflate"]
TAMPosition = Literal["a", "b", "c", "d"]

__all__ = ["TemporalKind", "TAMPosition", "TemporalSpec", "NO_TEMPORAL", "BasicBlock", "Bottleneck", "conv1x1",
           "check_tam_position", "zero_init_last"]


@dataclass(frozen=True)
class TemporalSpec:
    """What temporal modelling a block gets, and where."""

    kind: TemporalKind = "none"
    num_segments: int = 8
    tam_position: TAMPosition = "b"
    tam_alpha: int = 2
    tam_beta: int = 4
    tam_kernel_size: int = 3
    tam_branches: Branches = "both"
    shift_fold_div: int = 8
    inflate_size: int = 3
    inflate_init: str = "centre"  # how a 2D kernel fills an inflated one: "centre" tap or "spread" (MMAction2)

    def __post_init__(self) -> None:
        if self.kind not in ("none", "tam", "shift", "inflate"):
            raise UsageError(f"unknown temporal kind {self.kind!r}")
        if self.tam_position not in ("a", "b", "c", "d"):
            raise UsageError(f"tam_position must be one of 'a', 'b', 'c', 'd', got {self.tam_position!r}")
        if self.inflate_init not in InflatedConv.INITS:
            raise UsageError(f"inflate_init must be one of {', '.join(InflatedConv.INITS)}, got {self.inflate_init!r}")

    def make_tam(self, channels: int) -> TAM:
        return TAM(
            channels,
            self.num_segments,
            alpha=self.tam_alpha,
            beta=self.tam_beta,
            kernel_size=self.tam_kernel_size,
            branches=self.tam_branches,
        )


NO_TEMPORAL = TemporalSpec()


def _conv3x3(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, bias=False)


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


def check_tam_position(block: type[BasicBlock] | type[Bottleneck], position: str, network: str = "") -> None:
    """Refuse a TA-Block style that ``block`` does not have (style c exists only in a bottleneck)."""
    if position in block.TAM_POSITIONS:
        return
    owner = f"{network} ({block.__name__})" if network else block.__name__
    hint = (": style c sits between a bottleneck's 3×3 conv2 and its 1×1 conv3; use a Bottleneck model such as "
            "tanet_r26 or tanet_r50") if position == "c" else ""
    raise UsageError(f"{owner} has no TA-Block style {position!r} (styles: {', '.join(block.TAM_POSITIONS)}){hint}")


class _TemporalBlockMixin:
    """The residual branch's temporal hooks shared by both block types."""

    temporal: TemporalSpec

    def _init_temporal(self, temporal: TemporalSpec, channels_at: Mapping[str, int]) -> None:
        self.temporal = temporal
        self.tam_position = temporal.tam_position if temporal.kind == "tam" else None
        if temporal.kind == "tam":
            check_tam_position(type(self), temporal.tam_position)
            self.tam = temporal.make_tam(channels_at[temporal.tam_position])
        if temporal.kind == "shift":
            self.shift = TemporalShift(temporal.num_segments, temporal.shift_fold_div)

    def _at(self, position: str, x: torch.Tensor) -> torch.Tensor:
        return self.tam(x) if self.tam_position == position else x

    def _conv_after(self, position: str, x: torch.Tensor, conv: nn.Module) -> torch.Tensor:
        """``conv(tam(x))`` when TAM sits at ``position``, run so that TAM's output is not kept for the
        backward (see :meth:`TAM.forward_then_conv`); ``conv(x)`` otherwise."""
        return self.tam.forward_then_conv(x, conv) if self.tam_position == position else conv(x)

    def _residual_input(self, x: torch.Tensor) -> torch.Tensor:
        if self.temporal.kind == "shift":
            x = self.shift(x)
        return self._at("a", x)


class BasicBlock(_TemporalBlockMixin, nn.Module):
    """ResNet-18/34 block. TAM positions: a (block input), b (after conv1-bn1-relu), d (after conv2-bn2)."""

    expansion = 1
    TAM_POSITIONS = ("a", "b", "d")

    @staticmethod
    def channels_at(inplanes: int, planes: int) -> dict[str, int]:
        """The channels a TAM sees at each position of a block built with ``inplanes``, ``planes``."""
        return {"a": inplanes, "b": planes, "d": planes}

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        temporal: TemporalSpec = NO_TEMPORAL,
    ) -> None:
        super().__init__()
        if temporal.kind == "inflate":
            self.conv1 = InflatedConv(
                inplanes, planes, temporal.num_segments, kernel_size=3,
                temporal_size=temporal.inflate_size, stride=stride, padding=1, init=temporal.inflate_init,
            )
        else:
            self.conv1 = _conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = _conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.stride = stride
        self._init_temporal(temporal, self.channels_at(inplanes, planes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(self._residual_input(x))))
        out = self._at("d", self.bn2(self._conv_after("b", out, self.conv2)))
        return self.relu(out + identity)

    def zero_init_last(self) -> None:
        """Start the residual branch at zero: the block begins as its shortcut (see :func:`zero_init_last`)."""
        nn.init.zeros_(self.bn2.weight)


class Bottleneck(_TemporalBlockMixin, nn.Module):
    """ResNet-26/50/101 block. TAM positions (the paper's TA-Block styles): a (before conv1),
    b (after conv1-bn1-relu, the paper's model), c (after conv2-bn2-relu), d (after conv3-bn3)."""

    expansion = 4
    TAM_POSITIONS = ("a", "b", "c", "d")

    @staticmethod
    def channels_at(inplanes: int, planes: int) -> dict[str, int]:
        """The channels a TAM sees at each position of a block built with ``inplanes``, ``planes``."""
        return {"a": inplanes, "b": planes, "c": planes, "d": planes * Bottleneck.expansion}

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        temporal: TemporalSpec = NO_TEMPORAL,
    ) -> None:
        super().__init__()
        width = planes
        out_planes = planes * self.expansion
        if temporal.kind == "inflate":
            self.conv1 = InflatedConv(inplanes, width, temporal.num_segments, temporal_size=temporal.inflate_size,
                                      init=temporal.inflate_init)
        else:
            self.conv1 = conv1x1(inplanes, width)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = _conv3x3(width, width, stride)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = conv1x1(width, out_planes)
        self.bn3 = nn.BatchNorm2d(out_planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride
        self._init_temporal(temporal, self.channels_at(inplanes, planes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(self._residual_input(x))))
        out = self.relu(self.bn2(self._conv_after("b", out, self.conv2)))
        out = self._at("d", self.bn3(self._conv_after("c", out, self.conv3)))
        return self.relu(out + identity)

    def zero_init_last(self) -> None:
        """Start the residual branch at zero: the block begins as its shortcut (see :func:`zero_init_last`)."""
        nn.init.zeros_(self.bn3.weight)


def zero_init_last(model: nn.Module) -> int:
    """Zero the scale of every residual block's last BatchNorm (Goyal et al. 2017; timm's ``zero_init_last``),
    so that a network trained from random weights starts as a chain of shortcuts. Returns the blocks changed.

    Why: with the scale at 1, each random residual branch adds its full variance, the activations grow with
    depth, and SGD from scratch (lr 0.01, batch 8) sent the first epochs' validation loss to 13-110 (issue 19).
    A TAM at position d sees the zero output and passes zeros, so the block is still its shortcut.
    """
    blocks = [module for module in model.modules() if isinstance(module, (BasicBlock, Bottleneck))]
    for block in blocks:
        block.zero_init_last()
    return len(blocks)
