"""Random generator states survive a checkpoint round trip."""
from __future__ import annotations

import random

import numpy as np
import torch

from tanet.checkpoint import load_checkpoint_file, save_checkpoint
from tanet.engine.rng import capture_rng_state, restore_rng_state


def test_rng_state_round_trip_through_a_checkpoint(tmp_path):
    random.seed(1)
    np.random.seed(2)
    torch.manual_seed(3)
    np.random.standard_normal()  # leaves a cached Gaussian in NumPy's state
    save_checkpoint(tmp_path / "rng.pt", {"rng": capture_rng_state()})
    expected = (random.random(), np.random.standard_normal(3).tolist(), torch.rand(3).tolist())
    random.seed(9)
    np.random.seed(9)
    torch.manual_seed(9)
    restore_rng_state(load_checkpoint_file(tmp_path / "rng.pt")["rng"])
    assert (random.random(), np.random.standard_normal(3).tolist(), torch.rand(3).tolist()) == expected
