"""Tiny models with non-trivial weights, and independent writers of the foreign checkpoint layouts."""
from __future__ import annotations

import pytest
import torch
from torch import nn

import tanet

TINY = dict(num_classes=5, num_segments=4, width=0.125)


def randomise(model: nn.Module, seed: int = 0) -> nn.Module:
    """Give every BatchNorm random statistics and the classifier real weights, so that a wrong
    key mapping changes the logits by far more than the 1e-4 tolerance."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                size = module.num_features
                module.weight.copy_(1 + 0.2 * torch.randn(size, generator=generator))
                module.bias.copy_(0.2 * torch.randn(size, generator=generator))
                module.running_mean.copy_(0.1 * torch.randn(size, generator=generator))
                module.running_var.copy_(0.5 + torch.rand(size, generator=generator))
        model.fc.weight.copy_(torch.randn(model.fc.weight.shape, generator=generator))
        model.fc.bias.copy_(torch.randn(model.fc.bias.shape, generator=generator))
    return model.eval()


def tiny_model(name: str = "tanet_r50", seed: int = 0, **overrides) -> nn.Module:
    torch.manual_seed(seed)
    return randomise(tanet.create_model(name, **{**TINY, **overrides}), seed)


@pytest.fixture
def clips() -> torch.Tensor:
    return torch.randn(2, 3, 4, 32, 32, generator=torch.Generator().manual_seed(1))


def write_official_layout(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The documented official-TAM layout: nn.DataParallel(TSN) -> 'module.'; ResNet as 'base_model';
    a TA-Block's torchvision block under 'net.' next to 'tam.'; classifier 'new_fc'."""
    out = {}
    for key, value in state.items():
        parts = key.split(".")
        if parts[0] == "fc":
            out["module.new_fc." + ".".join(parts[1:])] = value
        elif parts[1].startswith("layer"):
            stage, block, rest = parts[1], parts[2], parts[3:]
            inner = rest if rest[0] == "tam" else ["net", *rest]
            out[".".join(["module.base_model", stage, block, *inner])] = value
        else:  # stem: conv1 / bn1
            out["module.base_model." + ".".join(parts[1:])] = value
    return out


def write_mmaction2_layout(state: dict[str, torch.Tensor], *, shift: bool = False) -> dict[str, torch.Tensor]:
    """MMAction2's layout (checked against the key lists MMAction2 1.2.0 writes, data/): ConvModules
    (conv/bn); TANet's TA-Blocks as 'block' + 'tam'; ResNetTSM's shift around conv1's conv
    ('conv1.conv.net', with ``shift``); shortcut 'downsample.conv/bn'; classifier 'cls_head.fc_cls'."""
    conv_module = {"conv1": "conv1.conv", "bn1": "conv1.bn", "conv2": "conv2.conv", "bn2": "conv2.bn",
                   "conv3": "conv3.conv", "bn3": "conv3.bn"}
    if shift:
        conv_module["conv1"] = "conv1.conv.net"
    wrapped = any(".tam." in key for key in state)  # TANet wraps each block as 'block'
    out = {}
    for key, value in state.items():
        parts = key.split(".")
        if parts[0] == "fc":
            out["cls_head.fc_cls." + parts[1]] = value
        elif parts[1].startswith("layer"):
            stage, block, layer, rest = parts[1], parts[2], parts[3], parts[4:]
            if layer == "tam":
                inner = ["tam", *rest]
            elif layer == "downsample":
                inner = ["downsample", {"0": "conv", "1": "bn"}[rest[0]], *rest[1:]]
            else:
                inner = [conv_module[layer], *rest]
            if wrapped and layer != "tam":
                inner = ["block", *inner]
            out[".".join(["backbone", stage, block, *inner])] = value
        else:
            stem = {"conv1": "conv1.conv", "bn1": "conv1.bn"}[parts[1]]
            out["backbone." + stem + "." + ".".join(parts[2:])] = value
    return out
