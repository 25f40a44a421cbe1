"""Derived defaults follow the options they depend on; the recipes carry the official test, frames and init."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from tanet.engine import load_config
from tanet.engine.builders import (
    EvalSetup,
    build_datasets,
    build_eval_dataset,
    eval_protocol,
    resolve_defaults,
)
from tanet.engine.config import save_config
from tanet.engine.trainer import Trainer
from tanet.models import build_model

from .conftest import CONFIGS, tiny_config


def test_scale_size_follows_size():
    # official ops/models.py:448-453: scale_size = input_size * 256 // 224
    assert resolve_defaults(load_config(None)).data.scale_size == 256
    assert resolve_defaults(load_config(None, ["data.size=64"])).data.scale_size == 73
    assert resolve_defaults(load_config(None, ["data.size=64", "data.scale_size=80"])).data.scale_size == 80
    # a recipe's size changed from the command line moves the short side with it
    assert resolve_defaults(load_config(CONFIGS / "cpu_small.yaml", ["data.size=128"])).data.scale_size == 146
    for recipe in ("tanet_r50_k400_8x", "tanet_r50_sthv1_8x", "tanet_r50_sthv2_8x"):
        assert resolve_defaults(load_config(recipe)).data.scale_size == 256


def test_saved_config_keeps_derived_values_derived(tmp_path):
    save_config(load_config(None, ["data.size=64"]), tmp_path / "config.yaml")
    again = load_config(tmp_path / "config.yaml", ["data.size=112"])
    assert again.data.scale_size is None and resolve_defaults(again).data.scale_size == 128


def test_training_and_validation_views_use_the_derived_scale_size(tiny_videos, tmp_path):
    config = tiny_config(tiny_videos, tmp_path, "data.size=24", "data.flip=false")
    train_set, val_set = build_datasets(config, list(tiny_videos.class_names))
    assert train_set.transform.scale_size == 27 and val_set.transform.scale_size == 27  # 24 * 256 // 224
    assert val_set.sampler.mode == "val" and train_set.sampler.rule == "official"


def _setup(config, num_classes=4):
    config.model.num_classes = num_classes
    return EvalSetup(build_model(config.model.name, num_classes, config.model.num_segments, width=0.125), config,
                     None, None)


def test_eval_views_follow_the_training_size(tiny_videos, tmp_path):
    setup = _setup(tiny_config(tiny_videos, tmp_path, "data.size=24"))
    view = build_eval_dataset(setup, tiny_videos.val_list, tiny_videos.root)
    assert (view.transform.size, view.transform.scale_size) == (24, 27)
    # --size alone at test time moves a derived short side too; --scale-size wins
    view = build_eval_dataset(setup, tiny_videos.val_list, tiny_videos.root, size=48)
    assert (view.transform.size, view.transform.scale_size) == (48, 54)
    view = build_eval_dataset(setup, tiny_videos.val_list, tiny_videos.root, size=48, scale_size=50)
    assert view.transform.scale_size == 50


def test_test_protocol_comes_from_the_recipe(tiny_videos, tmp_path):
    assert load_config("tanet_r50_sthv1_8x").data.test_protocol == "efficient"  # official SSv1: uniform-1, 1 crop
    assert load_config("tanet_r50_sthv2_8x").data.test_protocol == "accurate"  # official SSv2: uniform-2 x 3 crops
    assert load_config("tanet_r50_k400_8x").data.test_protocol == "dense"  # official K400: dense-10 x 3 crops
    setup = _setup(tiny_config(tiny_videos, tmp_path, "data.test_protocol=accurate"))
    assert eval_protocol(setup) == "accurate" and eval_protocol(setup, "efficient") == "efficient"
    view = build_eval_dataset(setup, tiny_videos.val_list, tiny_videos.root, protocol=None)
    assert view.sampler.num_clips == 2 and not view.sampler.twice_sample and view.transform.num_crops == 3


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
    train_set, _ = build_datasets(config, None)
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
    assert "crop 32 from short side 36 (derived)" in summary
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
