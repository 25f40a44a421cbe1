"""Parameters and FLOPs in the paper's convention: FLOPs = multiply-adds of one clip's forward.

Counted by forward hooks on the layers that do the arithmetic (convs, linears, TAM's adaptive temporal
conv and its importance scaling); normalisation, activations, pooling and additions are not counted,
as in the papers this library reproduces.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from tanet.modules.tam import TAM
from tanet.modules.temporal import InflatedConv

__all__ = ["Complexity", "count_parameters", "count_macs", "complexity"]


@dataclass(frozen=True)
class Complexity:
    params: int
    macs: int  # multiply-adds of one forward of the probe input

    @property
    def gflops(self) -> float:
        return self.macs / 1e9

    @property
    def mparams(self) -> float:
        return self.params / 1e6


def count_parameters(model: nn.Module) -> int:
    return sum(parameter.numel() for parameter in model.parameters())


def _layer_macs(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> int:
    if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
        per_output = module.in_channels // module.groups
        for size in module.kernel_size:
            per_output *= size
        return output.numel() * per_output
    if isinstance(module, InflatedConv):
        return output.numel() * module.in_channels * module.kernel_size[0] * module.kernel_size[1] * module.kernel_size[2]
    if isinstance(module, nn.Linear):
        return output.numel() * module.in_features
    if isinstance(module, TAM):
        # the branches are counted by their own Conv1d/Linear hooks; this is the application:
        # V ⊙ X (one multiply per element) and the K-tap temporal conv
        elements = inputs[0].numel()
        taps = 0 if module.branches == "local" else module.kernel_size
        scale = 0 if module.branches == "global" else 1
        return elements * (taps + scale)
    return 0


def count_macs(model: nn.Module, example: torch.Tensor) -> int:
    """Multiply-adds of ``model(example)``."""
    total = 0

    def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        nonlocal total
        total += _layer_macs(module, inputs, output)

    counted = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear, InflatedConv, TAM)
    handles = [module.register_forward_hook(hook) for module in model.modules() if isinstance(module, counted)]
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(example)
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    return total


def complexity(model: nn.Module, num_segments: int, size: int, batch: int = 1) -> Complexity:
    """Parameters and multiply-adds of one clip (N=1) of ``num_segments`` frames at ``size``²."""
    example = torch.zeros(batch, 3, num_segments, size, size)
    return Complexity(count_parameters(model), count_macs(model, example) // batch)
