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
* :func:`adaptive_temporal_conv` — the one the model uses. V and Θ are folded into K per-frame tap
  weights C[t, k] = Θ[k] · V[t + k - K//2] (tiny), applied as one multiply and K-1 in-place
  multiply-adds on shifted views of the (N, T, C, H, W) frames: no permuted copies, V ⊙ X never
  materialised. Its backward is the same op with the adjoint taps for dX, and batched dot products
  for dC; it saves only X (which the preceding ReLU holds anyway) and C.
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
    "temporal_coefficients",
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


def _needs_autograd(*tensors: torch.Tensor) -> bool:
    return torch.is_grad_enabled() and any(tensor.requires_grad for tensor in tensors)


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


def _tap_ranges(num_segments: int, kernel_size: int):
    """For each tap: its index, and the output / input frame slices it connects."""
    half = kernel_size // 2
    for tap in range(kernel_size):
        offset = tap - half
        length = num_segments - abs(offset)
        if length > 0:
            output_frames = slice(max(-offset, 0), max(-offset, 0) + length)
            input_frames = slice(max(offset, 0), max(offset, 0) + length)
            yield tap, output_frames, input_frames


def _shifted_multiply_add(frames: torch.Tensor, coefficients: torch.Tensor) -> torch.Tensor:
    """Σ_k C[:, t, :, k] · frames[:, t + k - K//2] for frames (N, T, C, H, W) and C (N, T, C, K).

    One multiply for the centre tap, then one in-place multiply-add per other tap on shifted views:
    no permuted copies and no temporaries of the frames' size. Elementwise kernels in large chunks also
    keep their speed when the CPU is shared with data-loader workers (many small batched GEMMs do not).
    """
    num_segments, kernel_size = frames.shape[1], coefficients.shape[-1]
    half = kernel_size // 2
    # tap-major (K, N, T, C): each tap's weights contiguous over channels, the innermost dimension of
    # channels_last frames (a strided gather there costs the elementwise kernels their vectorisation)
    taps = coefficients.movedim(-1, 0).contiguous()[..., None, None]
    out = frames * taps[half]
    for tap, output_frames, input_frames in _tap_ranges(num_segments, kernel_size):
        if tap != half:
            out[:, output_frames].addcmul_(frames[:, input_frames], taps[tap, :, output_frames])
    return out


def _transposed_coefficients(coefficients: torch.Tensor) -> torch.Tensor:
    """The adjoint's taps: dX[s] = Σ_j Cᵀ[s, j] · dY[s + j - K//2] with Cᵀ[s, j] = C[s + j - K//2, K-1-j]."""
    num_segments, kernel_size = coefficients.shape[1], coefficients.shape[-1]
    half = kernel_size // 2
    padded = F.pad(coefficients, (0, 0, 0, 0, half, half))  # zero frames on both ends of the clip
    taps = [padded[:, j : j + num_segments, :, kernel_size - 1 - j] for j in range(kernel_size)]
    return torch.stack(taps, dim=-1)


class _AdaptiveTemporalConv(torch.autograd.Function):
    """Y[t] = Σ_k C[t, k] · X[t + k - K//2] on (N, T, C, H, W) frames, with its own backward.

    Saves only X (which the preceding ReLU keeps anyway) and the small coefficients: V ⊙ X is never
    materialised, in the forward or for the backward.
    """

    @staticmethod
    def forward(ctx, frames: torch.Tensor, coefficients: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(frames, coefficients)
        return _shifted_multiply_add(frames, coefficients)

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        frames, coefficients = ctx.saved_tensors
        return _adaptive_temporal_conv_backward(frames, coefficients, grad_out, *ctx.needs_input_grad[:2])


def _adaptive_temporal_conv_backward(
    frames: torch.Tensor, coefficients: torch.Tensor, grad_out: torch.Tensor, need_frames: bool, need_coefficients: bool
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """dX by the same op with the adjoint taps; dC[t, k] = Σ_space dY[t] · X[t + k - K//2]."""
    grad_frames = grad_coefficients = None
    if need_frames:
        grad_frames = _shifted_multiply_add(grad_out, _transposed_coefficients(coefficients))
    if need_coefficients:
        num_clips, num_segments, channels, kernel_size = coefficients.shape
        grad_coefficients = coefficients.new_zeros(coefficients.shape)
        if frames.stride(-1) == 1 and grad_out.stride(-1) == 1:
            for clip in range(num_clips):
                # per channel, all frame pairs at once: gram[c, t, s] = Σ_space dY[t, c] · X[s, c], one
                # batched GEMM over strided views (T×T per channel is cheap; per-tap dot products are many
                # tiny GEMMs)
                grad_by_channel = grad_out[clip].reshape(num_segments, channels, -1).transpose(0, 1)
                frames_by_channel = frames[clip].reshape(num_segments, channels, -1).transpose(0, 1)
                gram = torch.bmm(grad_by_channel, frames_by_channel.transpose(1, 2))
                for tap, output_frames, _ in _tap_ranges(num_segments, kernel_size):
                    diagonal = torch.diagonal(gram, offset=tap - kernel_size // 2, dim1=1, dim2=2)  # (C, T')
                    grad_coefficients[clip, output_frames, :, tap] = diagonal.transpose(0, 1)
        else:
            # channels_last: space is strided by C, so bmm would copy every channel's matrix (or the
            # whole tensor, transposed: 5x slower than this, measured); one product and one spatial sum
            # per tap instead, both vectorised over the contiguous channels
            for tap, output_frames, input_frames in _tap_ranges(num_segments, kernel_size):
                product = grad_out[:, output_frames] * frames[:, input_frames]
                grad_coefficients[:, output_frames, :, tap] = product.sum(dim=(-2, -1))
    return grad_frames, grad_coefficients


class _AdaptiveTemporalConvThenConv2d(torch.autograd.Function):
    """conv2d(Θ ⊗ (V ⊙ X)) that does not keep Θ ⊗ (V ⊙ X) for the backward.

    The convolution after TAM would save its input, one more activation of the block's width per
    block; the backward recomputes it from X instead (one cheap elementwise pass), which is what keeps
    TANet's training memory at TSN's.
    """

    @staticmethod
    def forward(ctx, frames, coefficients, weight, stride, padding, dilation, groups):
        mixed = _shifted_multiply_add(frames, coefficients)
        out = F.conv2d(mixed.view(-1, *frames.shape[2:]), weight, None, stride, padding, dilation, groups)
        ctx.save_for_backward(frames, coefficients, weight)
        ctx.conv_options = (stride, padding, dilation, groups)
        return out

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        frames, coefficients, weight = ctx.saved_tensors
        stride, padding, dilation, groups = ctx.conv_options
        need_frames, need_coefficients, need_weight = ctx.needs_input_grad[:3]
        mixed = _shifted_multiply_add(frames, coefficients).view(-1, *frames.shape[2:])
        grad_mixed, grad_weight, _ = torch.ops.aten.convolution_backward(
            grad_out, mixed, weight, None, stride, padding, dilation, False, [0, 0], groups,
            [need_frames or need_coefficients, need_weight, False],
        )
        del mixed
        grad_frames = grad_coefficients = None
        if grad_mixed is not None:
            grad_frames, grad_coefficients = _adaptive_temporal_conv_backward(
                frames, coefficients, grad_mixed.view_as(frames), need_frames, need_coefficients
            )
        return grad_frames, grad_coefficients, grad_weight, None, None, None, None


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
    frames, coefficients = _frames_and_coefficients(x, kernel, importance)
    if not _needs_autograd(frames, coefficients):
        return _shifted_multiply_add(frames, coefficients).view_as(x)
    return _AdaptiveTemporalConv.apply(frames, coefficients).view_as(x)


def _frames_and_coefficients(
    x: torch.Tensor, kernel: torch.Tensor, importance: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """x (N*T, C, H, W) as a (N, T, C, H, W) view, and the per-frame tap weights in x's dtype."""
    num_clips, _, num_segments = _check_shapes(x, kernel, importance)
    coefficients = temporal_coefficients(kernel, importance, num_segments).to(x.dtype)
    return x.view(num_clips, num_segments, *x.shape[1:]), coefficients


@dataclass
class TAMRecord:
    """What one TAM produced in one forward (detached, on CPU)."""

    importance_map: torch.Tensor | None  # V, (N, C, T)
    adaptive_kernel: torch.Tensor | None  # Θ, (N, C, K)


@dataclass
class TAMCapture:
    """Collects V and Θ of chosen TAMs over any number of forwards, without changing the forward.

    ``names``: module names (``backbone.layer3.5.tam``) or any unique suffix of them, such as the
    block name ``layer3.5`` (the TAM inside it); ``records`` and :meth:`stacked` use the names as given.

    >>> with TAMCapture(model, names=["layer3.5"]) as capture:   # None: every TAM in the model
    ...     model(clips)
    >>> capture.records["layer3.5"][0].adaptive_kernel.shape     # (N, C, K)
    """

    model: nn.Module
    names: list[str] | None = None
    records: dict[str, list[TAMRecord]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        available = {name: module for name, module in self.model.named_modules() if isinstance(module, TAM)}
        if self.names is None:
            self.names = list(available)
        resolved = {name: self._resolve(name, available) for name in self.names}
        self._modules = {name: available[full] for name, full in resolved.items()}
        self.full_names = resolved  # name as given -> module name

    @staticmethod
    def _resolve(name: str, available: dict[str, nn.Module]) -> str:
        """The TAM called ``name``, or the one TAM whose name ends with ``.name`` or ``.name.tam``."""
        if name in available:
            return name
        matches = [full for full in available
                   if full.endswith(f".{name}") or full.endswith(f".{name}.tam") or full == f"{name}.tam"]
        if len(matches) == 1:
            return matches[0]
        if matches:
            raise KeyError(f"TAM name {name!r} is ambiguous: {matches}")
        raise KeyError(f"no TAM named {name!r}; the model has: {list(available)} (a block name such as "
                       "'layer4.1' also works)")

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
            self._capture_sink.append(
                TAMRecord(
                    None if importance_map is None else importance_map.detach().float().cpu(),
                    None if adaptive_kernel is None else adaptive_kernel.detach().float().cpu(),
                )
            )
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
        frames, coefficients = _frames_and_coefficients(x, adaptive_kernel, importance_map)
        return _AdaptiveTemporalConvThenConv2d.apply(
            frames, coefficients, conv.weight, conv.stride, conv.padding, conv.dilation, conv.groups
        )
