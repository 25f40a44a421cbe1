"""The fused adaptive temporal convolution's kernels and autograd functions.

Y[t] = Σ_k C[t, k] · X[t + k - K//2] on a clip batch (N*T, C, H, W), C the per-frame tap weights of
:func:`tanet.modules.adaptive_conv.temporal_coefficients`: one multiply and K-1 in-place multiply-adds on
shifted views of the frames. The backward is the same op with the adjoint taps for dX, and batched dot
products for dC; it saves only X (which the preceding ReLU holds anyway) and C. A TAM followed by a
convolution runs as one function that does not keep the TAM's output (recomputed in the backward).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

__all__: list[str] = []  # internal: used through tanet.modules.adaptive_conv and tanet.modules.tam


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


def _shifted_multiply_add(x: torch.Tensor, coefficients: torch.Tensor) -> torch.Tensor:
    """Σ_k C[:, t, :, k] · X[:, t + k - K//2] for x (N*T, C, H, W), frames of a clip adjacent, and C (N, T, C, K).

    One multiply for the centre tap, then one in-place multiply-add per other tap on shifted views:
    no permuted copies and no temporaries of the frames' size. Elementwise kernels in large chunks also
    keep their speed when the CPU is shared with data-loader workers (many small batched GEMMs do not).
    The result is a tensor of x's shape and layout, not a view of a (N, T, ...) one: a view holds its base,
    so autograd could not add the squeeze's gradient into it in place (it made a new tensor of the feature
    map's size per TAM and step, measured with the profiler).
    """
    num_clips, num_segments, _, kernel_size = coefficients.shape
    half = kernel_size // 2
    frames = x.view(num_clips, num_segments, *x.shape[1:])
    # tap-major (K, N, T, C): each tap's weights contiguous over channels, the innermost dimension of
    # channels_last frames (a strided gather there costs the elementwise kernels their vectorisation)
    taps = coefficients.movedim(-1, 0).contiguous()[..., None, None]
    if torch.compiler.is_compiling():  # dynamo breaks the graph on an out= into a view; no autograd buffer there
        out = frames * taps[half]
        result = out.view(x.shape)
    else:
        result = torch.empty_like(x)
        out = result.view(frames.shape)
        torch.mul(frames, taps[half], out=out)
    for tap, output_frames, input_frames in _tap_ranges(num_segments, kernel_size):
        if tap != half:
            out[:, output_frames].addcmul_(frames[:, input_frames], taps[tap, :, output_frames])
    return result


def _transposed_coefficients(coefficients: torch.Tensor) -> torch.Tensor:
    """The adjoint's taps: dX[s] = Σ_j Cᵀ[s, j] · dY[s + j - K//2] with Cᵀ[s, j] = C[s + j - K//2, K-1-j]."""
    num_segments, kernel_size = coefficients.shape[1], coefficients.shape[-1]
    half = kernel_size // 2
    padded = F.pad(coefficients, (0, 0, 0, 0, half, half))  # zero frames on both ends of the clip
    taps = [padded[:, j : j + num_segments, :, kernel_size - 1 - j] for j in range(kernel_size)]
    return torch.stack(taps, dim=-1)


class _AdaptiveTemporalConv(torch.autograd.Function):
    """Y[t] = Σ_k C[t, k] · X[t + k - K//2] on x (N*T, C, H, W), with its own backward.

    Saves only X (which the preceding ReLU keeps anyway) and the small coefficients: V ⊙ X is never
    materialised, in the forward or for the backward.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, coefficients: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x, coefficients)
        return _shifted_multiply_add(x, coefficients)

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        x, coefficients = ctx.saved_tensors
        return _adaptive_temporal_conv_backward(x, coefficients, grad_out, *ctx.needs_input_grad[:2])


def _adaptive_temporal_conv_backward(
    x: torch.Tensor, coefficients: torch.Tensor, grad_out: torch.Tensor, need_x: bool, need_coefficients: bool
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """dX by the same op with the adjoint taps; dC[t, k] = Σ_space dY[t] · X[t + k - K//2] (x, grad_out of
    shape (N*T, C, H, W))."""
    grad_x = grad_coefficients = None
    if need_x:
        grad_x = _shifted_multiply_add(grad_out, _transposed_coefficients(coefficients))
    if need_coefficients:
        num_clips, num_segments, channels, kernel_size = coefficients.shape
        frames = x.view(num_clips, num_segments, *x.shape[1:])
        grad_out = grad_out.view(frames.shape)
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
    return grad_x, grad_coefficients


class _AdaptiveTemporalConvThenConv2d(torch.autograd.Function):
    """conv2d(Θ ⊗ (V ⊙ X)) that does not keep Θ ⊗ (V ⊙ X) for the backward.

    The convolution after TAM would save its input, one more activation of the block's width per
    block; the backward recomputes it from X instead (one cheap elementwise pass), which is what keeps
    TANet's training memory at TSN's.
    """

    @staticmethod
    def forward(ctx, x, coefficients, weight, stride, padding, dilation, groups):
        out = F.conv2d(_shifted_multiply_add(x, coefficients), weight, None, stride, padding, dilation, groups)
        ctx.save_for_backward(x, coefficients, weight)
        ctx.conv_options = (stride, padding, dilation, groups)
        return out

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        x, coefficients, weight = ctx.saved_tensors
        stride, padding, dilation, groups = ctx.conv_options
        need_x, need_coefficients, need_weight = ctx.needs_input_grad[:3]
        mixed = _shifted_multiply_add(x, coefficients)
        grad_mixed, grad_weight, _ = torch.ops.aten.convolution_backward(
            grad_out, mixed, weight, None, stride, padding, dilation, False, [0, 0], groups,
            [need_x or need_coefficients, need_weight, False],
        )
        del mixed
        grad_x = grad_coefficients = None
        if grad_mixed is not None:
            grad_x, grad_coefficients = _adaptive_temporal_conv_backward(
                x, coefficients, grad_mixed, need_x, need_coefficients
            )
        return grad_x, grad_coefficients, grad_weight, None, None, None, None
