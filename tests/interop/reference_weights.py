"""Deterministic random weights for a list of state-dict keys and shapes (torch only).

Shared by ``data/make_mmaction2_fixtures.py`` (run with MMAction2's own code, which records the
logits of its models under these weights) and the tests (which rebuild the same weights under the
same key names and load them with tanet's loader), so that no weight file has to be committed.
Magnitudes keep activations of a random ResNet-50 finite and informative: He-scaled convolutions,
BatchNorm statistics near identity.
"""
from __future__ import annotations

import math

import torch

__all__ = ["random_state", "random_input"]


def _fan_in(shape: tuple) -> int:
    return max(1, math.prod(shape[1:]))


def random_state(keys_and_shapes: list, seed: int = 0) -> dict:
    """``[(key, shape, dtype_name), ...]`` -> ``{key: tensor}``, the same for the same arguments."""
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape, dtype in keys_and_shapes:
        shape = tuple(shape)
        if dtype == "int64":  # num_batches_tracked
            state[key] = torch.zeros(shape, dtype=torch.long)
            continue
        noise = torch.randn(shape, generator=generator)
        last = key.rsplit(".", 1)[-1]
        if last == "running_var":
            value = 0.5 + noise.abs() * 0.5
        elif last == "running_mean":
            value = 0.1 * noise
        elif last == "bias":
            value = 0.1 * noise
        elif len(shape) == 1:  # BatchNorm weight
            value = 1.0 + 0.1 * noise
        else:  # convolution or linear weight
            value = noise * math.sqrt(1.0 / _fan_in(shape))
        state[key] = value.float()
    return state


def random_input(shape: tuple, seed: int = 1) -> torch.Tensor:
    return torch.randn(tuple(shape), generator=torch.Generator().manual_seed(seed))
