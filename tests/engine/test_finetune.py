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
