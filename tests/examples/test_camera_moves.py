"""examples/camera_moves.py: each class's window moves the way its name says, and stays inside the frame."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("av")
_PATH = Path(__file__).parents[2] / "examples" / "camera_moves.py"
_spec = importlib.util.spec_from_file_location("camera_moves", _PATH)
camera_moves = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(camera_moves)


@pytest.mark.parametrize("move", camera_moves.CLASSES)
def test_the_window_moves_as_named_and_stays_inside(move):
    rng = np.random.default_rng(3)
    for _ in range(50):
        path = camera_moves.window_path(move, 90, 160, 16, rng)
        top, left, side = path.T
        assert (top >= -1e-9).all() and (left >= -1e-9).all()
        assert (top + side <= 90 + 1e-9).all() and (left + side <= 160 + 1e-9).all()
        step = {"pan_left": -np.diff(left), "pan_right": np.diff(left),
                "zoom_in": -np.diff(side), "zoom_out": np.diff(side)}[move]
        assert (step > 0).all()


def test_a_pan_right_shows_the_scene_sliding_left():
    # a still scene whose brightness is its column (0..159): a window sliding right sees ever brighter columns
    columns = torch.arange(160, dtype=torch.uint8).expand(20, 3, 90, 160)
    clip = camera_moves.render_clip(columns, "pan_right", 8, 32, np.random.default_rng(0))
    assert clip.shape == (8, 32, 32, 3)
    brightness = clip.reshape(8, -1).mean(axis=1)
    assert (np.diff(brightness) > 0).all()
    clip = camera_moves.render_clip(columns, "pan_left", 8, 32, np.random.default_rng(0))
    assert (np.diff(clip.reshape(8, -1).mean(axis=1)) < 0).all()
