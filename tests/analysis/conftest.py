"""Fixtures for the analysis tests: tiny generated video sets and tiny (untrained) checkpoints."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

import tanet
from tanet.data.synthetic import SyntheticSpec, generate
from tanet.checkpoint import CHECKPOINT_FORMAT, CHECKPOINT_VERSION, save_checkpoint
from tanet.engine.config import TrainConfig

SEGMENTS = 4
SIZE = 32


def tiny_config() -> TrainConfig:
    config = TrainConfig()
    config.model.name = "tanet_r18"
    config.model.num_segments = SEGMENTS
    config.model.width = 0.125
    config.data.size = SIZE
    config.data.scale_size = 36
    return config


def save_tiny_checkpoint(path: Path, name: str, seed: int, num_classes: int = 2) -> Path:
    """An untrained tiny model with randomised BatchNorm statistics (so eval-mode BN is not the identity)."""
    torch.manual_seed(seed)
    model = tanet.create_model(name, num_classes=num_classes, num_segments=SEGMENTS, width=0.125)
    for module in model.modules():
        if isinstance(module, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            module.running_mean.uniform_(-0.3, 0.3)
            module.running_var.uniform_(0.5, 1.5)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.2, 0.2)
    for module in model.modules():  # I3D starts with zero side taps; give them values
        if type(module).__name__ == "InflatedConv":
            module.weight.data.normal_(0.0, 0.1)
    config = tiny_config()
    config.model.name = name
    save_checkpoint(path, {
        "format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, "model": model.state_dict(),
        "model_config": model.model_config, "class_names": None, "epoch": 0, "config": config.to_dict(),
    })
    return path


@pytest.fixture(scope="session")
def tiny_sets(tmp_path_factory) -> dict:
    """Two tiny built-in sets (2 classes, 2 train + 2 val clips each, 8 frames of 32x32)."""
    base = tmp_path_factory.mktemp("sets")
    sets = {}
    for kind in ("motion", "appearance"):
        spec = SyntheticSpec(kind=kind, num_classes=2, train_per_class=2, val_per_class=2, frames=8, size=SIZE)
        sets[kind] = generate(spec, root=base / kind)
    return sets


@pytest.fixture(scope="session")
def tiny_checkpoints(tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("checkpoints")
    return {
        "tanet_a": save_tiny_checkpoint(base / "tanet_a.pt", "tanet_r18", seed=1),
        "tanet_b": save_tiny_checkpoint(base / "tanet_b.pt", "tanet_r18", seed=2),
        "i3d_a": save_tiny_checkpoint(base / "i3d_a.pt", "i3d311_r18", seed=3),
        "i3d_b": save_tiny_checkpoint(base / "i3d_b.pt", "i3d311_r18", seed=4),
        "tsn": save_tiny_checkpoint(base / "tsn.pt", "tsn_r18", seed=5),
    }
