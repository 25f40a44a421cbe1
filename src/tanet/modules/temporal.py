"""Static temporal operators of the baselines: TSM's temporal shift and I3D's inflated 3×1×1 conv.

Both work on the 2D backbone's (N*T, C, H, W) layout.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .adaptive_conv import _needs_autograd

__all__ = ["TemporalShift", "temporal_shift", "InflatedConv"]


def _shift(x: torch.Tensor, num_segments: int, fold: int, forward: bool) -> torch.Tensor:
    """The shift (``forward``) or its adjoint: the first ``fold`` channels take frame t + 1 (adjoint: t - 1),
    the next ``fold`` frame t - 1 (adjoint: t + 1), zeros at the clip's ends, the rest unchanged."""
    num_frames, channels, height, width = x.shape
    frames = x.view(num_frames // num_segments, num_segments, channels, height, width)
    # one contiguous copy of everything, then only the shifted quarter rewritten: strided slice copies of the
    # untouched channels cost more than the whole memcpy (most of a tiny TSM's step in channels_last)
    out = frames.clone()
    ahead, behind = (slice(0, fold), slice(fold, 2 * fold)) if forward else (slice(fold, 2 * fold), slice(0, fold))
    out[:, :-1, ahead] = frames[:, 1:, ahead]  # frame t sees t + 1
    out[:, -1, ahead] = 0
    out[:, 1:, behind] = frames[:, :-1, behind]  # frame t sees t - 1
    out[:, 0, behind] = 0
    return out.view_as(x)


class _TemporalShiftFunction(torch.autograd.Function):
    """The shift with its adjoint as backward: autograd's own backward of the slice assignments
    (CopySlices, zero fills) cost about as much as the forward again."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, num_segments: int, fold: int) -> torch.Tensor:
        ctx.num_segments, ctx.fold = num_segments, fold
        return _shift(x, num_segments, fold, forward=True)

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        return _shift(grad_out, ctx.num_segments, ctx.fold, forward=False), None, None


def temporal_shift(x: torch.Tensor, num_segments: int, fold_div: int = 8) -> torch.Tensor:
    """TSM's shift: 1/fold_div of the channels take the next frame, 1/fold_div the previous one.

    Frames shifted in from outside the clip are zeros (TSM's zero padding).
    """
    fold = x.shape[1] // fold_div
    if _needs_autograd(x):
        return _TemporalShiftFunction.apply(x, num_segments, fold)
    # inference and export trace the plain tensor ops
    return _shift(x, num_segments, fold, forward=True)


class TemporalShift(nn.Module):
    """TSM's residual shift (placed on the residual branch before conv1); no parameters."""

    def __init__(self, num_segments: int, fold_div: int = 8) -> None:
        super().__init__()
        self.num_segments = num_segments
        self.fold_div = fold_div

    def extra_repr(self) -> str:
        return f"num_segments={self.num_segments}, fold_div={self.fold_div}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return temporal_shift(x, self.num_segments, self.fold_div)


class InflatedConv(nn.Module):
    """A 2D k×k convolution inflated to t×k×k over time (I3D); state key ``weight`` of shape
    (out, in, t, k, k), so an inflated checkpoint keeps torchvision's key names.

    A 2D weight is inflated by ``init`` (:meth:`inflate_2d_weight`): ``"centre"`` puts it on the centre
    tap (other taps zero), so the network starts as the 2D model; ``"spread"`` spreads it evenly over the
    taps (``w2d / t`` on each), as MMAction2's ``ResNet3d._inflate_conv_params`` does.
    """

    INITS = ("centre", "spread")

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        num_segments: int,
        kernel_size: int = 1,
        temporal_size: int = 3,
        stride: int = 1,
        padding: int = 0,
        init: str = "centre",
    ) -> None:
        super().__init__()
        if init not in self.INITS:
            raise ValueError(f"inflate init must be one of {', '.join(self.INITS)}, got {init!r}")
        self.init = init
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.num_segments = num_segments
        self.kernel_size = (temporal_size, kernel_size, kernel_size)
        self.stride = (1, stride, stride)
        self.padding = (temporal_size // 2, padding, padding)
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, *self.kernel_size))
        nn.init.kaiming_normal_(self.weight, mode="fan_out", nonlinearity="relu")

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}, padding={self.padding}, num_segments={self.num_segments}, init={self.init}"
        )

    @staticmethod
    def inflate_2d_weight(weight_2d: torch.Tensor, temporal_size: int, init: str = "centre") -> torch.Tensor:
        """(out, in, k, k) -> (out, in, t, k, k): the 2D kernel on the centre tap (``"centre"``), or
        ``w2d / t`` on every tap (``"spread"``, MMAction2: ``w2d.unsqueeze(2).expand_as(w3d) / t``).
        Either way a clip of identical frames gives the 2D model's output (away from the clip's ends)."""
        shape = (weight_2d.shape[0], weight_2d.shape[1], temporal_size, *weight_2d.shape[2:])
        if init == "spread":
            return (weight_2d.unsqueeze(2).expand(shape) / temporal_size).contiguous()
        if init != "centre":
            raise ValueError(f"inflate init must be one of centre, spread, got {init!r}")
        inflated = weight_2d.new_zeros(shape)
        inflated[:, :, temporal_size // 2] = weight_2d
        return inflated

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        num_frames, channels, height, width = x.shape
        num_clips = num_frames // self.num_segments
        clips = x.view(num_clips, self.num_segments, channels, height, width).transpose(1, 2)
        out = F.conv3d(clips, self.weight, stride=self.stride, padding=self.padding)
        return out.transpose(1, 2).reshape(num_frames, self.out_channels, *out.shape[-2:])
