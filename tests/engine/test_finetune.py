"""Fine-tuning from a video checkpoint (``--init-from``, ``--weights NAME``) on tiny generated videos."""
from __future__ import annotations

import json

import pytest
import torch

import tanet
from interop.conftest import randomise, write_mmaction2_layout
from tanet.checkpoint import (CHECKPOINT_FORMAT, CHECKPOINT_VERSION, CheckpointError, load_checkpoint_file,
                              save_checkpoint)
from tanet.cli import main
from tanet.engine import Trainer
from tanet.interop import weights as weights_module
from tanet.interop.weights import PretrainedWeights, sha256_file

from .conftest import CONFIGS, tiny_config

ARCH = dict(num_segments=4, width=0.125)


def _source_model(name, num_classes, seed=0):
    torch.manual_seed(seed)
    return randomise(tanet.create_model(name, num_classes=num_classes, **ARCH), seed)


def _save_native(model, path, class_names=None):
    names = class_names or [f"c{i}" for i in range(model.num_classes)]
    save_checkpoint(path, {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, "model": model.state_dict(),
                           "model_config": model.model_config, "class_names": list(names)})
    return path


def _backbone(state):
    return {key: value for key, value in state.items() if not key.startswith("fc.")}


def _same(a, b):
    return all(torch.equal(a[key], b[key]) for key in a)


def test_native_checkpoint_into_another_class_count_end_to_end(tiny_videos, tmp_path, capsys):
    source = _source_model("tanet_r18", num_classes=7)
    path = _save_native(source, tmp_path / "source.pt")
    run = tmp_path / "run"
    code = main(["train", str(CONFIGS / "cpu_tiny.yaml"), "--root", str(tiny_videos.root),
                 "--train-list", str(tiny_videos.train_list), "--val-list", str(tiny_videos.val_list),
                 "--class-names", str(tiny_videos.classes_file), "--epochs", "1", "--out", str(run),
                 "--init-from", str(path), "--no-progress", "--set", "optim.lr=1e-9"])
    assert code == 0
    printed = capsys.readouterr().out
    assert f"init from {path} (native layout)" in printed
    assert "classifier re-initialised: the checkpoint has 7 classes, this run 4" in printed
    trained = load_checkpoint_file(run / "last.pt")
    assert trained["model"]["fc.weight"].shape == (4, source.fc.in_features)
    # with a vanishing learning rate the backbone is still the source's (BatchNorm statistics move)
    source_state = _backbone(source.state_dict())
    learned = {k: v for k, v in source_state.items() if "running" not in k and "num_batches" not in k}
    assert all(torch.allclose(trained["model"][k], v, atol=1e-6) for k, v in learned.items())
    assert trained["config"]["model"]["init_from"] == str(path)

    code = main(["test", "--checkpoint", str(run / "last.pt"), "--val-list", str(tiny_videos.val_list),
                 "--root", str(tiny_videos.root), "--no-progress"])
    assert code == 0 and "top-1 (%)" in capsys.readouterr().out


@pytest.mark.parametrize("name,shift", [("tanet_r50", False), ("tsm_r50", True)])
def test_mmaction2_checkpoint_into_another_class_count(tiny_videos, tmp_path, name, shift):
    source = _source_model(name, num_classes=400)
    path = tmp_path / "epoch_50.pth"
    torch.save({"meta": {"epoch": 50}, "state_dict": write_mmaction2_layout(source.state_dict(), shift=shift)}, path)
    config = tiny_config(tiny_videos, tmp_path / "run", f"model.name={name}", f"model.init_from={path}",
                         "schedule.epochs=1")
    trainer = Trainer(config)
    assert trainer.init_report.source_format == "mmaction2" and trainer.init_report.classifier_reset
    assert "the checkpoint has 400 classes, this run 4" in trainer.describe()
    assert _same(_backbone(source.state_dict()), trainer.model.state_dict())
    assert trainer.model.fc.weight.shape == (4, source.fc.in_features)
    result = trainer.fit()
    assert torch.isfinite(torch.tensor(result.history[0]["train_loss"]))


def test_the_same_classes_keep_the_classifier_other_classes_do_not(tiny_videos, tmp_path):
    source = _source_model("tanet_r18", num_classes=4)
    same = _save_native(source, tmp_path / "same.pt", class_names=tiny_videos.class_names)
    trainer = Trainer(tiny_config(tiny_videos, tmp_path / "run", f"model.init_from={same}"))
    assert not trainer.init_report.classifier_reset
    assert "classifier loaded too (4 classes" in trainer.describe()
    assert _same(source.state_dict(), trainer.model.state_dict())
    # four classes too, but other ones (TSM's tune_from drops fc for a new data set): a fresh classifier
    other = _save_native(source, tmp_path / "other.pt", class_names=["a", "b", "c", "d"])
    trainer = Trainer(tiny_config(tiny_videos, tmp_path / "run2", f"model.init_from={other}"))
    assert trainer.init_report.classifier_reset
    assert "classifier re-initialised: the checkpoint's 4 classes are not this run's" in trainer.describe()
    assert _same(_backbone(source.state_dict()), trainer.model.state_dict())
    assert not torch.equal(trainer.model.fc.weight, source.fc.weight)


def test_another_architecture_is_named_not_listed_key_by_key(tiny_videos, tmp_path):
    path = _save_native(_source_model("tsn_r18", num_classes=4), tmp_path / "tsn.pt")
    with pytest.raises(CheckpointError, match=r"name 'tsn_r18' \(the run: 'tanet_r18'\)"):
        Trainer(tiny_config(tiny_videos, tmp_path / "run", f"model.init_from={path}"))
    wide = _save_native(randomise(tanet.create_model("tanet_r18", num_classes=4, num_segments=4, width=0.25)),
                        tmp_path / "wide.pt")
    with pytest.raises(CheckpointError, match=r"width 0.25 \(the run: 0.125\)"):
        Trainer(tiny_config(tiny_videos, tmp_path / "run", f"model.init_from={wide}"))


def test_a_video_checkpoint_given_as_pretrained_points_at_init_from(tiny_videos, tmp_path, capsys):
    path = _save_native(_source_model("tanet_r18", num_classes=4), tmp_path / "best.pt")
    code = main(["train", str(CONFIGS / "cpu_tiny.yaml"), "--root", str(tiny_videos.root),
                 "--train-list", str(tiny_videos.train_list), "--num-classes", "4",
                 "--pretrained", str(path), "--out", str(tmp_path / "run"), "--no-progress"])
    assert code == 1
    error = capsys.readouterr().err
    assert "--init-from" in error and str(path) in error and len(error.strip().splitlines()) == 1


def test_published_weights_by_name_are_verified_and_fine_tuned_from(tiny_videos, tmp_path, monkeypatch, capsys):
    source = _source_model("tanet_r18", num_classes=6)
    path = _save_native(source, tmp_path / "published.pt")
    entry = PretrainedWeights(
        name="tiny_test_weights", model="tanet_r18", dataset="synthetic", num_classes=6, num_segments=4,
        url="https://example.invalid/published.pt", file_name="published.pt", source="test", citation="this test",
        top1=None, top5=None, protocol=None, sha256=sha256_file(path))
    monkeypatch.setitem(weights_module.WEIGHTS, entry.name, entry)
    monkeypatch.setenv("TANET_HOME", str(tmp_path / "home"))
    base = ["train", str(CONFIGS / "cpu_tiny.yaml"), "--root", str(tiny_videos.root), "--train-list",
            str(tiny_videos.train_list), "--class-names", str(tiny_videos.classes_file), "--epochs", "1",
            "--out", str(tmp_path / "run"), "--no-progress", "--weights", entry.name]
    assert main(base) == 1  # not in the cache: the message says where the file must be
    error = capsys.readouterr().err
    assert str(tmp_path / "home" / "weights" / "published.pt") in error and "--weights-file" in error
    assert main([*base, "--weights-file", str(path)]) == 0
    assert "classifier re-initialised: the checkpoint has 6 classes, this run 4" in capsys.readouterr().out
    history = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert len(history) == 1


def _tam_keys(state):
    return [key for key in state if ".tam." in key]


@pytest.mark.parametrize("source_name,layout", [("tsn_r18", "native"), ("tsm_r18", "mmaction2")])
def test_another_family_loads_its_backbone_with_init_partial(tmp_path, source_name, layout):
    from tanet.engine.finetune import describe_init, init_from_checkpoint

    source = _source_model(source_name, num_classes=4)
    if layout == "native":
        path = _save_native(source, tmp_path / "source.pt")
    else:
        path = tmp_path / "epoch_20.pth"
        torch.save({"state_dict": write_mmaction2_layout(source.state_dict(), shift=True)}, path)
    torch.manual_seed(3)
    model = tanet.create_model("tanet_r18", num_classes=4, **ARCH)
    fresh_tams = {key: value.clone() for key, value in model.state_dict().items() if ".tam." in key}
    with pytest.raises(CheckpointError, match="--init-partial"):  # another family: only when asked for
        init_from_checkpoint(model, path)
    report = init_from_checkpoint(model, path, partial=True)
    state = model.state_dict()
    assert _same(source.state_dict(), {key: value for key, value in state.items() if ".tam." not in key})
    assert all(torch.equal(state[key], value) for key, value in fresh_tams.items())  # left at their init
    assert sorted(report.left_at_init) == sorted(fresh_tams) and not report.classifier_reset
    line = describe_init(report, 4)
    assert f"init from {path} ({layout} layout, {source_name}, --init-partial): 2D backbone loaded" in line
    assert "fresh: the TAMs of 8 blocks (layer1.0, layer1.1, layer2.0, layer2.1, ...;" in line
    assert "classifier loaded too" in line
    built = tanet.create_model("tanet_r18", num_classes=4, **ARCH, init_from=path, init_partial=True)  # the library
    assert _same(source.state_dict(), {k: v for k, v in built.state_dict().items() if ".tam." not in k})


def test_a_tanet_into_a_tsm_leaves_its_tams_out_and_says_so(tmp_path):
    from tanet.engine.finetune import describe_init, init_from_checkpoint

    source = _source_model("tanet_r18", num_classes=7)
    path = _save_native(source, tmp_path / "tanet.pt")
    model = tanet.create_model("tsm_r18", num_classes=4, **ARCH)
    report = init_from_checkpoint(model, path, partial=True)
    assert _same({k: v for k, v in _backbone(source.state_dict()).items() if ".tam." not in k}, model.state_dict())
    line = describe_init(report, 4)
    assert "2D backbone loaded; not used: the TAMs of 8 blocks" in line
    assert "classifier re-initialised: the checkpoint has 7 classes, this run 4" in line
    # the backbone itself must fit: another width is still refused
    with pytest.raises(CheckpointError, match=r"width 0.125 \(the run: 0.25\)"):
        init_from_checkpoint(tanet.create_model("tsm_r18", num_classes=4, num_segments=4, width=0.25), path,
                             partial=True)


def test_a_bare_state_dict_is_settled_by_the_runs_model(tmp_path):
    from tanet.engine.finetune import init_from_checkpoint

    source = _source_model("tsm_r18", num_classes=4)
    path = tmp_path / "bare.pt"
    torch.save(source.state_dict(), path)  # no record of TSM, nor of its 4 frames
    model = tanet.create_model("tsm_r18", num_classes=4, num_segments=4, width=0.125)
    init_from_checkpoint(model, path)  # the run names tsm_r18, one of the file's candidates: nothing guessed
    assert _same(source.state_dict(), model.state_dict())
    with pytest.raises(CheckpointError, match="its name is tsn_r18 or tsm_r18, the run's 'tanet_r18'"):
        init_from_checkpoint(tanet.create_model("tanet_r18", num_classes=4, **ARCH), path)


def test_a_checkpoint_with_nan_weights_is_refused(tiny_videos, tmp_path):
    source = _source_model("tanet_r18", num_classes=4)
    with torch.no_grad():
        source.backbone.layer2[0].conv1.weight[0, 0, 0, 0] = float("nan")
    path = _save_native(source, tmp_path / "diverged.pt", class_names=tiny_videos.class_names)
    with pytest.raises(CheckpointError, match=r"diverged\.pt: holds NaN/inf values in 1 of .*layer2\.0\.conv1"):
        Trainer(tiny_config(tiny_videos, tmp_path / "run", f"model.init_from={path}"))
    with pytest.raises(CheckpointError, match="NaN/inf"):
        tanet.create_model("tanet_r18", num_classes=4, **ARCH, init_from=path)


def test_the_command_lines_weight_source_replaces_the_recipes():
    from tanet.engine.finetune import command_line_source

    assert command_line_source({"pretrained": "imagenet"}, {"init_from": "x.pt"}) == (
        ["model.pretrained=null"], "--init-from x.pt replaces the recipe's model.pretrained (imagenet)")
    assert command_line_source({"init_from": "y.pt"}, {"pretrained": "scratch"}) == (
        ["model.init_from=null"], "--pretrained scratch replaces the recipe's model.init_from (y.pt)")
    # scratch beside a video checkpoint only says "no 2D file"
    assert command_line_source({"pretrained": "imagenet"}, {"init_from": "x.pt", "pretrained": "scratch"}) == (
        ["model.pretrained=null"], None)
    assert command_line_source({"pretrained": "scratch"}, {"weights": "tam_k400_8f"}) == ([], None)
    assert command_line_source({"pretrained": "a.pth"}, {}) == ([], None)


def test_train_init_partial_starts_a_tanet_from_a_tsn_run(tiny_videos, tmp_path, capsys):
    """issue 20: a TSN checkpoint into a TANet with fresh TAMs, from the command line (--init-partial)."""
    source = _source_model("tsn_r18", num_classes=4)
    path = _save_native(source, tmp_path / "tsn.pt", list(tiny_videos.class_names))
    flags = ["train", str(CONFIGS / "cpu_tiny.yaml"), "--root", str(tiny_videos.root), "--train-list",
             str(tiny_videos.train_list), "--class-names", str(tiny_videos.classes_file), "--epochs", "1",
             "--init-from", str(path), "--no-progress", "--set", "optim.lr=1e-9", "runtime.max_steps_per_epoch=1"]
    assert main([*flags, "--out", str(tmp_path / "refused")]) == 1
    assert "--init-partial" in capsys.readouterr().err
    assert main([*flags, "--out", str(tmp_path / "run"), "--init-partial"]) == 0
    assert "2D backbone loaded" in capsys.readouterr().out
    trained = load_checkpoint_file(tmp_path / "run" / "last.pt")["model"]
    assert _tam_keys(trained)  # the TANet's TAMs, fresh
    assert torch.allclose(trained["backbone.layer1.0.conv1.weight"], source.state_dict()["backbone.layer1.0.conv1.weight"],
                          atol=1e-6)
