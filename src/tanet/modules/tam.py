"""TAM, the Temporal Adaptive Module (Liu et al., ICCV 2021), and its adaptive temporal convolution.

Layout convention: inside the 2D backbone a clip batch is a tensor of shape (N*T, C, H, W),
frames of one clip adjacent (TSN/TSM convention). TAM:

* squeezes space: ``pooled`` (N, C, T)
* local branch L  -> ``importance_map`` V (N, C, T), sigmoid
* global branch G -> ``adaptive_kernel`` Θ (N, C, K), softmax over K
* output Y = Θ ⊗ (V ⊙ X), a depthwise temporal convolution (zero padding K//2) whose kernel is Θ
  for that clip and channel.

Two implementations of the last step are kept:

* :func:`adaptive_temporal_conv_reference` — the official formulation: permute to (1, N*C, T, H*W) and
  one ``F.conv2d`` with ``groups = N*C``. Kept as the numerical reference.
* :func:`adaptive_temporal_conv` — the one the model uses. V and Θ are folded into a banded T×T
  *mixing matrix* per (clip, channel) (``A[t, t'] = Θ[t'-t+K//2] · V[t']``), which is applied with one
  batched matrix product on strided views of the (N*T, C, H*W) tensor: X is read once, Y written once,
  no permuted copies. Its backward is two more batched products (dX = Aᵀ·dY, dA = dY·Xᵀ) and saves only
  X (which the preceding ReLU holds anyway) and the tiny mixing matrix; V ⊙ X is never materialised.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

Branches = Literal["both", "local", "global"]

__all__ = [
    "TAM",
    "TAMCapture",
    "adaptive_temporal_conv",
    "adaptive_temporal_conv_reference",
    "temporal_mixing_matrix",
]


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


def temporal_mixing_matrix(kernel: torch.Tensor, importance: torch.Tensor | None, num_segments: int) -> torch.Tensor:
    """The banded matrix A (N, C, T, T) with Y[t] = Σ_t' A[t, t'] X[t'] for Y = Θ ⊗ (V ⊙ X).

    Tap k of Θ reads frame t' = t + k - K//2 (cross-correlation, as ``conv2d``), so it sits on the
    diagonal with offset k - K//2; taps that fall outside the clip are the zero padding.
    """
    num_clips, channels, kernel_size = kernel.shape
    if importance is None:
        importance = kernel.new_ones(num_clips, channels, num_segments)
    mixing = kernel.new_zeros(num_clips, channels, num_segments, num_segments)
    for tap in range(kernel_size):
        offset = tap - kernel_size // 2
        length = num_segments - abs(offset)
        if length <= 0:
            continue
        source_frames = importance[..., max(offset, 0) : max(offset, 0) + length]
        mixing = mixing + torch.diag_embed(kernel[..., tap : tap + 1] * source_frames, offset=offset)
    return mixing


def _frames_by_channel(x: torch.Tensor, num_clips: int) -> torch.Tensor:
    """(N*T, C, H, W) contiguous -> a (N, C, T, H*W) *view* (strided, no copy)."""
    num_segments = x.shape[0] // num_clips
    return x.view(num_clips, num_segments, x.shape[1], -1).transpose(1, 2)


class _TemporalMix(torch.autograd.Function):
    """Y = A · X along time, per (clip, channel), on the backbone's (N*T, C, H, W) layout."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, mixing: torch.Tensor) -> torch.Tensor:
        num_clips = mixing.shape[0]
        x = x.contiguous()
        out = torch.empty_like(x)
        x_view, out_view = _frames_by_channel(x, num_clips), _frames_by_channel(out, num_clips)
        for clip in range(num_clips):
            # batched over channels: (C, T, T) @ (C, T, HW), written straight into the strided output
            out_view[clip].baddbmm_(mixing[clip], x_view[clip], beta=0)
        ctx.save_for_backward(x, mixing)
        return out

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        x, mixing = ctx.saved_tensors
        num_clips = mixing.shape[0]
        grad_out = grad_out.contiguous()
        grad_view = _frames_by_channel(grad_out, num_clips)
        grad_x = grad_mixing = None
        if ctx.needs_input_grad[0]:
            grad_x = torch.empty_like(x)
            grad_x_view = _frames_by_channel(grad_x, num_clips)
            for clip in range(num_clips):
                grad_x_view[clip].baddbmm_(mixing[clip].transpose(1, 2), grad_view[clip], beta=0)
        if ctx.needs_input_grad[1]:
            x_view = _frames_by_channel(x, num_clips)
            grad_mixing = torch.stack(
                [torch.bmm(grad_view[clip], x_view[clip].transpose(1, 2)) for clip in range(num_clips)]
            )
        return grad_x, grad_mixing


def _shifted_temporal_mix(x: torch.Tensor, mixing: torch.Tensor, kernel_size: int) -> torch.Tensor:
    """The same product as shifted multiply-adds (any memory format, e.g. channels_last)."""
    num_clips, channels, num_segments, _ = mixing.shape
    frames = x.view(num_clips, num_segments, *x.shape[1:])
    out = torch.zeros_like(frames)
    for tap in range(kernel_size):
        offset = tap - kernel_size // 2
        length = num_segments - abs(offset)
        if length <= 0:
            continue
        # coefficient of input frame t + offset in output frame t: (N, T - |offset|, C, 1, 1)
        coefficient = torch.diagonal(mixing, offset=offset, dim1=2, dim2=3).transpose(1, 2)
        dst = slice(max(-offset, 0), max(-offset, 0) + length)
        src = slice(max(offset, 0), max(offset, 0) + length)
        out[:, dst] += frames[:, src] * coefficient.to(x.dtype)[..., None, None]
    return out.view_as(x)


def adaptive_temporal_conv(
    x: torch.Tensor, kernel: torch.Tensor, importance: torch.Tensor | None = None
) -> torch.Tensor:
    """Θ ⊗ (V ⊙ X): depthwise temporal convolution with a per-clip, per-channel kernel.

    Numerically equal to :func:`adaptive_temporal_conv_reference` (fp32 max abs diff ~1e-7), faster,
    and lighter in memory. x: (N*T, C, H, W); kernel Θ: (N, C, K); importance V: (N, C, T) or None.
    """
    num_clips, _, num_segments = _check_shapes(x, kernel, importance)
    mixing = temporal_mixing_matrix(kernel, importance, num_segments).to(x.dtype)
    if x.is_contiguous():
        return _TemporalMix.apply(x, mixing)
    return _shifted_temporal_mix(x, mixing, kernel.shape[-1])


@dataclass
class TAMRecord:
    """What one TAM produced in one forward (detached, on CPU)."""

    importance_map: torch.Tensor | None  # V, (N, C, T)
    adaptive_kernel: torch.Tensor | None  # Θ, (N, C, K)


@dataclass
class TAMCapture:
    """Collects V and Θ of chosen TAMs over any number of forwards, without changing the forward.

    >>> with TAMCapture(model) as capture:          # every TAM in the model
    ...     model(clips)
    >>> capture.records["backbone.layer3.5.tam"][0].adaptive_kernel.shape   # (N, C, K)
    """

    model: nn.Module
    names: list[str] | None = None
    records: dict[str, list[TAMRecord]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        available = {name: module for name, module in self.model.named_modules() if isinstance(module, TAM)}
        if self.names is None:
            self.names = list(available)
        unknown = [name for name in self.names if name not in available]
        if unknown:
            raise KeyError(f"no TAM named {unknown}; the model has: {list(available)}")
        self._modules = {name: available[name] for name in self.names}

    def __enter__(self) -> TAMCapture:
        for name, module in self._modules.items():
            self.records.setdefault(name, [])
            module._capture_sink = self.records[name]
        return self

    def __exit__(self, *exc_info) -> None:
        for module in self._modules.values():
            module._capture_sink = None

    def stacked(self, name: str) -> TAMRecord:
        """All captured forwards of one TAM concatenated over clips."""
        records = self.records[name]

        def cat(attr: str) -> torch.Tensor | None:
            values = [getattr(record, attr) for record in records]
            return None if any(value is None for value in values) else torch.cat(values)

        return TAMRecord(cat("importance_map"), cat("adaptive_kernel"))


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
        # set by TAMCapture; a plain attribute (not a buffer) so it costs nothing when unset
        self._capture_sink: list[TAMRecord] | None = None

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
        pooled = x.mean(dim=(2, 3)).view(num_clips, self.num_segments, channels).transpose(1, 2)
        importance_map = self.L(pooled) if self.branches != "global" else None
        adaptive_kernel = None
        if self.branches != "local":
            adaptive_kernel = self.G(pooled.reshape(num_clips * channels, self.num_segments))
            adaptive_kernel = adaptive_kernel.view(num_clips, channels, self.kernel_size)
        return importance_map, adaptive_kernel

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        importance_map, adaptive_kernel = self.branch_outputs(x)
        if self._capture_sink is not None:
            self._capture_sink.append(
                TAMRecord(
                    None if importance_map is None else importance_map.detach().float().cpu(),
                    None if adaptive_kernel is None else adaptive_kernel.detach().float().cpu(),
                )
            )
        if adaptive_kernel is None:
            num_clips = x.shape[0] // self.num_segments
            scale = importance_map.transpose(1, 2).reshape(num_clips * self.num_segments, -1, 1, 1)
            return x * scale.to(x.dtype)
        return adaptive_temporal_conv(x, adaptive_kernel, importance_map)
