"""``build_model``: a registered architecture with fresh weights, and the config that rebuilds it.

Weights of any kind (a checkpoint, published weights, a 2D ImageNet backbone) are loaded one layer
up, by :func:`tanet.create_model`.
"""
from __future__ import annotations

from typing import Any, Optional

from torch import nn

from ._registry import canonical_name, model_entrypoint

__all__ = ["build_model", "DEFAULT_NUM_CLASSES", "DEFAULT_NUM_SEGMENTS"]

DEFAULT_NUM_CLASSES = 400  # Kinetics-400
DEFAULT_NUM_SEGMENTS = 8


def build_model(name: str, num_classes: Optional[int] = None, num_segments: Optional[int] = None,
                **architecture: Any) -> nn.Module:
    """Build the registered model ``name`` with freshly initialised weights.

    ``architecture``: ``dropout``, ``width``, ``temporal_stages`` and the temporal options
    (``tam_position``, ``tam_alpha``, ``tam_beta``, ``tam_kernel_size``, ``tam_branches``,
    ``shift_fold_div``, ``inflate_size``, ...). The model's ``model_config`` rebuilds the same
    architecture: ``build_model(**model.model_config)``.
    """
    name = canonical_name(name)  # a checkpoint records today's name even when built from an old one
    builder = model_entrypoint(name)
    num_classes = DEFAULT_NUM_CLASSES if num_classes is None else num_classes
    num_segments = DEFAULT_NUM_SEGMENTS if num_segments is None else num_segments
    model = builder(num_classes=num_classes, num_segments=num_segments, **architecture)
    recorded = dict(architecture)
    if "temporal_stages" in recorded:
        recorded["temporal_stages"] = list(recorded["temporal_stages"])
    model.model_config = {"name": name, "num_classes": num_classes, "num_segments": num_segments, **recorded}
    return model
