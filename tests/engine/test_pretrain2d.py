"""`tanet pretrain-2d`: deterministic, cached and atomic, and loaded like an ImageNet file."""
import pytest
import torch

import tanet
from tanet.cli import main
from tanet.engine.builders import build_model
from tanet.engine.config import load_config
from tanet.engine.resolve import resolve_training
from tanet.engine.pretrain2d import Pretrain2DOptions, ensure_pretrained_2d, parse_synthetic, pretrained_2d_path
from tanet.errors import UsageError

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
    arguments = ["pretrain-2d", "--width", "0.125", "--epochs", "1", "--per-class", "2"]
    assert main(arguments) == 0
    first = capsys.readouterr().out
    assert "(trained;" in first and str(tmp_path / "pretrain2d") in first
    assert main(arguments) == 0
    assert "(cached;" in capsys.readouterr().out
