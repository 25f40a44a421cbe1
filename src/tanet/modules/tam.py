"""TAM, the Temporal Adaptive Module (Liu et al., ICCV 2021).

Layout convention: inside the 2D backbone a clip batch is a tensor of shape (N*T, C, H, W),
frames of one clip adjacent (TSN/TSM convention). TAM:

* squeezes space: ``pooled`` (N, C, T)
* local branch L  -> ``importance_map`` V (N, C, T), sigmoid
* global branch G -> ``adaptive_kernel`` Θ (N, C, K), softmax over K
* output Y = Θ ⊗ (V ⊙ X), a depthwise temporal convolution (zero padding K//2) whose kernel is Θ
  for that clip and channel: :func:`tanet.modules.adaptive_conv.adaptive_temporal_conv`.

:class:`~tanet.modules.tam_capture.TAMCapture` reads V and Θ out of a model (importable from here too).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

# re-exported: tanet.modules.tam is where these were first importable from
from .adaptive_conv import (  # noqa: F401
    _export_friendly_temporal_conv,
    _is_exporting,
    _needs_autograd,
    _tap_coefficients,
    adaptive_temporal_conv,
    adaptive_temporal_conv_reference,
    temporal_coefficients,
)
from .tap_kernels import _AdaptiveTemporalConvThenConv2d

Branches = Literal["both", "local", "global"]

__all__ = [
    "TAM",
    "TAMCapture",
    "adaptive_temporal_conv",
    "adaptive_temporal_conv_reference",
    "temporal_coefficients",
]


def __getattr__(name: str):
    """``TAMCapture`` and ``TAMRecord`` live in :mod:`tanet.modules.tam_capture`, which imports this module;
    taken from there on first use, so that neither import order makes a cycle."""
    if name in ("TAMCapture", "TAMRecord"):
        from . import tam_capture

        return getattr(tam_capture, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _SpatialMean(torch.autograd.Function):
    """Global average pool over (H, W) whose backward hands back a broadcast view, not a full tensor.

    Autograd then adds it in place into the adaptive conv's dX, instead of materialising dX / (H·W)
    at the feature map's size and adding the two in a new tensor.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        ctx.input_shape = x.shape
        return x.mean(dim=(2, 3))

    @staticmethod
    def backward(ctx, grad_pooled: torch.Tensor) -> torch.Tensor:
        height, width = ctx.input_shape[2:]
        return (grad_pooled / (height * width))[:, :, None, None].expand(ctx.input_shape)


def spatial_mean(x: torch.Tensor) -> torch.Tensor:
    """(N*T, C, H, W) -> (N*T, C), the squeeze step of TAM."""
    return _SpatialMean.apply(x) if _needs_autograd(x) else x.mean(dim=(2, 3))


def _conv1d_as_matmul(x: torch.Tensor, conv: nn.Module) -> torch.Tensor:
    """``conv(x)`` for x (N, C, T) of a stride-1, zero-padded 'same' Conv1d, as (N·T, C_out).

    The K taps of each frame side by side, then one GEMM: on CPU a Conv1d this small takes the im2col
    ``slow_conv2d`` path, which cost TAM's local branch more than the rest of TAM at 7×7 (measured,
    benchmarks/README). Rows are frames, the layout BatchNorm1d and the next 1-tap conv take directly.
    """
    num_clips, channels, num_segments = x.shape
    kernel_size = conv.kernel_size[0]
    if kernel_size == 1:
        rows = x.transpose(1, 2).reshape(num_clips * num_segments, channels)
    else:
        half = kernel_size // 2
        windows = F.pad(x, (half, half)).unfold(2, kernel_size, 1)  # (N, C, T, K)
        rows = windows.transpose(1, 2).reshape(num_clips * num_segments, channels * kernel_size)
    return F.linear(rows, conv.weight.reshape(conv.out_channels, -1), conv.bias)


def _is_same_conv1d(conv: nn.Module) -> bool:
    return (
        type(conv) is nn.Conv1d
        and conv.stride == (1,)
        and conv.dilation == (1,)
        and conv.groups == 1
        and conv.padding == (conv.kernel_size[0] // 2,)
        and conv.padding_mode == "zeros"
    )


def _fusable_conv(x: torch.Tensor, conv: nn.Module) -> bool:
    """Whether TAM + ``conv`` may run as :class:`_AdaptiveTemporalConvThenConv2d` (training, plain fp32/fp64
    conv without bias; anything else takes the two ordinary steps)."""
    return (
        type(conv) is nn.Conv2d
        and conv.bias is None
        and conv.padding_mode == "zeros"
        and isinstance(conv.padding, tuple)
        and torch.is_grad_enabled()
        and (x.requires_grad or conv.weight.requires_grad)
        and (x.is_contiguous() or x.is_contiguous(memory_format=torch.channels_last))
        and x.dtype == conv.weight.dtype
        and not torch.is_autocast_enabled(x.device.type)
        and not conv._forward_hooks
        and not conv._forward_pre_hooks
    )


class TAM(nn.Module):
    """Temporal Adaptive Module.

    Args:
        in_channels: C, the channels of the feature map it sits on.
        num_segments: T, frames per clip.
        alpha: expansion of the global branch's hidden layer (αT units).
        beta: reduction of the local branch's hidden layer (C/β channels).
        kernel_size: K, the size of the video-adaptive temporal kernel (odd).
        branches: "both" (TAM), "local" (V ⊙ X only) or "global" (Θ ⊗ X only), for the ablation.

    State-dict keys follow the official code: ``G.0.weight``, ``G.1.*``, ``G.3.weight``, ``L.0.weight``,
    ``L.1.*``, ``L.3.weight``.
    """

    def __init__(
        self,
        in_channels: int,
        num_segments: int,
        alpha: int = 2,
        beta: int = 4,
        kernel_size: int = 3,
        branches: Branches = "both",
    ) -> None:
        super().__init__()
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd, got {kernel_size}")
        if branches not in ("both", "local", "global"):
            raise ValueError(f"branches must be 'both', 'local' or 'global', got {branches!r}")
        if in_channels // beta < 1:
            raise ValueError(f"in_channels={in_channels} is too small for beta={beta}")
        self.in_channels = in_channels
        self.num_segments = num_segments
        self.alpha = alpha
        self.beta = beta
        self.kernel_size = kernel_size
        self.branches = branches
        hidden_frames = num_segments * alpha
        hidden_channels = in_channels // beta
        self.G = nn.Sequential(
            nn.Linear(num_segments, hidden_frames, bias=False),
            nn.BatchNorm1d(hidden_frames),
            nn.ReLU(inplace=True),
            nn.Linear(hidden_frames, kernel_size, bias=False),
            nn.Softmax(dim=-1),
        )
        self.L = nn.Sequential(
            nn.Conv1d(in_channels, hidden_channels, kernel_size, padding=kernel_size // 2, bias=False),
            nn.BatchNorm1d(hidden_channels),
            nn.ReLU(inplace=True),
            nn.Conv1d(hidden_channels, in_channels, 1, bias=False),
            nn.Sigmoid(),
        )
        if branches == "local":
            del self.G
        elif branches == "global":
            del self.L
        # set by TAMCapture: called with (V, Θ) of every forward; a plain attribute (not a buffer) so it
        # costs nothing when unset
        self._capture_sink: Callable[[torch.Tensor | None, torch.Tensor | None], None] | None = None

    def extra_repr(self) -> str:
        return (
            f"in_channels={self.in_channels}, num_segments={self.num_segments}, alpha={self.alpha}, "
            f"beta={self.beta}, kernel_size={self.kernel_size}, branches={self.branches!r}"
        )

    def branch_outputs(self, x: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """(V, Θ) for x of shape (N*T, C, H, W); None for a branch that is switched off."""
        num_frames, channels = x.shape[:2]
        if num_frames % self.num_segments:
            raise ValueError(
                f"TAM with num_segments={self.num_segments} got {num_frames} frames, not a multiple of it"
            )
        num_clips = num_frames // self.num_segments
        # (N*T, C) -> (N, C, T); the mean runs in float32 under autocast
        pooled = spatial_mean(x).view(num_clips, self.num_segments, channels).transpose(1, 2)
        importance_map = self._local_branch(pooled) if self.branches != "global" else None
        adaptive_kernel = None
        if self.branches != "local":
            adaptive_kernel = self.G(pooled.reshape(num_clips * channels, self.num_segments))
            adaptive_kernel = adaptive_kernel.view(num_clips, channels, self.kernel_size)
        return importance_map, adaptive_kernel

    def _local_branch(self, pooled: torch.Tensor) -> torch.Tensor:
        """L(pooled) for pooled (N, C, T): the same modules, its two Conv1d taken as GEMMs over frames
        (BatchNorm1d over (N·T, C') rows keeps the statistics of (N, C', T))."""
        conv_in, norm, activation, conv_out, gate = self.L
        if not (_is_same_conv1d(conv_in) and _is_same_conv1d(conv_out) and conv_out.kernel_size == (1,)):
            return self.L(pooled)
        num_clips, channels, num_segments = pooled.shape
        hidden = activation(norm(_conv1d_as_matmul(pooled, conv_in)))  # (N·T, C/β)
        rows = gate(F.linear(hidden, conv_out.weight[:, :, 0], conv_out.bias))  # (N·T, C)
        return rows.view(num_clips, num_segments, channels).transpose(1, 2)

    def _branches_and_capture(self, x: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        importance_map, adaptive_kernel = self.branch_outputs(x)
        if self._capture_sink is not None:
            self._capture_sink(importance_map, adaptive_kernel)
        return importance_map, adaptive_kernel

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        importance_map, adaptive_kernel = self._branches_and_capture(x)
        if adaptive_kernel is None:
            num_clips = x.shape[0] // self.num_segments
            scale = importance_map.transpose(1, 2).reshape(num_clips * self.num_segments, -1, 1, 1)
            return x * scale.to(x.dtype)
        return adaptive_temporal_conv(x, adaptive_kernel, importance_map)

    def forward_then_conv(self, x: torch.Tensor, conv: nn.Module) -> torch.Tensor:
        """``conv(self(x))``; in training, without keeping TAM's output for the backward (recomputed)."""
        if self.branches == "local" or _is_exporting() or not _fusable_conv(x, conv):
            return conv(self(x))
        importance_map, adaptive_kernel = self._branches_and_capture(x)
        coefficients = _tap_coefficients(x, adaptive_kernel, importance_map)
        return _AdaptiveTemporalConvThenConv2d.apply(
            x, coefficients, conv.weight, conv.stride, conv.padding, conv.dilation, conv.groups
        )
