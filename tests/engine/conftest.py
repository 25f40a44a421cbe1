"""Fixtures for the engine tests: a tiny generated video set and a tiny TANet config."""
from __future__ import annotations

from pathlib import Path

import pytest

from tanet.engine import load_config

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / "configs"


@pytest.fixture(autouse=True, scope="session")
def one_compute_thread():
    """Tiny models run fastest on one thread; on a busy shared CPU, OpenMP threads that wait
    for each other make them tens of times slower."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def tiny_videos(tmp_path_factory):
    """4 appearance classes (coloured shapes), 12 train + 3 val clips each, 8 frames of
    32x32 pixels, encoded to mp4 by PyAV through ``tanet.data.synthetic``."""
    from tanet.data.synthetic import SyntheticSpec, generate

    spec = SyntheticSpec(kind="appearance", num_classes=4, train_per_class=12, val_per_class=3,
                         frames=8, size=32, max_distractors=0, noise=2.0, jitter=0.0)
    return generate(spec, tmp_path_factory.mktemp("videos") / "set")


def tiny_config(videos, out: Path, *extra: str):
    """The cpu_tiny recipe (width-1/8 TANet-R18, 4 frames, 32 px) on ``videos``."""
    return load_config(CONFIGS / "cpu_tiny.yaml", [
        f"data.root={videos.root}", f"data.train_list={videos.train_list}",
        f"data.val_list={videos.val_list}", f"data.class_names={videos.classes_file}",
        f"runtime.out={out}", "runtime.progress=false", *extra,
    ])


@pytest.fixture
def tiny_checkpoint(tiny_videos, tmp_path):
    """An untrained tiny TANet (randomised BatchNorm statistics) with the tiny set's 4 class names, saved
    in tanet's format with a recipe of 32-pixel crops."""
    import torch

    import tanet
    from interop.conftest import randomise
    from tanet.checkpoint import CHECKPOINT_FORMAT, CHECKPOINT_VERSION, save_checkpoint
    from tanet.engine.config import TrainConfig

    torch.manual_seed(0)
    model = randomise(tanet.create_model("tanet_r18", num_classes=4, num_segments=4, width=0.125))
    config = TrainConfig()
    config.data.size, config.data.scale_size = 32, 36
    path = tmp_path / "run" / "best.pt"
    save_checkpoint(path, {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, "model": model.state_dict(),
                           "model_config": model.model_config, "class_names": list(tiny_videos.class_names),
                           "config": config.to_dict()})
    return path
