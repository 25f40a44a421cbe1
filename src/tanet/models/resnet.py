"""ResNet-18/26/34/50/101 with temporal insertion points: TANet, TSN, TSM and I3D backbones.

ResNet-26 (Bottleneck blocks [2, 2, 2, 2], the layout timm calls ``resnet26``) is the smallest ResNet with
bottlenecks: it has all four TA-Block styles and the paper's I3D 3×1×1 at the cost of a ResNet-18, which
makes it the CPU-sized stand-in for ResNet-50 (``tanet_r26``, ``tsn_r26``, ``tsm_r26``, ``i3d311_r26``).

I3D, as the TAM paper's baseline "I3D 3×1×1" (``i3d311_r50`` / ``i3d311_r101`` / ``i3d311_r26``): the 2D
ResNet with every bottleneck's conv1 inflated to a 3×1×1 temporal conv (16 of 16 blocks in ResNet-50, 8 of 8
in ResNet-26), the 2D stem, no temporal striding; a 2D ImageNet kernel goes onto the centre tap
(``inflate_init="centre"``), so the model starts as the 2D one. MMAction2's ``i3d_r50``
(configs/_base_/models/i3d_r50.py, ``ResNet3d``) differs: it inflates 9 of 16 blocks
(``inflate=((1, 1, 1), (1, 0, 1, 0), (1, 0, 1, 0, 1, 0), (0, 1, 0))``), has a 5×7×7 stem with temporal
stride 2 and a temporal-stride-2 max pool, and spreads the 2D kernel evenly over the taps (``w2d / t``;
``inflate_init="spread"`` here). A BasicBlock (ResNet-18/34) has no 1×1 conv, so ``i3d333_r18`` /
``i3d333_r34`` inflate each block's first 3×3 conv to 3×3×3 instead: they are not 3×1×1 models (the old
names ``i3d311_r18`` / ``i3d311_r34`` still build them).

Order (as timm): the ResNet class, the builders, then one short registered function per variant (the blocks
and the temporal spec live in :mod:`tanet.models.blocks`). State-dict keys are torchvision's (``conv1``,
``bn1``, ``layerS.B.conv1`` …, ``layerS.B.downsample.0/1``, ``fc``), so an ImageNet checkpoint from
torchvision or timm loads with ``strict=True`` into :func:`resnet50` and friends, and into the 2D part of
every video model (``tanet.create_model(..., pretrained=FILE)``). Temporal modules add keys of their own
(``layerS.B.tam.*``); I3D's inflated conv keeps the key ``conv1.weight`` with a 5D shape.
"""
from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import torch
from torch import nn

from tanet.errors import UsageError

from .blocks import NO_TEMPORAL, BasicBlock, Bottleneck, TemporalKind, TemporalSpec, check_tam_position, conv1x1
from .recognizer import VideoRecognizer
from ._registry import register_alias, register_model

__all__ = [
    "TemporalSpec",
    "BasicBlock",
    "Bottleneck",
    "ResNet",
    "resnet18",
    "resnet26",
    "resnet34",
    "resnet50",
    "resnet101",
]

BASE_CHANNELS = 64  # conv1's output channels at width 1


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
        unknown_stages = sorted(set(temporal_stages) - {1, 2, 3, 4})
        if unknown_stages:
            raise UsageError(f"temporal_stages must be within 1..4, got {list(temporal_stages)}")
        base = _check_architecture(block, tuple(layers), width, temporal, tuple(temporal_stages))
        self.block = block
        self.layers = tuple(layers)
        self.width = width
        self.temporal = temporal
        self.temporal_stages = tuple(temporal_stages)
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
                conv1x1(self.inplanes, planes * block.expansion, stride),
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


def _block_channels(block: type[BasicBlock] | type[Bottleneck], layers: Sequence[int],
                    base: int) -> Iterator[tuple[int, int, int, int]]:
    """(stage, index, inplanes, planes) of every block, in the order ``ResNet._make_layer`` builds them."""
    inplanes = base
    for stage, blocks in enumerate(layers, start=1):
        planes = base * 2 ** (stage - 1)
        for index in range(blocks):
            yield stage, index, inplanes, planes
            inplanes = planes * block.expansion


def _network_name(block: type[BasicBlock] | type[Bottleneck], layers: tuple[int, ...]) -> str:
    depths = [depth for depth, (kind, blocks) in _DEPTHS.items() if (kind, blocks) == (block, layers)]
    return f"ResNet-{depths[0]}" if depths else f"a ResNet with {list(layers)} blocks"


def _check_architecture(block: type[BasicBlock] | type[Bottleneck], layers: tuple[int, ...], width: float,
                        temporal: TemporalSpec, temporal_stages: tuple[int, ...]) -> int:
    """The base channel count of ``width``; refuses a TA-Block style the block lacks and a width too small to
    build, naming the smallest width that works (every channel count is a multiple of the base)."""
    if temporal.kind == "tam" and temporal_stages:
        check_tam_position(block, temporal.tam_position, _network_name(block, layers))
    if not (isinstance(width, (int, float)) and math.isfinite(width) and width > 0):
        raise UsageError(f"model width must be a positive number, got {width!r}")
    base = int(round(BASE_CHANNELS * width))
    needed, problem = 1, f"leaves a layer with no channels (round({BASE_CHANNELS} × width) = 0)"
    if temporal.kind == "tam":
        # every channel count is base × a factor; a TAM needs tam_beta channels (its local branch divides by beta)
        tam_factors = [(block.channels_at(inplanes, planes)[temporal.tam_position], stage, index)
                       for stage, index, inplanes, planes in _block_channels(block, layers, 1)
                       if stage in temporal_stages]
        if tam_factors:
            factor, stage, index = min(tam_factors)
            needed = max(1, math.ceil(temporal.tam_beta / factor))
            if base >= 1:
                problem = (f"gives the TAM of layer{stage}.{index} (style {temporal.tam_position}) {base * factor} "
                           f"channel(s), fewer than tam_beta={temporal.tam_beta}")
    if base < needed:
        raise UsageError(f"model width {width:g} {problem}; the smallest width that works for this model is "
                         f"{needed / BASE_CHANNELS:g} ({needed} base channel{'s' if needed > 1 else ''})")
    return base


# ---------------------------------------------------------------------------------------------
# Builders


_DEPTHS: dict[int, tuple[type[BasicBlock] | type[Bottleneck], tuple[int, ...]]] = {
    18: (BasicBlock, (2, 2, 2, 2)),
    26: (Bottleneck, (2, 2, 2, 2)),  # timm's resnet26
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


def resnet26(**kwargs) -> ResNet:
    """Plain 2D ResNet-26: Bottleneck blocks [2, 2, 2, 2] (timm's ``resnet26`` layout, torchvision keys)."""
    return _resnet(26, **kwargs)


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
def tanet_r26(**kwargs) -> VideoRecognizer:
    """TANet on ResNet-26 (Bottleneck blocks [2, 2, 2, 2]; all four TA-Block styles a, b, c, d), the CPU-sized R50."""
    return _video_resnet(26, "tam", **kwargs)


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
def tsn_r26(**kwargs) -> VideoRecognizer:
    """TSN on ResNet-26 (Bottleneck blocks [2, 2, 2, 2])."""
    return _video_resnet(26, "none", **kwargs)


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
def tsm_r26(**kwargs) -> VideoRecognizer:
    """TSM on ResNet-26: the residual shift before conv1 of every bottleneck (layer3 has < 23 blocks)."""
    return _video_resnet(26, "shift", **kwargs)


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
def i3d311_r26(**kwargs) -> VideoRecognizer:
    """I3D 3×1×1 on ResNet-26, as i3d311_r50: every bottleneck's conv1 inflated to 3×1×1 (all 8 blocks)."""
    return _video_resnet(26, "inflate", **kwargs)


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
