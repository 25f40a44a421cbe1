"""Capture: V, Θ and the I3D kernels read from a checkpoint equal a hand computation from its weights."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

import tanet
from tanet.analysis.kernels.analysis import KernelDataset, analyse_kernels
from tanet.data.dataset import build_test_dataset

from ..conftest import SEGMENTS, SIZE


def _bn_eval(x: torch.Tensor, bn: torch.nn.BatchNorm1d) -> torch.Tensor:
    shape = (1, -1, 1) if x.dim() == 3 else (1, -1)
    return ((x - bn.running_mean.view(shape)) / torch.sqrt(bn.running_var.view(shape) + bn.eps)
            * bn.weight.view(shape) + bn.bias.view(shape))


def _hand_v_theta(tam, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """V and Θ from the TAM's weights for its input x (N*T, C, H, W), written out step by step."""
    T = tam.num_segments
    N, C = x.shape[0] // T, x.shape[1]
    pooled = x.mean(dim=(2, 3)).view(N, T, C).permute(0, 2, 1)  # (N, C, T)
    conv_a, conv_b = tam.L[0].weight, tam.L[3].weight
    hidden = F.conv1d(pooled, conv_a, padding=conv_a.shape[-1] // 2)
    importance = torch.sigmoid(F.conv1d(torch.relu(_bn_eval(hidden, tam.L[1])), conv_b))
    flat = pooled.reshape(N * C, T)
    logits = torch.relu(_bn_eval(flat @ tam.G[0].weight.T, tam.G[1])) @ tam.G[3].weight.T
    kernel = torch.exp(logits) / torch.exp(logits).sum(dim=-1, keepdim=True)
    return importance, kernel.view(N, C, -1)


def test_extraction_matches_hand_computation(tiny_sets, tiny_checkpoints, tmp_path):
    motion = tiny_sets["motion"]
    dataset = KernelDataset("motion", tiny_checkpoints["tanet_a"], motion.val_list, motion.root,
                            i3d_checkpoint=tiny_checkpoints["i3d_a"])
    summary = analyse_kernels([dataset], ["layer3.1", "stage5_1b"], tmp_path, batch_size=3, progress=False,
                              figures=False)
    arrays = summary["arrays"]["motion"]
    assert list(arrays) == ["layer3.1", "layer4.0"]

    # the same model and clips, rebuilt without the analysis code
    state = torch.load(tiny_checkpoints["tanet_a"], weights_only=True)
    model = tanet.create_model(**state["model_config"]).eval()
    model.load_state_dict(state["model"])
    videos = build_test_dataset(motion.val_list, motion.root, num_segments=SEGMENTS, size=SIZE, scale_size=36)
    inputs = {"layer3.1": [], "layer4.0": []}
    hooks = [getattr(model.backbone, block.split(".")[0])[int(block.split(".")[1])].tam.register_forward_pre_hook(
        lambda module, args, block=block: inputs[block].append(args[0].detach().clone())) for block in inputs]
    with torch.no_grad():
        for index in range(len(videos)):
            model(videos[index][0].unsqueeze(0))
    for hook in hooks:
        hook.remove()
    for block in inputs:
        tam = getattr(model.backbone, block.split(".")[0])[int(block.split(".")[1])].tam
        with torch.no_grad():
            expected = [_hand_v_theta(tam, x) for x in inputs[block]]
        importance = torch.cat([v for v, _ in expected]).numpy()
        kernel = torch.cat([k for _, k in expected]).numpy()
        assert arrays[block].importance_map.shape == (len(videos), tam.in_channels, SEGMENTS)
        np.testing.assert_allclose(arrays[block].importance_map, importance, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(arrays[block].adaptive_kernel, kernel, rtol=1e-5, atol=1e-6)

    # I3D: the inflated conv's weight of the same block, spatial taps summed, then L1-normalised per pair
    i3d_state = torch.load(tiny_checkpoints["i3d_a"], weights_only=True)["model"]
    weight = i3d_state["backbone.layer3.1.conv1.weight"].numpy()  # (out, in, 3, 3, 3)
    static = weight.sum(axis=(3, 4))
    np.testing.assert_allclose(arrays["layer3.1"].static_kernel, static, rtol=1e-5, atol=1e-6)
    pair = static[5, 2]
    np.testing.assert_allclose(arrays["layer3.1"].static_kernel_normalised[5 * static.shape[1] + 2],
                               pair / np.abs(pair).sum(), rtol=1e-5)


def test_the_null_views_are_the_outer_crops_of_the_same_frames(tiny_sets, tiny_checkpoints, tmp_path):
    motion = tiny_sets["motion"]
    dataset = KernelDataset("motion", tiny_checkpoints["tanet_a"], motion.val_list, motion.root)
    arrays = analyse_kernels([dataset], ["layer4.1"], tmp_path, batch_size=3, progress=False,
                             figures=False)["arrays"]["motion"]["layer4.1"]
    state = torch.load(tiny_checkpoints["tanet_a"], weights_only=True)
    model = tanet.create_model(**state["model_config"]).eval()
    model.load_state_dict(state["model"])
    # three crops along the long side: start, centre (the test view), end
    videos = build_test_dataset(motion.val_list, motion.root, num_segments=SEGMENTS, size=SIZE, scale_size=36,
                                num_crops=3)
    tam = model.backbone.layer4[1].tam
    seen = []
    hook = tam.register_forward_pre_hook(lambda module, args: seen.append(args[0].detach().clone()))
    with torch.no_grad():
        for index in range(len(videos)):
            model(videos[index][0])  # (3 views, 3, T, H, W)
    hook.remove()
    with torch.no_grad():
        importance = torch.stack([_hand_v_theta(tam, x)[0] for x in seen]).numpy()  # (videos, views, C, T)
    assert arrays.importance_map_views.shape == (len(videos), 2, tam.in_channels, SEGMENTS)
    np.testing.assert_allclose(arrays.importance_map, importance[:, 1], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(arrays.importance_map_views, importance[:, [0, 2]], rtol=1e-5, atol=1e-6)
