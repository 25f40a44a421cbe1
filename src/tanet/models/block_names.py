"""Names of the residual blocks of a ResNet backbone.

Torchvision style ``layer3.5`` (optionally prefixed ``backbone.`` and suffixed ``.tam``, the module
names :class:`tanet.TAMCapture` records) or the paper's ``stage4_6b``: stage
2..5 = layer1..4, the number after ``_`` counts blocks from 1; the optional trailing letter, the TA-Block
style the paper writes next to it, is accepted and not used.
"""
from __future__ import annotations

import re

from torch import nn

from tanet.errors import UsageError

__all__ = [
    "BlockNameError",
    "parse_block_name",
    "block_aliases",
    "named_blocks",
    "resolve_block",
    "default_blocks",
]

_LAYER_RE = re.compile(r"^(?:backbone\.)?layer([1-4])\.(\d+)(?:\.tam)?$")  # TAMCapture's module names too
_STAGE_RE = re.compile(r"^stage([2-5])_(\d+)([a-d]?)$")


class BlockNameError(UsageError):
    """A block name that is malformed or not in the model; the message lists the valid names."""


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


def named_blocks(model: nn.Module) -> dict[str, nn.Module]:
    """Canonical ``layerS.B`` name -> residual block, in network order (``model`` or its ``backbone``)."""
    backbone = getattr(model, "backbone", model)
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
    blocks = named_blocks(model)
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
    last = {}
    for canonical in named_blocks(model):
        last[canonical.split(".")[0]] = canonical
    return [last[layer] for layer in ("layer3", "layer4") if layer in last]
