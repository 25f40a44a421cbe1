"""ResNet-18/34/50/101 with temporal insertion points: TANet, TSN, TSM and I3D backbones.

I3D, as the TAM paper's baseline "I3D 3×1×1" (``i3d311_r50`` / ``i3d311_r101``): the 2D ResNet with
every bottleneck's conv1 inflated to a 3×1×1 temporal conv (16 of 16 blocks in ResNet-50), the 2D stem,
no temporal striding; a 2D ImageNet kernel goes onto the centre tap (``inflate_init="centre"``), so the
model starts as the 2D one. MMAction2's ``i3d_r50`` (configs/_base_/models/i3d_r50.py, ``ResNet3d``) differs:
it inflates 9 of 16 blocks (``inflate=((1, 1, 1), (1, 0, 1, 0), (1, 0, 1, 0, 1, 0), (0, 1, 0))``), has a
5×7×7 stem with temporal stride 2 and a temporal-stride-2 max pool, and spreads the 2D kernel evenly over
the taps (``w2d / t``; ``inflate_init="spread"`` here). A BasicBlock (ResNet-18/34) has no 1×1 conv, so
``i3d333_r18`` / ``i3d333_r34`` inflate each block's first 3×3 conv to 3×3×3 instead: they are not 3×1×1
models (the old names ``i3d311_r18`` / ``i3d311_r34`` still build them).

Order (as timm): temporal spec, blocks, the ResNet class, the builders, then one short registered
function per variant. State-dict keys are torchvision's (``conv1``, ``bn1``, ``layerS.B.conv1`` …,
``layerS.B.downsample.0/1``, ``fc``), so an ImageNet checkpoint from torchvision or timm loads with
``strict=True`` into :func:`resnet50` and friends, and into the 2D part of every video model
(``tanet.create_model(..., pretrained=FILE)``). Temporal modules add keys of their own (``layerS.B.tam.*``); I3D's
inflated conv keeps the key ``conv1.weight`` with a 5D shape.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from tanet.modules.tam import TAM, Branches
from tanet.modules.temporal import InflatedConv, TemporalShift

from .recognizer import VideoRecognizer
from ._registry import register_alias, register_model

TemporalKind = Literal["none", "tam", "shift", "inflate"]
TAMPosition = Literal["a", "b", "c", "d"]

__all__ = [
    "TemporalSpec",
    "BasicBlock",
    "Bottleneck",
    "ResNet",
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
]


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
            raise ValueError(f"unknown temporal kind {self.kind!r}")
        if self.tam_position not in ("a", "b", "c", "d"):
            raise ValueError(f"tam_position must be one of 'a', 'b', 'c', 'd', got {self.tam_position!r}")
        if self.inflate_init not in InflatedConv.INITS:
            raise ValueError(f"inflate_init must be one of {', '.join(InflatedConv.INITS)}, got {self.inflate_init!r}")

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


def _conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class _TemporalBlockMixin:
    """The residual branch's temporal hooks shared by both block types."""

    temporal: TemporalSpec

    def _init_temporal(self, temporal: TemporalSpec, channels_at: Mapping[str, int]) -> None:
        self.temporal = temporal
        self.tam_position = temporal.tam_position if temporal.kind == "tam" else None
        if temporal.kind == "tam":
            if temporal.tam_position not in channels_at:
                raise ValueError(
                    f"{type(self).__name__} has no TAM position {temporal.tam_position!r}; "
                    f"valid: {sorted(channels_at)}"
                )
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
        self._init_temporal(temporal, {"a": inplanes, "b": planes, "d": planes})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(self._residual_input(x))))
        out = self._at("d", self.bn2(self._conv_after("b", out, self.conv2)))
        return self.relu(out + identity)


class Bottleneck(_TemporalBlockMixin, nn.Module):
    """ResNet-50/101 block. TAM positions (the paper's TA-Block styles): a (before conv1),
    b (after conv1-bn1-relu, the paper's model), c (after conv2-bn2-relu), d (after conv3-bn3)."""

    expansion = 4

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
            self.conv1 = _conv1x1(inplanes, width)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = _conv3x3(width, width, stride)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = _conv1x1(width, out_planes)
        self.bn3 = nn.BatchNorm2d(out_planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride
        self._init_temporal(temporal, {"a": inplanes, "b": width, "c": width, "d": out_planes})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(self._residual_input(x))))
        out = self.relu(self.bn2(self._conv_after("b", out, self.conv2)))
        out = self._at("d", self.bn3(self._conv_after("c", out, self.conv3)))
        return self.relu(out + identity)


class ResNet(nn.Module):
    """torchvision's ResNet (same keys), with a width multiplier and temporal modules per stage.

    Args:
        block, layers: block type and blocks per stage.
        num_classes: classifier size; 0 leaves out ``fc`` (a backbone).
        width: channel multiplier (0.25 gives a ResNet with 16..128 base channels for CPU work).
        temporal: the temporal spec every block of ``temporal_stages`` (1..4 = layer1..layer4) gets;
            a temporal shift goes into every other block of each stage when layer3 has >= 23 blocks
            (ResNet-101), as official TSM's ``make_temporal_shift`` (mit-han-lab/temporal-shift-module
            ops/temporal_shift.py:120-137, place 'blockres': ``n_round = 2 if len(layer3) >= 23 else 1``,
            block i shifts iff ``i % n_round == 0``) and MMAction2's ResNetTSM do.
    """

    def __init__(
        self,
        block: type[BasicBlock] | type[Bottleneck],
        layers: Sequence[int],
        num_classes: int = 1000,
        width: float = 1.0,
        temporal: TemporalSpec = NO_TEMPORAL,
        temporal_stages: Sequence[int] = (1, 2, 3, 4),
    ) -> None:
        super().__init__()
        if width <= 0:
            raise ValueError(f"width must be positive, got {width}")
        unknown_stages = sorted(set(temporal_stages) - {1, 2, 3, 4})
        if unknown_stages:
            raise ValueError(f"temporal_stages must be within 1..4, got {list(temporal_stages)}")
        self.block = block
        self.layers = tuple(layers)
        self.width = width
        self.temporal = temporal
        self.temporal_stages = tuple(temporal_stages)
        base = max(int(round(64 * width)), 1)
        self.inplanes = base
        self.conv1 = nn.Conv2d(3, base, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(base)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        for stage, blocks in enumerate(layers, start=1):
            stage_temporal = temporal if stage in self.temporal_stages else NO_TEMPORAL
            stride = 1 if stage == 1 else 2
            setattr(self, f"layer{stage}", self._make_layer(block, base * 2 ** (stage - 1), blocks, stride, stage_temporal))
        self.num_features = self.inplanes
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.num_classes = num_classes
        if num_classes > 0:
            self.fc = nn.Linear(self.num_features, num_classes)
        self._init_weights()

    def _make_layer(
        self, block: type[BasicBlock] | type[Bottleneck], planes: int, blocks: int, stride: int, temporal: TemporalSpec
    ) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                _conv1x1(self.inplanes, planes * block.expansion, stride),
                nn.BatchNorm2d(planes * block.expansion),
            )
        every = 2 if temporal.kind == "shift" and self.layers[2] >= 23 else 1
        per_block = [temporal if index % every == 0 else NO_TEMPORAL for index in range(blocks)]
        layers = [block(self.inplanes, planes, stride, downsample, per_block[0])]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes, temporal=per_block[index]) for index in range(1, blocks)]
        return nn.Sequential(*layers)

    def _init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))

    def forward_head(self, features: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        pooled = torch.flatten(self.avgpool(features), 1)
        return pooled if pre_logits or self.num_classes == 0 else self.fc(pooled)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


# ---------------------------------------------------------------------------------------------
# Builders


_DEPTHS: dict[int, tuple[type[BasicBlock] | type[Bottleneck], tuple[int, ...]]] = {
    18: (BasicBlock, (2, 2, 2, 2)),
    34: (BasicBlock, (3, 4, 6, 3)),
    50: (Bottleneck, (3, 4, 6, 3)),
    101: (Bottleneck, (3, 4, 23, 3)),
}


def _resnet(depth: int, **kwargs) -> ResNet:
    block, layers = _DEPTHS[depth]
    return ResNet(block, layers, **kwargs)


def resnet18(**kwargs) -> ResNet:
    """Plain 2D ResNet-18 (torchvision keys)."""
    return _resnet(18, **kwargs)


def resnet34(**kwargs) -> ResNet:
    """Plain 2D ResNet-34 (torchvision keys)."""
    return _resnet(34, **kwargs)


def resnet50(**kwargs) -> ResNet:
    """Plain 2D ResNet-50 (torchvision keys)."""
    return _resnet(50, **kwargs)


def resnet101(**kwargs) -> ResNet:
    """Plain 2D ResNet-101 (torchvision keys)."""
    return _resnet(101, **kwargs)


# ---------------------------------------------------------------------------------------------
# Video models: one short registered function per variant


def _video_resnet(
    depth: int,
    kind: TemporalKind,
    *,
    num_classes: int = 400,
    num_segments: int = 8,
    dropout: float = 0.5,
    width: float = 1.0,
    temporal_stages: Sequence[int] = (1, 2, 3, 4),
    **temporal_options,
) -> VideoRecognizer:
    valid = set(TemporalSpec.__dataclass_fields__) - {"kind", "num_segments"}
    unknown = sorted(set(temporal_options) - valid)
    if unknown:
        raise TypeError(
            f"unknown model option(s) {unknown}; valid: num_classes, num_segments, dropout, width, "
            f"temporal_stages, {', '.join(sorted(valid))}"
        )
    temporal = TemporalSpec(kind=kind, num_segments=num_segments, **temporal_options)
    backbone = _resnet(depth, num_classes=0, width=width, temporal=temporal, temporal_stages=tuple(temporal_stages))
    return VideoRecognizer(backbone, num_classes=num_classes, num_segments=num_segments, dropout=dropout)


@register_model
def tanet_r18(**kwargs) -> VideoRecognizer:
    """TANet on ResNet-18 (BasicBlock; TAM positions a, b, d)."""
    return _video_resnet(18, "tam", **kwargs)


@register_model
def tanet_r34(**kwargs) -> VideoRecognizer:
    """TANet on ResNet-34 (BasicBlock; TAM positions a, b, d)."""
    return _video_resnet(34, "tam", **kwargs)


@register_model
def tanet_r50(**kwargs) -> VideoRecognizer:
    """TANet-R50, the paper's main model (TA-Block style b in every bottleneck)."""
    return _video_resnet(50, "tam", **kwargs)


@register_model
def tanet_r101(**kwargs) -> VideoRecognizer:
    """TANet-R101."""
    return _video_resnet(101, "tam", **kwargs)


@register_model
def tsn_r18(**kwargs) -> VideoRecognizer:
    """TSN on ResNet-18: no temporal modelling, average consensus of per-frame logits."""
    return _video_resnet(18, "none", **kwargs)


@register_model
def tsn_r34(**kwargs) -> VideoRecognizer:
    """TSN on ResNet-34."""
    return _video_resnet(34, "none", **kwargs)


@register_model
def tsn_r50(**kwargs) -> VideoRecognizer:
    """TSN on ResNet-50."""
    return _video_resnet(50, "none", **kwargs)


@register_model
def tsn_r101(**kwargs) -> VideoRecognizer:
    """TSN on ResNet-101."""
    return _video_resnet(101, "none", **kwargs)


@register_model
def tsm_r18(**kwargs) -> VideoRecognizer:
    """TSM on ResNet-18: residual temporal shift (1/8 of channels each way) before conv1."""
    return _video_resnet(18, "shift", **kwargs)


@register_model
def tsm_r34(**kwargs) -> VideoRecognizer:
    """TSM on ResNet-34."""
    return _video_resnet(34, "shift", **kwargs)


@register_model
def tsm_r50(**kwargs) -> VideoRecognizer:
    """TSM on ResNet-50."""
    return _video_resnet(50, "shift", **kwargs)


@register_model
def tsm_r101(**kwargs) -> VideoRecognizer:
    """TSM on ResNet-101: the shift in every other block of each stage (blocks 0, 2, 4, ...), as official TSM."""
    return _video_resnet(101, "shift", **kwargs)


@register_model
def i3d333_r18(**kwargs) -> VideoRecognizer:
    """I3D on ResNet-18: each BasicBlock's first 3×3 conv inflated to 3×3×3 (not 3×1×1: a BasicBlock has
    no 1×1 conv)."""
    return _video_resnet(18, "inflate", **kwargs)


@register_model
def i3d333_r34(**kwargs) -> VideoRecognizer:
    """I3D on ResNet-34: each BasicBlock's first 3×3 conv inflated to 3×3×3."""
    return _video_resnet(34, "inflate", **kwargs)


@register_model
def i3d311_r50(**kwargs) -> VideoRecognizer:
    """I3D 3×1×1 on ResNet-50, the TAM paper's baseline: every bottleneck's conv1 inflated to a static 3×1×1
    temporal conv (all 16 blocks; 2D stem; 2D weights on the centre tap unless ``inflate_init="spread"``)."""
    return _video_resnet(50, "inflate", **kwargs)


@register_model
def i3d311_r101(**kwargs) -> VideoRecognizer:
    """I3D 3×1×1 on ResNet-101: every bottleneck's conv1 inflated to 3×1×1."""
    return _video_resnet(101, "inflate", **kwargs)


# Names of earlier releases: checkpoints and scripts that use them keep working.
register_alias("i3d311_r18", "i3d333_r18")
register_alias("i3d311_r34", "i3d333_r34")
