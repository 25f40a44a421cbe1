"""Θ ⊗ (V ⊙ X), TAM's adaptive temporal convolution: the op the model uses, the official formulation it is
tested against, and the formulation exporters trace.

x is a clip batch in the 2D backbone's layout (N*T, C, H, W), frames of one clip adjacent; Θ (N, C, K) is
the video-adaptive kernel (softmax over K), V (N, C, T) the importance map. The output is a depthwise
temporal convolution (zero padding K//2) whose kernel is Θ for that clip and channel, applied to V ⊙ X.

* :func:`adaptive_temporal_conv_reference` — the official formulation: permute to (1, N*C, T, H*W) and
  one ``F.conv2d`` with ``groups = N*C``. Kept as the numerical reference.
* :func:`adaptive_temporal_conv` — the one the model uses. V and Θ are folded into K per-frame tap
  weights C[t, k] = Θ[k] · V[t + k - K//2] (tiny, :func:`temporal_coefficients`), applied by the kernels
  of :mod:`tanet.modules.tap_kernels` with their own backward: no permuted copies, V ⊙ X never
  materialised.
* while exporting (torch.onnx / torch.export), an out-of-place functional formulation of the same sum.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .tap_kernels import _AdaptiveTemporalConv, _shifted_multiply_add

__all__ = ["adaptive_temporal_conv", "adaptive_temporal_conv_reference", "temporal_coefficients"]


def _check_shapes(x: torch.Tensor, kernel: torch.Tensor, importance: torch.Tensor | None) -> tuple[int, int, int]:
    if x.dim() != 4:
        raise ValueError(f"expected x of shape (N*T, C, H, W), got {tuple(x.shape)}")
    num_clips, channels, kernel_size = kernel.shape
    if kernel_size % 2 == 0:
        raise ValueError(f"the temporal kernel size must be odd, got {kernel_size}")
    if x.shape[0] % num_clips or x.shape[1] != channels:
        raise ValueError(
            f"x of shape {tuple(x.shape)} does not match a kernel for {num_clips} clips x {channels} channels"
        )
    num_segments = x.shape[0] // num_clips
    if importance is not None and importance.shape != (num_clips, channels, num_segments):
        raise ValueError(
            f"importance map of shape {tuple(importance.shape)} does not match "
            f"(N, C, T) = {(num_clips, channels, num_segments)}"
        )
    return num_clips, channels, num_segments


def _needs_autograd(*tensors: torch.Tensor) -> bool:
    return torch.is_grad_enabled() and any(tensor.requires_grad for tensor in tensors)


def adaptive_temporal_conv_reference(
    x: torch.Tensor, kernel: torch.Tensor, importance: torch.Tensor | None = None
) -> torch.Tensor:
    """Θ ⊗ (V ⊙ X) exactly as the official TAM code computes it (grouped ``conv2d``).

    x: (N*T, C, H, W); kernel Θ: (N, C, K); importance V: (N, C, T) or None (V = 1).
    """
    num_clips, channels, num_segments = _check_shapes(x, kernel, importance)
    height, width = x.shape[-2:]
    kernel_size = kernel.shape[-1]
    clip_major = x.view(num_clips, num_segments, channels, height, width).permute(0, 2, 1, 3, 4)
    if importance is not None:
        clip_major = clip_major * importance.view(num_clips, channels, num_segments, 1, 1)
    out = F.conv2d(
        clip_major.reshape(1, num_clips * channels, num_segments, height * width),
        kernel.reshape(num_clips * channels, 1, kernel_size, 1).to(x.dtype),
        padding=(kernel_size // 2, 0),
        groups=num_clips * channels,
    )
    out = out.view(num_clips, channels, num_segments, height, width).permute(0, 2, 1, 3, 4)
    return out.reshape(num_clips * num_segments, channels, height, width)


def temporal_coefficients(kernel: torch.Tensor, importance: torch.Tensor | None, num_segments: int) -> torch.Tensor:
    """Per output frame, the weight of each tap: C (N, T, C, K) with Y[t] = Σ_k C[t, k] · X[t + k - K//2].

    Θ ⊗ (V ⊙ X) folds V into the taps: C[t, k] = Θ[k] · V[t + k - K//2], zero where the tap falls outside
    the clip (the zero padding). Small tensors, built with ordinary autograd ops.
    """
    num_clips, channels, kernel_size = kernel.shape
    half = kernel_size // 2
    if importance is None:
        importance = kernel.new_ones(num_clips, channels, num_segments)
    padded = F.pad(importance, (half, half))  # (N, C, T + 2·half)
    windows = padded.unfold(-1, kernel_size, 1)  # (N, C, T, K): V at frames t - half .. t + half
    return (kernel[:, :, None, :] * windows).permute(0, 2, 1, 3).contiguous()


# Export branch (torch.export / torch.onnx): the fused path is a custom autograd.Function with
# in-place multiply-adds on views, which exporters trace poorly. While exporting we switch to a
# functional formulation of the same Θ ⊗ (V ⊙ X): zero-pad V ⊙ X along time and sum K shifted
# slices weighted by Θ, out of place, so the batch dimension stays symbolic.
def _is_exporting() -> bool:
    return torch.onnx.is_in_onnx_export() or torch.compiler.is_exporting()


def _export_friendly_temporal_conv(
    x: torch.Tensor, kernel: torch.Tensor, importance: torch.Tensor | None, num_segments: int
) -> torch.Tensor:
    channels, height, width = x.shape[1:]
    kernel_size = kernel.shape[-1]
    frames = x.view(-1, num_segments, channels, height, width)
    if importance is not None:
        frames = frames * importance.transpose(1, 2).unsqueeze(-1).unsqueeze(-1).to(x.dtype)
    half = kernel_size // 2
    padded = F.pad(frames, (0, 0, 0, 0, 0, 0, half, half))
    taps = kernel.to(x.dtype).transpose(1, 2).unsqueeze(-1).unsqueeze(-1)  # (N, K, C, 1, 1)
    out = padded[:, 0:num_segments] * taps[:, 0:1]
    for tap in range(1, kernel_size):
        out = out + padded[:, tap : tap + num_segments] * taps[:, tap : tap + 1]
    return out.reshape(x.shape)


def adaptive_temporal_conv(
    x: torch.Tensor, kernel: torch.Tensor, importance: torch.Tensor | None = None
) -> torch.Tensor:
    """Θ ⊗ (V ⊙ X): depthwise temporal convolution with a per-clip, per-channel kernel.

    Numerically equal to :func:`adaptive_temporal_conv_reference` (fp32 max abs diff ~1e-7), faster,
    and lighter in memory. x: (N*T, C, H, W); kernel Θ: (N, C, K); importance V: (N, C, T) or None.
    """
    if _is_exporting():
        return _export_friendly_temporal_conv(x, kernel, importance, _check_shapes(x, kernel, importance)[2])
    coefficients = _tap_coefficients(x, kernel, importance)
    if not _needs_autograd(x, coefficients):
        return _shifted_multiply_add(x, coefficients)
    return _AdaptiveTemporalConv.apply(x, coefficients)


def _tap_coefficients(x: torch.Tensor, kernel: torch.Tensor, importance: torch.Tensor | None) -> torch.Tensor:
    """The per-frame tap weights (N, T, C, K) for x (N*T, C, H, W), in x's dtype (shapes checked)."""
    num_segments = _check_shapes(x, kernel, importance)[2]
    return temporal_coefficients(kernel, importance, num_segments).to(x.dtype)
