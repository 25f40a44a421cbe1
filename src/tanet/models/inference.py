"""The inference fast path: a trained video model made cheaper to run, with the same logits.

* :func:`fold_batchnorm` folds every BatchNorm that directly follows a convolution or a linear layer
  into it (eval-mode BatchNorm is an affine map per channel): the ResNet stem, each block's
  ``convI``/``bnI`` pairs and its downsample, I3D's inflated convs, and TAM's two branch BatchNorms
  (``G.0``/``G.1`` and ``L.0``/``L.1``). One full pass over every activation map less per BatchNorm.
* :func:`to_channels_last` stores 4-d kernels channels_last (5-d ones channels_last_3d): oneDNN and
  cuDNN convolutions then keep activations in NHWC end to end, with no layout reorders per conv.
  TAM's fused op works on any strides, so the whole network stays channels_last.
* the residual sum of each block is written into the branch's output instead of a new tensor.
* on a CPU with oneDNN, each convolution applies the ReLU after it, and a block's last convolution the
  residual sum and ReLU too, as oneDNN post-ops (:class:`PointwiseConv2d`): the pass over the output
  that each of them took on its own is gone (inductor's compiled path makes the same fusions itself).
* :func:`prepare_for_inference` does all of it (``"fused"``) and, for ``"compiled"``, ``torch.compile``
  with frozen weights on top (inductor constant-folds the weights, prepacks them for oneDNN and fuses
  conv + ReLU / conv + add; TAM compiles without a graph break). Compiling costs about a minute on a
  2-core CPU for a ResNet-50, once per input shape; it pays off on a test set, not on one video.

The prepared model is for inference only: its BatchNorms are gone, so it refuses to run in training
mode. Its state dict has bias keys the checkpoint does not; save the original model, not this one.
"""
from __future__ import annotations

import copy
from typing import Literal, Optional

import torch
import torch.nn.functional as F
from torch import nn

from tanet.errors import UsageError
from tanet.modules.tam import TAM
from tanet.modules.temporal import InflatedConv

from .resnet import BasicBlock, Bottleneck, ResNet

InferenceMode = Literal["eager", "fused", "compiled"]
INFERENCE_MODES: tuple[str, ...] = ("eager", "fused", "compiled")

__all__ = [
    "INFERENCE_MODES",
    "InferenceMode",
    "PointwiseConv2d",
    "fold_batchnorm",
    "to_channels_last",
    "prepare_for_inference",
    "inference_path",
]


class _BiasedInflatedConv(InflatedConv):
    """An :class:`InflatedConv` with the bias its folded BatchNorm left behind."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        num_frames, channels, height, width = x.shape
        num_clips = num_frames // self.num_segments
        clips = x.view(num_clips, self.num_segments, channels, height, width).transpose(1, 2)
        out = F.conv3d(clips, self.weight, self.bias, stride=self.stride, padding=self.padding)
        return out.transpose(1, 2).reshape(num_frames, self.out_channels, *out.shape[-2:])


class PointwiseConv2d(nn.Module):
    """A 2D convolution with its bias and the elementwise steps after it (ReLU; residual sum + ReLU) applied
    by oneDNN while it writes the output (``torch.ops.mkldnn._convolution_pointwise``), for CPU inference.

    Anything else -- another device or dtype, autograd, tracing for torch.compile or export -- runs the
    same arithmetic as ordinary ops. Keeps ``weight`` / ``bias`` under the names the convolution had.
    """

    def __init__(self, conv: nn.Conv2d, relu: bool) -> None:
        super().__init__()
        self.weight, self.bias = conv.weight, conv.bias
        self.stride, self.padding, self.dilation, self.groups = conv.stride, conv.padding, conv.dilation, conv.groups
        self.relu = relu

    def extra_repr(self) -> str:
        return (f"{self.weight.shape[1] * self.groups}, {self.weight.shape[0]}, kernel_size={tuple(self.weight.shape[2:])}, "
                f"stride={self.stride}, padding={self.padding}, relu={self.relu}")

    @staticmethod
    def usable(conv: nn.Module) -> bool:
        return (type(conv) is nn.Conv2d and conv.padding_mode == "zeros" and isinstance(conv.padding, tuple)
                and _ONEDNN_POINTWISE is not None)

    def _onednn(self, x: torch.Tensor) -> bool:
        return (x.device.type == "cpu" and x.dtype == torch.float32 == self.weight.dtype and x.dim() == 4
                and not (torch.is_grad_enabled() and (x.requires_grad or self.weight.requires_grad))
                and not torch.compiler.is_compiling() and not torch.compiler.is_exporting()
                and not torch.onnx.is_in_onnx_export())

    def _options(self) -> tuple:
        return (self.weight, self.bias, list(self.padding), list(self.stride), list(self.dilation), self.groups)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._onednn(x):
            return _ONEDNN_POINTWISE.default(x, *self._options(), "relu" if self.relu else "none", [], None)
        out = F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)
        return F.relu(out, inplace=True) if self.relu else out

    def add_relu(self, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        """``relu(conv(x) + residual)`` (``residual`` left as it is)."""
        if self._onednn(x):
            return _ONEDNN_POINTWISE.binary(x, residual, *self._options(), "add", 1.0, "relu", [], None)
        out = F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)
        out += residual
        return F.relu(out, inplace=True)


_ONEDNN_POINTWISE = getattr(torch.ops.mkldnn, "_convolution_pointwise", None) if torch.backends.mkldnn.is_available() else None


class _InferenceBottleneck(Bottleneck):
    """:class:`Bottleneck` whose residual sum is written into the branch's output (no new tensor of
    the block's full width per block; measured 4 % of batch-1 latency, 10 % at batch 4); with
    :class:`PointwiseConv2d` convolutions, the ReLUs and the residual sum are their post-ops."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        if isinstance(self.conv3, PointwiseConv2d):  # conv1 and conv2 apply their ReLU (_fuse_pointwise)
            out = self._conv_after("b", self.conv1(self._residual_input(x)), self.conv2)
            return self.conv3.add_relu(self._at("c", out), identity)
        out = self.relu(self.bn1(self.conv1(self._residual_input(x))))
        out = self.relu(self.bn2(self._conv_after("b", out, self.conv2)))
        out = self._at("d", self.bn3(self._conv_after("c", out, self.conv3)))
        out += identity
        return self.relu(out)


class _InferenceBasicBlock(BasicBlock):
    """:class:`BasicBlock` with the residual sum written in place (as :class:`_InferenceBottleneck`)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        if isinstance(self.conv2, PointwiseConv2d):  # conv1 applies its ReLU (_fuse_pointwise)
            return self.conv2.add_relu(self._at("b", self.conv1(self._residual_input(x))), identity)
        out = self.relu(self.bn1(self.conv1(self._residual_input(x))))
        out = self._at("d", self.bn2(self._conv_after("b", out, self.conv2)))
        out += identity
        return self.relu(out)


_INFERENCE_BLOCKS = {Bottleneck: _InferenceBottleneck, BasicBlock: _InferenceBasicBlock}


def _with_inplace_residuals(model: nn.Module) -> None:
    """Give every ResNet block the forward that adds the identity in place (inference only: in
    training, autograd may need the branch's output as it was)."""
    for module in model.modules():
        inference_block = _INFERENCE_BLOCKS.get(type(module))
        if inference_block is not None:
            module.__class__ = inference_block


def _fuse_pointwise(model: nn.Module) -> int:
    """Give the convolutions of folded ResNet blocks (and the stem) their ReLU and residual sum as oneDNN
    post-ops (:class:`PointwiseConv2d`). A block is converted whole or not at all: one whose BatchNorms are
    not all folded, whose conv1 is inflated (I3D) or whose TAM sits before the residual sum (style d)
    keeps its modules. Returns how many convolutions were converted."""
    converted = 0
    for module in model.modules():
        if isinstance(module, (Bottleneck, BasicBlock)):
            convs = ("conv1", "conv2", "conv3") if isinstance(module, Bottleneck) else ("conv1", "conv2")
            norms = [getattr(module, f"bn{index}") for index in range(1, len(convs) + 1)]
            if (module.tam_position != "d" and all(isinstance(norm, nn.Identity) for norm in norms)
                    and all(PointwiseConv2d.usable(getattr(module, name)) for name in convs)):
                for name in convs:
                    setattr(module, name, PointwiseConv2d(getattr(module, name), relu=name != convs[-1]))
                converted += len(convs)
        elif isinstance(module, ResNet) and isinstance(module.bn1, nn.Identity) and PointwiseConv2d.usable(module.conv1):
            module.conv1, module.relu = PointwiseConv2d(module.conv1, relu=True), nn.Identity()
            converted += 1
    return converted


def _folded_parameters(
    weight: torch.Tensor, bias: Optional[torch.Tensor], bn: nn.modules.batchnorm._BatchNorm
) -> tuple[torch.Tensor, torch.Tensor]:
    """W' = W · γ/σ per output channel, b' = (b - μ) · γ/σ + β, computed in float64 on the CPU (not every
    accelerator has float64) and stored in the weight's dtype, on its device."""

    def exact(tensor: torch.Tensor) -> torch.Tensor:
        return tensor.detach().to("cpu", torch.float64)

    std = torch.sqrt(exact(bn.running_var) + bn.eps)
    gamma = exact(bn.weight) if bn.affine else torch.ones_like(std)
    beta = exact(bn.bias) if bn.affine else torch.zeros_like(std)
    scale = gamma / std
    folded_weight = exact(weight) * scale.view(-1, *([1] * (weight.dim() - 1)))
    old_bias = exact(bias) if bias is not None else torch.zeros_like(std)
    folded_bias = (old_bias - exact(bn.running_mean)) * scale + beta
    return folded_weight.to(weight.device, weight.dtype), folded_bias.to(weight.device, weight.dtype)


def _foldable(layer: nn.Module, bn: nn.Module) -> bool:
    return (
        isinstance(bn, nn.modules.batchnorm._BatchNorm)
        and bn.track_running_stats
        and bn.running_mean is not None
        and isinstance(layer, (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear, InflatedConv))
        and layer.weight.shape[0] == bn.num_features
    )


def _fold_pair(parent: nn.Module, layer_name: str, bn_name: str) -> bool:
    """Fold ``parent.<bn_name>`` into ``parent.<layer_name>``; the BatchNorm becomes an Identity."""
    layer, bn = parent.get_submodule(layer_name), parent.get_submodule(bn_name)
    if not _foldable(layer, bn):
        return False
    weight, bias = _folded_parameters(layer.weight.detach(), getattr(layer, "bias", None), bn)
    if isinstance(layer, InflatedConv) and not isinstance(layer, _BiasedInflatedConv):
        layer = _BiasedInflatedConv(
            layer.in_channels, layer.out_channels, layer.num_segments, kernel_size=layer.kernel_size[1],
            temporal_size=layer.kernel_size[0], stride=layer.stride[1], padding=layer.padding[1],
        )
        _set_child(parent, layer_name, layer)
    layer.weight = nn.Parameter(weight, requires_grad=False)
    layer.bias = nn.Parameter(bias, requires_grad=False)
    _set_child(parent, bn_name, nn.Identity())
    return True


def _set_child(parent: nn.Module, name: str, module: nn.Module) -> None:
    owner_name, _, attribute = name.rpartition(".")
    owner = parent.get_submodule(owner_name) if owner_name else parent
    setattr(owner, attribute, module)


def _folding_pairs(module: nn.Module) -> list[tuple[str, str]]:
    """(layer, BatchNorm) child names where the BatchNorm directly consumes the layer's output."""
    if isinstance(module, Bottleneck):
        pairs = [("conv1", "bn1"), ("conv2", "bn2"), ("conv3", "bn3")]
    elif isinstance(module, BasicBlock):
        pairs = [("conv1", "bn1"), ("conv2", "bn2")]
    elif isinstance(module, ResNet):
        pairs = [("conv1", "bn1")]
    elif isinstance(module, TAM):
        # G: Linear -> BN -> ReLU -> Linear -> Softmax; L: Conv1d -> BN -> ReLU -> Conv1d -> Sigmoid
        pairs = [(f"{branch}.0", f"{branch}.1") for branch in ("G", "L") if hasattr(module, branch)]
    else:
        pairs = []
    downsample = getattr(module, "downsample", None) if isinstance(module, (Bottleneck, BasicBlock)) else None
    if isinstance(downsample, nn.Sequential) and len(downsample) == 2:
        pairs.append(("downsample.0", "downsample.1"))
    return pairs


def fold_batchnorm(model: nn.Module) -> int:
    """Fold, in place, every BatchNorm of tanet's model families into the layer before it.

    Needs eval mode (a BatchNorm in training normalises with batch statistics, which no fold can
    express). Returns how many BatchNorms were folded; the model's logits stay equal to within
    float rounding (computed in float64, stored in the weights' dtype).
    """
    if model.training:
        raise ValueError("fold_batchnorm needs a model in eval mode (call model.eval() first)")
    folded = 0
    for module in list(model.modules()):
        for layer_name, bn_name in _folding_pairs(module):
            folded += _fold_pair(module, layer_name, bn_name)
    return folded


def to_channels_last(model: nn.Module) -> nn.Module:
    """In place: 4-d parameters and buffers channels_last, 5-d ones channels_last_3d (I3D's kernels);
    ``Module.to(memory_format=...)`` refuses models that hold both."""
    for tensor in list(model.parameters()) + list(model.buffers()):
        if tensor.dim() == 4:
            tensor.data = tensor.data.contiguous(memory_format=torch.channels_last)
        elif tensor.dim() == 5:
            tensor.data = tensor.data.contiguous(memory_format=torch.channels_last_3d)
    return model


def _refuse_training(module: nn.Module, args) -> None:
    if module.training:
        raise RuntimeError(
            "this model was prepared for inference (its BatchNorms are folded into the convolutions) "
            "and cannot run in training mode; train the original model"
        )


def inference_path(model: nn.Module) -> str:
    """``"fused"`` or ``"compiled"`` for a model from :func:`prepare_for_inference`, else ``"eager"``."""
    return getattr(model, "inference_path", "eager")


def prepare_for_inference(
    model: nn.Module, mode: InferenceMode = "fused", *, inplace: bool = False, channels_last: bool = True
) -> nn.Module:
    """The model ready for fast inference, in eval mode, with logits equal to the eager model's.

    ``mode``: ``"eager"`` (only ``eval()``), ``"fused"`` (BatchNorm folded, channels_last) or
    ``"compiled"`` (fused, then ``torch.compile`` with frozen weights; compiles on the first call of
    each input shape, which needs a C++ compiler on CPU and Triton on GPU).
    With ``inplace=False`` (default) the original model is left untouched and a converted copy is
    returned; with ``inplace=True`` the model itself is converted (saves one copy of the weights).
    ``channels_last=False`` keeps the weights' layout (for export, where layout is not part of the graph).
    The result records ``mode`` as ``model.inference_path``.
    """
    if mode not in INFERENCE_MODES:
        raise UsageError(f"inference mode must be one of {', '.join(INFERENCE_MODES)}, got {mode!r}")
    if not inplace:
        model = copy.deepcopy(model)
    model.eval()
    model.inference_path = mode
    if mode == "eager":
        return model
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    fold_batchnorm(model)
    _with_inplace_residuals(model)
    if channels_last:
        to_channels_last(model)
        if mode == "fused":  # compiled: inductor makes these fusions itself, from the plain modules
            _fuse_pointwise(model)
    model.register_forward_pre_hook(_refuse_training)
    if mode == "compiled":
        # freezing: inductor treats the weights as constants (folds, prepacks them for oneDNN); it
        # applies to graphs compiled without autograd, i.e. under torch.no_grad / inference_mode.
        # dynamic=False: one static graph per batch size (an evaluation has at most two: the view chunk
        # and the remainder), never a dynamic-batch graph serving every size
        model.compile(dynamic=False, options={"freezing": True})
    return model
