"""Derived defaults follow the options they depend on; the recipes carry the official test, frames and init."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from tanet.engine import load_config
from tanet.engine.builders import build_datasets
from tanet.engine.resolve import resolve_training
from tanet.engine.trainer import Trainer

from .conftest import CONFIGS, tiny_config


def test_test_protocol_comes_from_the_recipe():
    assert load_config("tanet_r50_sthv1_8x").data.test_protocol == "efficient"  # official SSv1: uniform-1, 1 crop
    assert load_config("tanet_r50_sthv2_8x").data.test_protocol == "accurate"  # official SSv2: uniform-2 x 3 crops
    assert load_config("tanet_r50_k400_8x").data.test_protocol == "dense"  # official K400: dense-10 x 3 crops


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*_k400_*.yaml")) + sorted(CONFIGS.glob("*_sthv*.yaml")),
                         ids=lambda p: p.name)
def test_reproduction_recipes_use_the_official_rules(path):
    config = load_config(path)
    d = config.data
    assert d.sampling_rule == "official" and d.scale_size is None and d.dense_interval is None
    assert config.model.pretrained is None and config.model.pretrained_expected
    if "sthv1" in path.name:
        assert (d.frame_template, d.flip, d.test_protocol) == ("{:05d}.jpg", False, "efficient")
    elif "sthv2" in path.name:
        assert (d.frame_template, d.flip, d.test_protocol) == ("img_{:05d}.jpg", "swap", "accurate")
    else:
        assert (d.sampling, d.flip, d.test_protocol) == ("dense", True, "dense")


def test_sthv1_recipe_reads_official_frame_folders(tmp_path):
    """Something-Something V1 ships folders of 00001.jpg, 00002.jpg, ... (official ops/dataset_config.py)."""
    from PIL import Image

    folder = tmp_path / "frames" / "1"
    folder.mkdir(parents=True)
    for i in range(12):
        Image.fromarray(np.full((40, 52, 3), 20 * i, np.uint8)).save(folder / f"{i + 1:05d}.jpg")
    (tmp_path / "train.txt").write_text("1 12 5\n")
    config = load_config("tanet_r50_sthv1_8x", [
        f"data.root={tmp_path / 'frames'}", f"data.train_list={tmp_path / 'train.txt'}", "data.size=32",
        "model.num_segments=4", "data.strict=true"])
    train_set, _ = build_datasets(resolve_training(config, num_classes=10))
    clip, label = train_set[0]
    assert tuple(clip.shape) == (3, 4, 32, 32) and label == 5


def _tiny_official(tiny_videos, tmp_path, *extra):
    return load_config("tanet_r50_sthv1_8x", [
        "model.name=tanet_r18", "model.width=0.125", "model.num_segments=4", "model.num_classes=null",
        "data.size=32", "data.batch_size=4", "data.num_workers=0", f"data.root={tiny_videos.root}",
        f"data.train_list={tiny_videos.train_list}", f"data.class_names={tiny_videos.classes_file}",
        f"runtime.out={tmp_path}", "runtime.device=cpu", *extra])


def test_from_scratch_in_an_imagenet_recipe_is_said_and_recorded(tiny_videos, tmp_path):
    with pytest.warns(UserWarning, match="trains from scratch, but this recipe is meant to start from ImageNet"):
        trainer = Trainer(_tiny_official(tiny_videos, tmp_path / "a"))
    assert trainer.config.model.pretrained == "scratch"  # what config.yaml and the checkpoints record
    summary = trainer.describe()
    assert "init: from scratch (the recipe expects ImageNet weights)" in summary
    # the run summary prints the resolved values, derived ones marked
    assert "crop 32 from short side 36 (size * 256 // 224)" in summary
    assert "segment sampling, official rule" in summary and "flip off" in summary
    assert "test protocol efficient" in summary

    chosen = _tiny_official(tiny_videos, tmp_path / "b", "model.pretrained=scratch")
    for extra, config in (("model.pretrained=scratch", chosen), ("cpu_tiny", tiny_config(tiny_videos, tmp_path / "c"))):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            Trainer(config)
        assert not [w for w in caught if "ImageNet" in str(w.message)], extra


def test_tanet_test_uses_the_recipes_protocol(tiny_videos, tiny_checkpoint):
    from tanet.checkpoint import load_checkpoint_file, save_checkpoint
    from tanet.cli import main


    state = load_checkpoint_file(tiny_checkpoint)
    state["config"]["data"]["test_protocol"] = "accurate"  # as an SSv2 recipe records it
    save_checkpoint(tiny_checkpoint, state)
    assert main(["test", "--checkpoint", str(tiny_checkpoint), "--val-list", str(tiny_videos.val_list),
                 "--root", str(tiny_videos.root), "--no-progress"]) == 0
    metrics = json.loads((tiny_checkpoint.parent / "test-val-accurate" / "metrics.json").read_text())
    assert metrics["protocol"] == "accurate"
