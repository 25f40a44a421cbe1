"""TSM shift and the inflated 3x1x1 convolution against hand computations."""
import pytest
import torch
import torch.nn.functional as F

from tanet.modules import InflatedConv, temporal_shift


def test_temporal_shift_by_hand():
    # one clip, 3 frames, 8 channels: channel 0 looks ahead, channel 1 looks back, the rest stay
    frames = torch.arange(3 * 8, dtype=torch.float32).view(3, 8, 1, 1)
    out = temporal_shift(frames, num_segments=3, fold_div=8)
    assert out[:, 0, 0, 0].tolist() == [frames[1, 0, 0, 0], frames[2, 0, 0, 0], 0]
    assert out[:, 1, 0, 0].tolist() == [0, frames[0, 1, 0, 0], frames[1, 1, 0, 0]]
    torch.testing.assert_close(out[:, 2:], frames[:, 2:])


def test_temporal_shift_does_not_mix_clips():
    frames = torch.randn(2 * 4, 16, 2, 2)
    out = temporal_shift(frames, num_segments=4)
    torch.testing.assert_close(out[:4], temporal_shift(frames[:4], num_segments=4))
    torch.testing.assert_close(out[4:], temporal_shift(frames[4:], num_segments=4))


def _shift_as_padded_slices(frames: torch.Tensor, num_segments: int, fold: int) -> torch.Tensor:
    """TSM's shift written another way: pad the clip with a zero frame at each end and take windows."""
    clips = frames.view(-1, num_segments, *frames.shape[1:])
    padded = F.pad(clips, (0, 0, 0, 0, 0, 0, 1, 1))  # (N, T + 2, C, H, W)
    ahead = padded[:, 2:, :fold]
    behind = padded[:, :-2, fold : 2 * fold]
    return torch.cat([ahead, behind, clips[:, :, 2 * fold :]], dim=2).reshape(frames.shape)


@pytest.mark.parametrize("channels_last", [False, True])
def test_temporal_shift_gradient_equals_autograd_of_a_reference(channels_last):
    # the shift's own backward (its adjoint) against autograd through a padded-slices formulation
    torch.manual_seed(0)
    frames = torch.randn(2 * 4, 16, 3, 3)
    if channels_last:
        frames = frames.contiguous(memory_format=torch.channels_last)
    frames.requires_grad_(True)
    upstream = torch.randn(2 * 4, 16, 3, 3)
    out = temporal_shift(frames, num_segments=4, fold_div=8)
    (grad,) = torch.autograd.grad(out, frames, upstream)
    reference = _shift_as_padded_slices(frames, 4, 2)
    (reference_grad,) = torch.autograd.grad(reference, frames, upstream)
    torch.testing.assert_close(out, reference, rtol=0, atol=0)
    torch.testing.assert_close(grad, reference_grad, rtol=0, atol=0)
    assert out.is_contiguous(memory_format=torch.channels_last) == channels_last


def test_inflated_conv_equals_conv3d_on_clips():
    conv = InflatedConv(4, 6, num_segments=5, kernel_size=3, temporal_size=3, stride=2, padding=1)
    frames = torch.randn(2 * 5, 4, 8, 8)
    clips = frames.view(2, 5, 4, 8, 8).permute(0, 2, 1, 3, 4)
    expected = F.conv3d(clips, conv.weight, stride=(1, 2, 2), padding=(1, 1, 1)).permute(0, 2, 1, 3, 4).reshape(10, 6, 4, 4)
    torch.testing.assert_close(conv(frames), expected)


def test_inflated_centre_tap_equals_2d_conv():
    weight_2d = torch.randn(6, 4, 1, 1)
    conv = InflatedConv(4, 6, num_segments=3)
    conv.weight.data = InflatedConv.inflate_2d_weight(weight_2d, 3)
    frames = torch.randn(6, 4, 5, 5)
    torch.testing.assert_close(conv(frames), F.conv2d(frames, weight_2d))


def test_spread_inflation_is_mmaction2s():
    # MMAction2 ResNet3d._inflate_conv_params: w3d = w2d.unsqueeze(2).expand_as(w3d) / kernel_t
    w2d = torch.randn(6, 4, 3, 3)
    spread = InflatedConv.inflate_2d_weight(w2d, 3, "spread")
    assert spread.shape == (6, 4, 3, 3, 3)
    for tap in range(3):
        torch.testing.assert_close(spread[:, :, tap], w2d / 3)
    centre = InflatedConv.inflate_2d_weight(w2d, 3)
    torch.testing.assert_close(centre[:, :, 1], w2d)
    assert centre[:, :, 0].abs().sum() == 0 and centre[:, :, 2].abs().sum() == 0
    with pytest.raises(ValueError, match="centre, spread"):
        InflatedConv(4, 6, 2, init="even")
