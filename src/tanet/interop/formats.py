"""Checkpoint layouts of other TAM code, and their mapping onto this package's state-dict keys.

Native keys (see :mod:`tanet.models.resnet`)::

    backbone.conv1.weight, backbone.bn1.*,
    backbone.layerS.B.{conv1,bn1,conv2,bn2,conv3,bn3}.*, backbone.layerS.B.downsample.{0,1}.*,
    backbone.layerS.B.tam.{G.0,G.1,G.3,L.0,L.1,L.3}.*, fc.weight, fc.bias

Official TAM code (liu-zhy/temporal-adaptive-module, ``ops/models.py`` + ``ops/temporal_module.py``):
``nn.DataParallel(TSN(...))``, so every key starts with ``module.``; the torchvision ResNet is
``base_model``, each TA-Block wraps the torchvision bottleneck as ``net`` next to ``tam``; the
ImageNet ``base_model.fc`` is replaced by a parameter-free Dropout and the classifier is ``new_fc``
(with ``dropout=0`` the classifier stays at ``base_model.fc``). TSM checkpoints of the same TSN
wrapper wrap ``conv1`` of each block as ``conv1.net``.

MMAction2 (``mmaction/models/backbones/{resnet,resnet_tsm,tanet}.py``, ``heads/tsm_head.py``): convs
are ``ConvModule`` (``convI.conv.weight`` + ``convI.bn.*``), the stem is ``backbone.conv1.{conv,bn}``,
the shortcut ``downsample.{conv,bn}``; TANet wraps each block as ``block`` next to ``tam``; TSM
(``ResNetTSM.make_temporal_shift``, ``shift_place='blockres'``) wraps the convolution inside the
first ConvModule, ``blocks[i].conv1.conv = TemporalShift(b.conv1.conv)``, so its keys are
``conv1.conv.net.weight`` beside ``conv1.bn.*`` (MMAction2 0.12 to 1.2; the key lists written by
MMAction2 1.2.0 itself are in ``tests/interop/data/``); the classifier is ``cls_head.fc_cls``.

Both foreign TSN wrappers take input (N, T*C, H, W) (frames stacked on channels) while this package
takes (N, C, T, H, W); only the weights are converted, the computation is the same.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import torch

from tanet.checkpoint import strip_module_prefix

CheckpointFormat = Literal["native", "official", "mmaction2", "resnet2d"]
FORMATS: tuple[str, ...] = ("native", "official", "mmaction2", "resnet2d")

__all__ = [
    "CheckpointFormat",
    "FORMATS",
    "ConvertedState",
    "UnknownFormatError",
    "detect_format",
    "official_to_native",
    "mmaction2_to_native",
    "resnet2d_to_native",
    "to_native",
]


class UnknownFormatError(ValueError):
    """The state dict matches none of the known layouts."""


@dataclass
class ConvertedState:
    """A state dict in native keys, with what the conversion learned on the way."""

    state_dict: dict[str, torch.Tensor]
    source_format: str
    # keys of the source that no rule recognised keep their source name, so a strict load names them
    unrecognised: list[str] = field(default_factory=list)
    temporal_shift: bool = False  # a TSM checkpoint (conv1 wrapped as conv1.net)
    # source keys deliberately not loaded (the ImageNet classifier of a 2D backbone)
    dropped: list[str] = field(default_factory=list)

    @property
    def backbone_only(self) -> bool:
        """A 2D image backbone: no temporal modules and no video classifier in the file."""
        return self.source_format == "resnet2d"


def detect_format(state: Mapping[str, torch.Tensor]) -> str:
    """``"official"``, ``"mmaction2"``, ``"native"`` or ``"resnet2d"`` (a torchvision/timm ImageNet ResNet)
    from the keys (a ``module.`` prefix is ignored)."""
    keys = list(strip_module_prefix(state))
    if any(key.startswith("base_model.") for key in keys) or any(key.startswith("new_fc.") for key in keys):
        return "official"
    if any(key.startswith("cls_head.") for key in keys) or "backbone.conv1.conv.weight" in keys:
        return "mmaction2"
    if any(key.startswith("backbone.") for key in keys):
        return "native"
    if "conv1.weight" in keys and any(key.startswith("layer1.0.") for key in keys):
        return "resnet2d"
    shown = ", ".join(keys[:8]) + (" ..." if len(keys) > 8 else "")
    raise UnknownFormatError(
        "the weights match no known layout (tanet native 'backbone.*'/'fc.*', official TAM "
        "'module.base_model.*'/'module.new_fc.*', MMAction2 'backbone.*'/'cls_head.*', a 2D ImageNet "
        f"ResNet 'conv1.*'/'layer1.*' of torchvision or timm); first keys: {shown}"
    )


_BLOCK = r"(layer[1-4]\.\d+)"

# (pattern, replacement) applied to the key with the 'base_model.' prefix removed; first match wins
_OFFICIAL_RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(rf"^{_BLOCK}\.net\.(.+)$"), r"\1.\2"),  # TA-Block: the wrapped bottleneck
    (re.compile(rf"^{_BLOCK}\.conv1\.net\.(.+)$"), r"\1.conv1.\2"),  # TSM: shifted conv1
    (re.compile(rf"^{_BLOCK}\.(.+)$"), r"\1.\2"),  # tam.*, and plain blocks
    (re.compile(r"^(conv1|bn1)\.(.+)$"), r"\1.\2"),
]

_MMACTION_BLOCK_RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^conv1\.conv\.net\.(.+)$"), r"conv1.\1"),  # TSM: the shift wraps conv1.conv
    (re.compile(r"^conv([1-3])\.conv\.(.+)$"), r"conv\1.\2"),
    (re.compile(r"^conv([1-3])\.bn\.(.+)$"), r"bn\1.\2"),
    (re.compile(r"^downsample\.conv\.(.+)$"), r"downsample.0.\1"),
    (re.compile(r"^downsample\.bn\.(.+)$"), r"downsample.1.\1"),
    (re.compile(r"^(tam\..+)$"), r"\1"),
]


def _apply(rules: list[tuple[re.Pattern[str], str]], key: str) -> str | None:
    for pattern, replacement in rules:
        if pattern.match(key):
            return pattern.sub(replacement, key)
    return None


def official_to_native(state: Mapping[str, torch.Tensor]) -> ConvertedState:
    """Official TAM (``module.base_model.*``, ``module.new_fc.*``) -> native keys."""
    state = strip_module_prefix(state)
    has_new_fc = any(key.startswith("new_fc.") for key in state)
    native: dict[str, torch.Tensor] = {}
    unrecognised: list[str] = []
    shift = False
    for key, value in state.items():
        target = None
        if key.startswith("new_fc."):
            target = "fc." + key[len("new_fc."):]
        elif key.startswith("base_model.fc.") and not has_new_fc:  # dropout=0: the classifier stayed here
            target = "fc." + key[len("base_model.fc."):]
        elif key.startswith("base_model."):
            inner = _apply(_OFFICIAL_RULES, key[len("base_model."):])
            if inner is not None:
                target = "backbone." + inner
                shift = shift or ".conv1.net." in key
        if target is None:
            unrecognised.append(key)
            target = key
        native[target] = value
    return ConvertedState(native, "official", unrecognised, shift)


def mmaction2_to_native(state: Mapping[str, torch.Tensor]) -> ConvertedState:
    """MMAction2 (``backbone.*`` with ConvModules, ``cls_head.fc_cls.*``) -> native keys."""
    state = strip_module_prefix(state)
    native: dict[str, torch.Tensor] = {}
    unrecognised: list[str] = []
    shift = False
    block_pattern = re.compile(rf"^backbone\.{_BLOCK}\.(?:block\.)?(.+)$")
    for key, value in state.items():
        target = None
        if key.startswith("cls_head.fc_cls."):
            target = "fc." + key[len("cls_head.fc_cls."):]
        elif key.startswith("backbone.conv1.conv."):
            target = "backbone.conv1." + key[len("backbone.conv1.conv."):]
        elif key.startswith("backbone.conv1.bn."):
            target = "backbone.bn1." + key[len("backbone.conv1.bn."):]
        else:
            match = block_pattern.match(key)
            if match:
                inner = _apply(_MMACTION_BLOCK_RULES, match.group(2))
                if inner is not None:
                    target = f"backbone.{match.group(1)}.{inner}"
                    shift = shift or ".conv1.conv.net." in key
        if target is None:
            unrecognised.append(key)
            target = key
        native[target] = value
    return ConvertedState(native, "mmaction2", unrecognised, shift)


def resnet2d_to_native(state: Mapping[str, torch.Tensor]) -> ConvertedState:
    """A torchvision/timm ImageNet ResNet -> the backbone keys of a video model.

    Its ImageNet classifier (``fc.*``) is dropped: a video model gets a classifier of its own.
    2D kernels of I3D's inflated convs are put on the centre tap when the weights are loaded
    (:func:`tanet.interop.loading.load_weights`), where the model's shapes are known.
    """
    state = strip_module_prefix(state)
    native = {f"backbone.{key}": value for key, value in state.items() if not key.startswith("fc.")}
    return ConvertedState(native, "resnet2d", dropped=[key for key in state if key.startswith("fc.")])


def to_native(state: Mapping[str, torch.Tensor], source_format: str = "auto") -> ConvertedState:
    """Map a state dict of any known layout (``source_format="auto"`` detects it) to native keys."""
    if source_format == "auto":
        source_format = detect_format(state)
    if source_format == "official":
        return official_to_native(state)
    if source_format == "mmaction2":
        return mmaction2_to_native(state)
    if source_format == "native":
        return ConvertedState(strip_module_prefix(state), "native")
    if source_format == "resnet2d":
        return resnet2d_to_native(state)
    raise ValueError(f"unknown checkpoint format {source_format!r}; known: auto, {', '.join(FORMATS)}")
