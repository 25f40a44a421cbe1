"""`tanet pretrain-2d`: deterministic, cached and atomic, and loaded like an ImageNet file."""
import pytest
import torch

import tanet
from tanet.cli import main
from tanet.engine.builders import build_model
from tanet.engine.config import load_config
from tanet.engine.resolve import resolve_training
from tanet.engine.pretrain2d import Pretrain2DOptions, ensure_pretrained_2d, parse_synthetic, pretrained_2d_path
from tanet.errors import TanetError, UsageError

TINY = dict(per_class=2, val_per_class=1, image_size=32, crop=24, epochs=1, batch_size=16)


def test_trained_once_deterministic_and_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("TANET_HOME", str(tmp_path))
    options = Pretrain2DOptions(width=0.125, **TINY)
    path, summary = ensure_pretrained_2d(options, log=lambda _: None)
    assert path == pretrained_2d_path(options) and path.parent == tmp_path / "pretrain2d"
    assert not summary["cached"] and summary["classes"] == 40
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]  # written atomically
    first = torch.load(path, weights_only=True)
    again, cached = ensure_pretrained_2d(options, log=lambda _: None)
    assert cached["cached"] and again == path
    _, retrained = ensure_pretrained_2d(options, force=True, log=lambda _: None)
    assert not retrained["cached"]
    second = torch.load(path, weights_only=True)
    assert first.keys() == second.keys() and all(torch.equal(first[k], second[k]) for k in first)
    # another seed is another file
    assert pretrained_2d_path(Pretrain2DOptions(width=0.125, seed=1, **TINY)) != path


def test_video_models_start_from_it_as_from_imagenet(tmp_path, monkeypatch):
    monkeypatch.setenv("TANET_HOME", str(tmp_path))
    path, _ = ensure_pretrained_2d(Pretrain2DOptions(width=0.125, **TINY), log=lambda _: None)
    state = torch.load(path, weights_only=True)
    tanet_model = tanet.create_model("tanet_r18", num_classes=5, num_segments=4, width=0.125, pretrained=str(path))
    own = tanet_model.state_dict()
    assert torch.equal(own["backbone.layer2.1.conv2.weight"], state["layer2.1.conv2.weight"])
    assert torch.equal(own["backbone.bn1.running_mean"], state["bn1.running_mean"])
    i3d = tanet.create_model("i3d333_r18", num_classes=5, num_segments=4, width=0.125, pretrained=str(path))
    inflated = i3d.state_dict()["backbone.layer1.0.conv1.weight"]  # (out, in, 3, 3, 3): 2D kernel on the centre tap
    assert torch.equal(inflated[:, :, 1], state["layer1.0.conv1.weight"])
    assert not inflated[:, :, 0].any() and not inflated[:, :, 2].any()


def test_reserved_pretrained_value_resolves_to_the_cached_file(tmp_path, monkeypatch):
    monkeypatch.setenv("TANET_HOME", str(tmp_path))
    assert parse_synthetic("synthetic", model_name="tsm_r18", width=0.25) == Pretrain2DOptions(depth=18, width=0.25)
    assert parse_synthetic("synthetic:r34w0.5") == Pretrain2DOptions(depth=34, width=0.5)
    with pytest.raises(UsageError):
        parse_synthetic("synthetic:resnet")
    # the file `synthetic:r18w0.125` names, put in the cache (training it at full size takes a minute)
    options = Pretrain2DOptions(depth=18, width=0.125)
    path = pretrained_2d_path(options)
    path.parent.mkdir(parents=True)
    weights = tanet.models.resnet.resnet18(num_classes=40, width=0.125).state_dict()
    torch.save(weights, path)
    path.with_suffix(".json").write_text('{"val_top1": 50.0}')
    config = load_config("demo", ["model.pretrained=synthetic:r18w0.125", "model.width=0.125", "model.num_classes=3",
                                  "model.name=tsn_r18", "data.synthetic.kind=null"])
    model = build_model(resolve_training(config))
    assert torch.equal(model.state_dict()["backbone.layer3.0.conv1.weight"], weights["layer3.0.conv1.weight"])


def test_cli_trains_then_reuses(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TANET_HOME", str(tmp_path))
    arguments = ["pretrain-2d", "--width", "0.0625", "--epochs", "1", "--per-class", "2"]
    assert main(arguments) == 0
    first = capsys.readouterr().out
    assert "(trained;" in first and str(tmp_path / "pretrain2d") in first
    # the default depth is the demo's ResNet-26
    assert "resnet26_w0.0625" in first
    assert main(arguments) == 0
    assert "(cached;" in capsys.readouterr().out


def test_depth_and_width_follow_the_model_and_key_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TANET_HOME", str(tmp_path))
    r26 = parse_synthetic("synthetic", model_name="i3d311_r26", width=0.25)
    assert r26 == Pretrain2DOptions(depth=26, width=0.25)
    paths = {pretrained_2d_path(Pretrain2DOptions(depth=depth, width=width))
             for depth in (18, 26) for width in (0.25, 0.5)}
    assert len(paths) == 4  # depth and width are both in the cache key
    assert parse_synthetic("synthetic:r26w0.125") == Pretrain2DOptions(depth=26, width=0.125)


def test_r26_start_loads_into_the_r26_family(tmp_path, monkeypatch):
    monkeypatch.setenv("TANET_HOME", str(tmp_path))
    path, _ = ensure_pretrained_2d(Pretrain2DOptions(depth=26, width=0.0625, **TINY), log=lambda _: None)
    state = torch.load(path, weights_only=True)
    assert "layer4.1.conv3.weight" in state and "layer4.2.conv1.weight" not in state  # bottlenecks [2, 2, 2, 2]
    for name, options in (("tanet_r26", {"tam_position": "c"}), ("tsm_r26", {})):
        model = tanet.create_model(name, num_classes=5, num_segments=4, width=0.0625, pretrained=str(path), **options)
        assert torch.equal(model.state_dict()["backbone.layer3.1.conv3.weight"], state["layer3.1.conv3.weight"])
    i3d = tanet.create_model("i3d311_r26", num_classes=5, num_segments=4, width=0.0625, pretrained=str(path))
    inflated = i3d.state_dict()["backbone.layer2.0.conv1.weight"]  # (out, in, 3, 1, 1): 2D 1x1 on the centre tap
    assert inflated.shape[2:] == (3, 1, 1) and torch.equal(inflated[:, :, 1], state["layer2.0.conv1.weight"])
    assert not inflated[:, :, 0].any() and not inflated[:, :, 2].any()


@pytest.mark.parametrize("damage", ["truncated", "other_depth", "other_width", "not_weights"])
def test_damaged_cached_file_is_refused_with_the_fix(tmp_path, monkeypatch, capsys, damage):
    # the reported defect: a truncated cached file was reported "cached" (exit 0) and failed later, with no hint
    monkeypatch.setenv("TANET_HOME", str(tmp_path))
    options = Pretrain2DOptions(depth=18, width=0.125)
    path = pretrained_2d_path(options)
    path.parent.mkdir(parents=True)
    good = tanet.models.resnet18(num_classes=40, width=0.125).state_dict()
    torch.save(good, path)
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif damage == "other_depth":
        torch.save(tanet.models.resnet26(num_classes=40, width=0.125).state_dict(), path)
    elif damage == "other_width":
        torch.save(tanet.models.resnet18(num_classes=40, width=0.25).state_dict(), path)
    else:
        torch.save([1, 2, 3], path)
    path.with_suffix(".json").write_text('{"val_top1": 50.0, "val_images": 800, "classes": 40, "chance": 2.5}')
    damaged = path.read_bytes()
    with pytest.raises(TanetError, match="delete it and it is trained again") as info:
        ensure_pretrained_2d(options, log=lambda _: None)
    message = str(info.value)
    assert "\n" not in message and str(path) in message and not isinstance(info.value, UsageError)
    assert "tanet pretrain-2d --depth 18 --width 0.125 --force" in message
    assert path.read_bytes() == damaged  # refused, not replaced behind the user's back
    # the command line: exit 1, one line on stderr naming the fix
    assert main(["pretrain-2d", "--depth", "18", "--width", "0.125"]) == 1
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "--force" in error[0]


def test_cli_model_flag_and_hint_for_options_without_flags(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TANET_HOME", str(tmp_path))
    assert main(["pretrain-2d", "--model", "tanet_r26", "--depth", "50"]) == 2
    assert "ResNet-26" in capsys.readouterr().err
    assert main(["pretrain-2d", "--model", "tanet_r99"]) == 2
    assert Pretrain2DOptions(depth=26, width=0.25, seed=3).command() == "tanet pretrain-2d --depth 26 --width 0.25 --seed 3"
    assert Pretrain2DOptions(depth=26, width=0.25, crop=48).command() is None  # no flag for crop: no command
