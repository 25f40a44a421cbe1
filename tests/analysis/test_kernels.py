"""tanet kernels: extraction against a hand computation from the weights, statistics, files."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import tanet
from tanet.analysis.kernels import (
    KernelDataset,
    analyse_kernels,
    js_divergence,
    normalise_static_kernels,
)
from tanet.data.dataset import build_test_dataset

from .conftest import SEGMENTS, SIZE


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


def test_js_divergence_reference_values():
    rng = np.random.default_rng(0)
    a = rng.uniform(0, 1, 1000)
    assert js_divergence(a, a, (0.0, 1.0)) == 0.0
    assert js_divergence(np.full(50, 0.1), np.full(70, 0.9), (0.0, 1.0)) == pytest.approx(1.0)
    # p = [1, 0], q = [1/2, 1/2] on two bins: JS = ½ KL(p‖m) + ½ KL(q‖m) with m = [3/4, 1/4]
    p = np.full(8, 0.11)
    q = np.concatenate([np.full(4, 0.11), np.full(4, 0.71)])
    m = np.array([0.75, 0.25])
    expected = 0.5 * np.log2(1 / m[0]) + 0.5 * (0.5 * np.log2(0.5 / m[0]) + 0.5 * np.log2(0.5 / m[1]))
    assert js_divergence(p, q, (0.0, 1.0)) == pytest.approx(expected)


def test_normalise_static_kernels_drops_zero_pairs():
    kernels = np.array([[[0.0, 2.0, -2.0], [0.0, 0.0, 0.0]]])
    np.testing.assert_allclose(normalise_static_kernels(kernels), [[0.0, 0.5, -0.5]])


def test_two_datasets_write_figures_json_npz(tiny_sets, tiny_checkpoints, tmp_path):
    datasets = [
        KernelDataset("motion", tiny_checkpoints["tanet_a"], tiny_sets["motion"].val_list, tiny_sets["motion"].root,
                      tiny_checkpoints["i3d_a"]),
        KernelDataset("appearance", tiny_checkpoints["tanet_b"], tiny_sets["appearance"].val_list,
                      tiny_sets["appearance"].root, tiny_checkpoints["i3d_b"]),
    ]
    analyse_kernels(datasets, ["layer4.1"], tmp_path, progress=False)
    for suffix in ("png", "svg"):
        assert (tmp_path / f"kernels_layer4.1.{suffix}").stat().st_size > 1000
    from matplotlib.image import imread

    assert imread(tmp_path / "kernels_layer4.1.png").ndim == 3
    summary = json.loads((tmp_path / "kernels.json").read_text())
    raw = np.load(tmp_path / "kernels.npz")
    entry = summary["blocks"]["layer4.1"]
    assert entry["paper_name"] == "stage5_2b"
    for name in ("motion", "appearance"):
        stats = entry["datasets"][name]
        theta = raw[f"{name}/layer4.1/adaptive_kernel"]
        importance = raw[f"{name}/layer4.1/importance_map"]
        assert theta.shape[0] == 4 and theta.shape[2] == 3
        np.testing.assert_allclose(stats["theta_tap_mean"], theta.mean(axis=(0, 1)), rtol=1e-5)
        smooth_v = np.mean([abs(importance[n, c, t + 1] - importance[n, c, t]) for n in range(4)
                            for c in range(importance.shape[1]) for t in range(SEGMENTS - 1)])
        assert stats["importance_smoothness"] == pytest.approx(smooth_v, rel=1e-5)
        assert stats["importance_smoother_than_theta"] == (stats["importance_smoothness"] < stats["theta_smoothness"])
        normalised = raw[f"{name}/layer4.1/i3d_kernel_normalised"]
        np.testing.assert_allclose(np.abs(normalised).sum(axis=1), 1.0, rtol=1e-5)
        np.testing.assert_allclose(stats["i3d_tap_std"], normalised.std(axis=0), rtol=1e-4)
    (comparison,) = entry["comparisons"]
    assert comparison["datasets"] == ["motion", "appearance"]
    per_tap = [js_divergence(raw["motion/layer4.1/adaptive_kernel"][..., k],
                             raw["appearance/layer4.1/adaptive_kernel"][..., k], (0.0, 1.0)) for k in range(3)]
    assert comparison["theta_js"] == pytest.approx(np.mean(per_tap))
    assert 0.0 <= comparison["i3d_js"] <= 1.0


def test_cli_and_clear_errors(tiny_sets, tiny_checkpoints, tmp_path, capsys):
    from tanet.cli import main

    motion, appearance = tiny_sets["motion"], tiny_sets["appearance"]
    out = tmp_path / "cli"
    code = main(["kernels", "--checkpoint", str(tiny_checkpoints["tanet_a"]), "--list", str(motion.val_list),
                 "--root", str(motion.root), "--name", "motion", "--checkpoint", str(tiny_checkpoints["tanet_a"]),
                 "--list", str(appearance.val_list), "--root", str(appearance.root), "--name", "appearance",
                 "--blocks", "stage5_2b", "--max-videos", "2", "--no-progress", "--out", str(out)])
    assert code == 0
    summary = json.loads((out / "kernels.json").read_text())
    assert summary["blocks"]["layer4.1"]["datasets"]["motion"]["num_videos"] == 2
    assert (out / "kernels_layer4.1.svg").exists()
    assert "JS(motion, appearance)" in capsys.readouterr().out

    # a TSN checkpoint has no TAM; an unknown block lists the valid ones
    code = main(["kernels", "--checkpoint", str(tiny_checkpoints["tsn"]), "--list", str(motion.val_list),
                 "--root", str(motion.root), "--blocks", "layer4.1", "--no-progress", "--out", str(tmp_path / "x")])
    assert code == 2 and "has no TAM" in capsys.readouterr().err
    code = main(["kernels", "--checkpoint", str(tiny_checkpoints["tanet_a"]), "--list", str(motion.val_list),
                 "--root", str(motion.root), "--blocks", "stage4_6b", "--no-progress", "--out", str(tmp_path / "y")])
    err = capsys.readouterr().err
    assert code == 2 and "stage4_6b" in err and "layer4.1 (stage5_2b)" in err
    # the I3D checkpoint must be an I3D model
    code = main(["kernels", "--checkpoint", str(tiny_checkpoints["tanet_a"]), "--list", str(motion.val_list),
                 "--root", str(motion.root), "--i3d-checkpoint", str(tiny_checkpoints["tanet_b"]),
                 "--blocks", "layer4.1", "--no-progress", "--out", str(tmp_path / "z")])
    assert code == 2 and "no inflated (I3D) conv" in capsys.readouterr().err
