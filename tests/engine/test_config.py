"""Recipes, dotted overrides and their errors."""
from __future__ import annotations

import argparse
import re

import pytest
import yaml

from tanet.cli import train as train_command
from tanet.engine.config import ConfigError, TrainConfig, load_config, save_config, valid_keys

from .conftest import CONFIGS


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.name)
def test_every_recipe_loads_and_names_a_registered_model(path):
    import tanet

    config = load_config(path)
    assert config.model.name in tanet.list_models()


def test_official_per_dataset_settings():
    k400 = load_config(CONFIGS / "tanet_r50_k400_8x.yaml")
    assert (k400.data.sampling, k400.optim.weight_decay, k400.model.dropout) == ("dense", 1e-4, 0.5)
    assert (k400.schedule.epochs, k400.schedule.milestones) == (100, [50, 75, 90])
    assert k400.optim.clip_grad_norm == 20 and k400.optim.momentum == 0.9
    ssv1 = load_config(CONFIGS / "tanet_r50_sthv1_8x.yaml")
    assert (ssv1.optim.weight_decay, ssv1.model.dropout, ssv1.data.flip) == (1e-3, 0.6, False)
    assert (ssv1.schedule.epochs, ssv1.schedule.milestones) == (50, [30, 40, 45])
    ssv2 = load_config(CONFIGS / "tanet_r50_sthv2_8x.yaml")
    assert (ssv2.optim.weight_decay, ssv2.data.flip) == (5e-4, "swap")
    assert (ssv2.optim.lr, ssv2.optim.base_batch_size) == (0.02, 128)
    # the dense interval is derived from the frames (official t_stride = 64 // T): tests/engine/test_resolve.py
    assert k400.data.dense_interval is None


def test_overrides_are_typed_yaml_scalars():
    config = load_config(CONFIGS / "cpu_tiny.yaml", [
        "optim.lr=0.5", "schedule.milestones=[3, 4]", "model.pretrained=null",
        "optim.clip_grad_norm=null", "data.flip=swap", "runtime.compile=true",
        "model.temporal.tam_position=c", "optim.weight_decay=1e-3"])
    assert config.optim.lr == 0.5
    assert config.schedule.milestones == [3, 4]
    assert config.model.pretrained is None and config.optim.clip_grad_norm is None
    assert config.data.flip == "swap" and config.runtime.compile is True
    assert config.model.temporal.tam_position == "c"
    assert config.optim.weight_decay == pytest.approx(1e-3)  # YAML 1.1 reads 1e-3 as a string
    assert isinstance(config.optim.weight_decay, float)


def test_unknown_key_lists_the_valid_ones():
    with pytest.raises(ConfigError) as info:
        load_config(None, ["optim.learning_rate=0.1"])
    message = str(info.value)
    assert "optim.learning_rate" in message
    for key in ("lr", "momentum", "weight_decay", "linear_lr_policy"):
        assert key in message
    with pytest.raises(ConfigError, match="valid sections"):
        TrainConfig.from_dict({"optimiser": {"lr": 0.1}})


@pytest.mark.parametrize("override, fragment", [
    ("optim.lr=fast", "optim.lr"),
    ("data.batch_size=2.5", "data.batch_size"),
    ("data.sampling=random", "data.sampling"),
    ("runtime.amp=fp8", "runtime.amp"),
    ("optim.lr", "section.key=value"),
    # nonsense values are refused when the recipe is read, not met as a traceback (or gradient ascent) later
    ("schedule.gamma=-0.1", "schedule.gamma must be in (0, 1]"),
    ("schedule.warmup_epochs=-1", "schedule.warmup_epochs must be >= 0"),
    ("data.size=0", "data.size must be >= 1"),
    ("data.scale_size=-5", "data.scale_size must be >= 1"),
    ("model.width=0", "model.width must be positive"),
    ("data.crop_scales=[]", "data.crop_scales must be a non-empty list"),
    ("data.crop_scales=[1.0,0]", "data.crop_scales must be a non-empty list"),
    ("model.num_classes=0", "model.num_classes must be >= 1"),
    ("optim.base_batch_size=0", "optim.base_batch_size must be >= 1"),
    ("optim.weight_decay=-1e-4", "optim.weight_decay must be >= 0"),
    ("schedule.milestones=[-1]", "schedule.milestones must be epochs >= 0"),
    ("data.max_skip_fraction=1.5", "data.max_skip_fraction must be in [0, 1]"),
    ("model.extra={tam_alpha: 2}", "unknown key model.extra"),
    # NaN and infinity pass every `<` comparison: refused by name (issue 19)
    ("optim.lr=.nan", "optim.lr must be a finite number, got nan"),
    ("optim.lr=.inf", "optim.lr must be a finite number, got inf"),
    ("optim.weight_decay=.nan", "optim.weight_decay must be a finite number"),
    ("data.crop_scales=[1.0,.nan]", "data.crop_scales must hold finite numbers"),
    # a negative seed was refused by numpy after config.yaml had been written
    ("runtime.seed=-5", "runtime.seed must be in [0, 4294967295], got -5"),
    ("runtime.seed=4294967296", "runtime.seed must be in [0, 4294967295]"),
    ("data.flip=maybe", "data.flip must be auto, true, false or swap"),
])
def test_bad_values_are_errors_naming_the_key(override, fragment):
    with pytest.raises(ConfigError, match=re.escape(fragment)):
        load_config(None, [override])


def test_base_recipes_chain_and_cycles_are_errors(tmp_path):
    (tmp_path / "base.yaml").write_text("optim: {lr: 0.1, momentum: 0.8}\nmodel: {name: tsm_r18}\n")
    (tmp_path / "child.yaml").write_text("base: base.yaml\noptim: {lr: 0.3}\n")
    config = load_config(tmp_path / "child.yaml")
    assert (config.optim.lr, config.optim.momentum, config.model.name) == (0.3, 0.8, "tsm_r18")
    # bases chain: the grandchild sees the child's and the base's keys, its own win
    (tmp_path / "grandchild.yaml").write_text("base: child.yaml\nmodel: {num_segments: 16}\n")
    config = load_config(tmp_path / "grandchild.yaml")
    assert (config.optim.lr, config.optim.momentum, config.model.num_segments) == (0.3, 0.8, 16)
    # a list of bases applies in order
    (tmp_path / "other.yaml").write_text("optim: {lr: 0.7}\n")
    (tmp_path / "both.yaml").write_text("base: [child.yaml, other.yaml]\n")
    assert load_config(tmp_path / "both.yaml").optim.lr == 0.7
    (tmp_path / "loop_a.yaml").write_text("base: loop_b.yaml\n")
    (tmp_path / "loop_b.yaml").write_text("base: loop_a.yaml\n")
    with pytest.raises(ConfigError, match="cycle"):
        load_config(tmp_path / "loop_a.yaml")


def test_shipped_recipes_resolve_by_name():
    assert load_config("tanet_r50_k400_16x") == load_config(CONFIGS / "tanet_r50_k400_16x.yaml")
    with pytest.raises(ConfigError, match="shipped"):
        load_config("no_such_recipe")


def test_bad_yaml_names_the_file(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("optim: {lr: [0.1\n")
    with pytest.raises(ConfigError, match="broken.yaml"):
        load_config(path)


def test_saved_config_round_trips(tmp_path):
    config = load_config(CONFIGS / "tanet_r50_sthv2_8x.yaml", ["optim.lr=0.05"])
    save_config(config, tmp_path / "config.yaml")
    assert load_config(tmp_path / "config.yaml") == config
    assert yaml.safe_load((tmp_path / "config.yaml").read_text())["optim"]["lr"] == 0.05


def test_cli_flags_map_to_keys_and_set_wins():
    parser = argparse.ArgumentParser()
    train_command.add_arguments(parser)
    args = parser.parse_args([
        "--model", "tsm_r18", "--segments", "16", "--epochs", "3", "--batch-size", "2",
        "--size", "112", "--out", "123", "--root", "/data", "--num-classes", "7",
        "--train-list", "a.txt", "--val-list", "b.txt", "--lr", "0.2",
        "--set", "optim.lr=0.4", "schedule.name=cosine", "--set", "data.size=96"])
    config = load_config(None, train_command.overrides_from_args(args))
    assert (config.model.name, config.model.num_segments, config.model.num_classes) == ("tsm_r18", 16, 7)
    assert (config.schedule.epochs, config.data.batch_size) == (3, 2)
    assert config.runtime.out == "123"  # stays a string though it looks like a number
    assert (config.data.train_list, config.data.val_list, config.data.root) == ("a.txt", "b.txt", "/data")
    assert config.optim.lr == 0.4 and config.schedule.name == "cosine" and config.data.size == 96


def test_valid_keys_cover_every_section():
    keys = valid_keys()
    assert {"model.name", "data.train_list", "optim.lr", "schedule.milestones", "runtime.resume"} <= set(keys)


def test_strict_data_flag_sets_data_strict():
    import argparse

    from tanet.cli.train import add_arguments, overrides_from_args
    from tanet.engine.config import load_config

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert load_config(None, overrides_from_args(parser.parse_args(["--strict-data"]))).data.strict is True
    assert load_config(None, overrides_from_args(parser.parse_args([]))).data.strict is False
