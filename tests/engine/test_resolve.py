"""One resolved configuration: derived values follow what they derive from, each with its reason; class
names beside the lists are found; flip is off while the names are unknown; training and evaluation each
resolve once."""
from __future__ import annotations

import shutil
import warnings

import pytest
import yaml

from tanet.engine import load_config
from tanet.engine.builders import build_datasets, build_eval_dataset, load_for_eval
from tanet.engine.config import ConfigError
from tanet.engine.resolve import resolve_for_eval, resolve_training
from tanet.engine.run_log import save_run_config
from tanet.engine.trainer import Trainer

from .conftest import CONFIGS, tiny_config


def _resolved(*overrides, recipe=None):
    return resolve_training(load_config(recipe, ["model.num_classes=4", *overrides]))


def test_scale_size_follows_size_with_its_reason():
    # official ops/models.py:448-453: scale_size = input_size * 256 // 224
    assert _resolved().config.data.scale_size == 256
    resolved = _resolved("data.size=64")
    assert resolved.config.data.scale_size == 73 and resolved.derived["data.scale_size"] == "size * 256 // 224"
    explicit = _resolved("data.size=64", "data.scale_size=80")
    assert explicit.config.data.scale_size == 80 and "data.scale_size" not in explicit.derived
    # a recipe's size changed from the command line moves the short side with it
    assert _resolved("data.size=128", recipe=CONFIGS / "cpu_small.yaml").config.data.scale_size == 146
    for recipe in ("tanet_r50_k400_8x", "tanet_r50_sthv1_8x", "tanet_r50_sthv2_8x"):
        assert resolve_training(load_config(recipe, ["data.class_names=null", "data.flip=false"]),
                                num_classes=4).config.data.scale_size == 256
    # the official dense stride: a 64-frame window
    assert _resolved(recipe="tanet_r50_k400_16x").config.data.dense_interval == 4
    assert _resolved(recipe="tanet_r50_k400_8x").config.data.dense_interval == 8


def test_config_yaml_keeps_derived_values_derived_and_lists_them(tmp_path):
    resolved = _resolved("data.size=64")
    save_run_config(resolved, tmp_path / "config.yaml")
    text = (tmp_path / "config.yaml").read_text()
    assert "#   data.scale_size: 73  (size * 256 // 224)" in text
    assert yaml.safe_load(text)["data"]["scale_size"] is None
    again = load_config(tmp_path / "config.yaml", ["data.size=112"])
    assert resolve_training(again).config.data.scale_size == 128  # re-derived, not a stale 73


def test_class_names_beside_the_training_list_are_used_and_said(tiny_videos, tmp_path):
    for name in ("train.txt", "val.txt", "classes.txt"):
        shutil.copy(getattr(tiny_videos, {"train.txt": "train_list", "val.txt": "val_list",
                                          "classes.txt": "classes_file"}[name]), tmp_path / name)
    config = load_config(CONFIGS / "cpu_tiny.yaml", [f"data.train_list={tmp_path / 'train.txt'}",
                                                     f"data.root={tiny_videos.root}", "model.num_classes=null"])
    resolved = resolve_training(config)
    assert resolved.class_names == tuple(tiny_videos.class_names)
    assert resolved.config.model.num_classes == 4
    assert resolved.derived["data.class_names"] == "found beside the training list"
    summary = "\n".join(resolved.describe())
    assert f"class names 4 from {tmp_path / 'classes.txt'} (found beside the training list)" in summary
    # a count that disagrees is an error naming the file, not a silent choice
    config.model.num_classes = 5
    with pytest.raises(ConfigError, match=r"classes.txt \(beside the training list\) names 4 classes but "
                                          r"model.num_classes is 5"):
        resolve_training(config)


def test_flip_is_off_while_class_names_are_unknown(tiny_videos, tmp_path):
    lists = tmp_path / "lists"
    lists.mkdir()
    shutil.copy(tiny_videos.train_list, lists / "train.txt")  # no classes.txt beside it
    base = [f"data.train_list={lists / 'train.txt'}", f"data.root={tiny_videos.root}", "model.num_classes=4"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the safe default says nothing loud: it does not corrupt labels
        resolved = resolve_training(load_config(CONFIGS / "cpu_tiny.yaml", [*base, "data.flip=auto"]))
    assert resolved.flip_rule is None and resolved.config.data.flip is False
    assert "flip off (class names unknown" in "\n".join(resolved.describe())
    train_set, _ = build_datasets(resolved)
    assert train_set.transform.flip is False

    # asked for explicitly, it flips, keeps the labels and says so loudly
    explicit = resolve_training(load_config(CONFIGS / "cpu_tiny.yaml", [*base, "data.flip=true"]))
    assert explicit.flip_rule is not None and any("unknown class names" in w for w in explicit.warnings)
    with pytest.raises(ConfigError, match="data.flip=swap needs data.class_names"):
        resolve_training(load_config(CONFIGS / "cpu_tiny.yaml", [*base, "data.flip=swap"]))

    # with the names known, auto flips with the mirrored-pair label map
    (lists / "classes.txt").write_text("move_left_to_right\nmove_right_to_left\ngrowing\nshrinking\n")
    named = resolve_training(load_config(CONFIGS / "cpu_tiny.yaml", [*base, "data.flip=auto"]))
    assert named.config.data.flip is True and named.flip_rule.mapping == {0: 1, 1: 0}
    assert build_datasets(named)[0].label_map_on_flip == {0: 1, 1: 0}


def test_eval_resolution_follows_the_training_view_and_the_overrides():
    recipe = load_config(None, ["data.size=24", "data.test_protocol=accurate"])
    resolved = resolve_for_eval(recipe, num_segments=4, num_classes=3)
    d = resolved.config.data
    assert (d.size, d.scale_size, d.test_protocol) == (24, 27, "accurate")
    assert resolved.derived["data.test_protocol"] == "the training recipe's"
    # --size alone at test time moves a derived short side too; --scale-size wins
    assert resolve_for_eval(recipe, num_segments=4, num_classes=3, size=48).config.data.scale_size == 54
    assert resolve_for_eval(recipe, num_segments=4, num_classes=3, size=48, scale_size=50).config.data.scale_size == 50
    assert resolve_for_eval(recipe, num_segments=4, num_classes=3, protocol="efficient").config.data.test_protocol \
        == "efficient"
    assert resolve_for_eval(recipe, num_segments=6, num_classes=3).config.model.num_segments == 6  # the model's


def test_eval_views_read_the_one_resolution(tiny_videos, tiny_checkpoint):
    setup = load_for_eval(tiny_checkpoint)  # trained at 32 from a short side of 36
    view = build_eval_dataset(setup, tiny_videos.val_list, tiny_videos.root)
    assert (view.transform.size, view.transform.scale_size) == (32, 36)
    setup = load_for_eval(tiny_checkpoint, size=48, scale_size=54, protocol="accurate")
    view = build_eval_dataset(setup, tiny_videos.val_list, tiny_videos.root)
    assert view.sampler.num_clips == 2 and view.transform.num_crops == 3 and view.transform.scale_size == 54
    assert setup.class_names == list(tiny_videos.class_names)


def test_training_and_testing_each_resolve_once(tiny_videos, tmp_path, monkeypatch):
    import tanet.engine.resolve as resolve_module
    from tanet.engine.testing import test_checkpoint

    calls = []
    derive = resolve_module._derive_data
    monkeypatch.setattr(resolve_module, "_derive_data", lambda *a: (calls.append(1), derive(*a))[1])
    result = Trainer(tiny_config(tiny_videos, tmp_path / "run", "schedule.epochs=1",
                                 "runtime.max_steps_per_epoch=1")).fit()
    assert len(calls) == 1
    calls.clear()
    test_checkpoint(result.last_checkpoint, tiny_videos.val_list, tiny_videos.root, progress=False)
    assert len(calls) == 1


def test_print_resolved_shows_every_value_with_its_reason(tiny_videos, tmp_path, capsys):
    from tanet.cli import main

    shutil.copy(tiny_videos.train_list, tmp_path / "train.txt")
    shutil.copy(tiny_videos.classes_file, tmp_path / "classes.txt")
    assert main(["train", "cpu_tiny", "--train-list", str(tmp_path / "train.txt"), "--root", str(tiny_videos.root),
                 "--size", "24", "--print-resolved"]) == 0
    out = capsys.readouterr().out
    assert "class names 4 from" in out and "(found beside the training list)" in out
    assert "crop 24 from short side 27 (size * 256 // 224)" in out
    assert yaml.safe_load(out[out.index("model:"):])["data"]["scale_size"] == 27
    assert not (tmp_path / "runs").exists()  # nothing trained, nothing written


@pytest.mark.parametrize("override, message", [
    ("model.name=tanet_r81", "unknown model 'tanet_r81'"),
    ("model.width=1e-6", "the smallest width that works for this model is 0.0625"),
    # the demo recipe trains tanet_r26 (all four styles): style c is impossible on the BasicBlock ResNet-18
    ("model.name=tanet_r18 model.temporal.tam_position=c", "style c"),
])
def test_an_impossible_architecture_is_refused_before_data_is_rendered(tmp_path, monkeypatch, capsys, override,
                                                                       message):
    from tanet.cli import main

    monkeypatch.setenv("TANET_HOME", str(tmp_path / "home"))
    assert main(["train", "demo", "--out", str(tmp_path / "run"), "--set", *override.split()]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not (tmp_path / "home").exists() and not (tmp_path / "run").exists()  # nothing rendered, nothing written


def test_workers_auto_leaves_the_training_process_one_core(monkeypatch):
    import os

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(6)), raising=False)
    resolved = _resolved("data.num_workers=auto")
    assert resolved.config.data.num_workers == 5
    assert resolved.derived["data.num_workers"] == "auto: 6 cores here, one kept for training"
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0}, raising=False)
    assert _resolved("data.num_workers=auto").config.data.num_workers == 0  # one core: load in the main process
    assert _resolved("data.num_workers=3").config.data.num_workers == 3
    with pytest.raises(ConfigError, match="data.num_workers must be >= 0 or auto"):
        _resolved("data.num_workers=-1")


def test_the_official_linear_lr_multipliers_only_when_the_model_starts_pretrained():
    scratch = _resolved()
    assert scratch.config.optim.linear_lr_policy == "none"
    assert scratch.derived["optim.linear_lr_policy"] == "from scratch: no pretrained layer to outpace"
    pretrained = _resolved("model.pretrained=resnet50.pth")
    assert pretrained.config.optim.linear_lr_policy == "official"
    assert _resolved("model.init_from=k400.pt").config.optim.linear_lr_policy == "official"
    # a recipe that names its policy keeps it (the official recipes say official)
    assert _resolved("optim.linear_lr_policy=official").config.optim.linear_lr_policy == "official"
    assert resolve_training(load_config("tanet_r50_sthv1_8x", ["data.class_names=null"]), num_classes=4) \
        .config.optim.linear_lr_policy == "official"


def test_blocks_start_as_their_shortcuts_only_from_random_weights(tmp_path):
    from tanet.engine.builders import build_model

    scratch = _resolved("model.name=tanet_r18", "model.width=0.25")
    assert scratch.config.model.zero_init_last is True
    assert scratch.derived["model.zero_init_last"] == "from scratch: blocks start as their shortcuts"
    assert "last BatchNorm scale at zero" in " ".join(scratch.describe())
    model = build_model(scratch)
    body = model.backbone
    last_scales = [body.layer1[0].bn2.weight, body.layer4[1].bn2.weight]
    assert all(bool((scale == 0).all()) for scale in last_scales)
    assert bool((body.layer4[1].bn1.weight == 1).all())  # only the last BatchNorm of each block
    # a pretrained start keeps what it loads; an explicit choice is kept
    assert _resolved("model.pretrained=resnet50.pth").config.model.zero_init_last is False
    assert _resolved("model.init_from=k400.pt").config.model.zero_init_last is False
    kept = _resolved("model.name=tanet_r18", "model.width=0.25", "model.zero_init_last=false")
    assert "model.zero_init_last" not in kept.derived
    assert bool((build_model(kept).backbone.layer1[0].bn2.weight == 1).all())
    with pytest.raises(ConfigError, match="model.zero_init_last"):
        _resolved("model.zero_init_last=sometimes")
