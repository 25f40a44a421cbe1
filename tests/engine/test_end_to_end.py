"""End to end on tiny generated videos: train -> test -> predict, resume, NaN guard, help."""
from __future__ import annotations

import json

import pytest
import torch

from tanet.cli import main
from tanet.checkpoint import load_checkpoint_file
from tanet.engine import NonFiniteLossError, train
from tanet.engine.evaluation import evaluate

from .conftest import CONFIGS, tiny_config


def test_train_test_predict_commands(tiny_videos, tmp_path, capsys):
    run = tmp_path / "run"
    code = main(["train", str(CONFIGS / "cpu_tiny.yaml"), "--root", str(tiny_videos.root),
                 "--train-list", str(tiny_videos.train_list), "--val-list", str(tiny_videos.val_list),
                 "--class-names", str(tiny_videos.classes_file), "--epochs", "2", "--out", str(run),
                 "--no-progress"])
    assert code == 0
    written = {p.name for p in run.iterdir()}
    assert {"config.yaml", "last.pt", "best.pt", "log.jsonl", "log.csv", "curves.png"} <= written
    history = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [h["epoch"] for h in history] == [1, 2]
    assert history[1]["train_loss"] < history[0]["train_loss"]  # it learns
    assert all(0 <= h["val_top1"] <= 100 for h in history)
    checkpoint = load_checkpoint_file(run / "best.pt")
    assert checkpoint["model_config"]["name"] == "tanet_r18"
    assert checkpoint["class_names"] == list(tiny_videos.class_names)

    code = main(["test", "--checkpoint", str(run / "best.pt"), "--val-list", str(tiny_videos.val_list),
                 "--root", str(tiny_videos.root), "--out", str(tmp_path / "test"), "--no-progress"])
    assert code == 0
    metrics = json.loads((tmp_path / "test" / "metrics.json").read_text())
    best = max(history, key=lambda h: h["val_top1"])
    # Same weights, same efficient protocol: the number the training run logged.
    assert metrics["top1"] == pytest.approx(best["val_top1"])
    assert {"top1", "top5", "mean_class_acc"} <= set(metrics) and metrics["num_samples"] == 12
    assert (tmp_path / "test" / "confusion.png").read_bytes()[:4] == b"\x89PNG"
    printed = capsys.readouterr().out
    assert "top-1 (%)" in printed and "mean class acc (%)" in printed

    videos = sorted((tiny_videos.root / "videos" / "val").rglob("*.mp4"))[:2]
    code = main(["predict", *map(str, videos), "--checkpoint", str(run / "best.pt"), "--topk", "3",
                 "--json"])
    assert code == 0
    predictions = json.loads(capsys.readouterr().out)
    assert [p["video"] for p in predictions] == list(map(str, videos))
    for prediction in predictions:
        probabilities = [t["probability"] for t in prediction["top"]]
        assert len(probabilities) == 3 and probabilities == sorted(probabilities, reverse=True)
        assert 0 < sum(probabilities) <= 1 + 1e-6
        assert all(t["name"] == tiny_videos.class_names[t["label"]] for t in prediction["top"])


def _weights(path):
    return load_checkpoint_file(path)


class Killed(Exception):
    pass


@pytest.mark.parametrize("workers, persistent", [(0, True), (2, True), (2, False)])
def test_resume_after_interrupted_epoch_is_bit_exact(tiny_videos, tmp_path, workers, persistent):
    # With loader workers too, persistent (started once per run, so the resumed run starts them in
    # another epoch than the uninterrupted one) or not (started every epoch).
    extra = ("schedule.epochs=3", "schedule.warmup_epochs=0.5", "optim.lr=0.004", f"data.num_workers={workers}",
             f"data.persistent_workers={str(persistent).lower()}")
    straight = train(tiny_config(tiny_videos, tmp_path / "straight", *extra))

    def kill_in_second_epoch(epoch, step, loss):
        if epoch == 1 and step == 2:
            raise Killed()

    with pytest.raises(Killed):
        train(tiny_config(tiny_videos, tmp_path / "resumed", *extra), step_hook=kill_in_second_epoch)
    assert _weights(tmp_path / "resumed" / "last.pt")["epoch"] == 1
    resumed = train(tiny_config(tiny_videos, tmp_path / "resumed", *extra, "runtime.resume=auto"))
    assert resumed.epochs_run == 2

    a, b = _weights(straight.last_checkpoint), _weights(resumed.last_checkpoint)
    assert a["epoch"] == b["epoch"] == 3
    for key, value in a["model"].items():
        assert torch.equal(value, b["model"][key]), key
    for index, state in a["optimizer"]["state"].items():
        assert torch.equal(state["momentum_buffer"], b["optimizer"]["state"][index]["momentum_buffer"])
    assert [h["train_loss"] for h in straight.history] == [h["train_loss"] for h in resumed.history]
    assert len((tmp_path / "resumed" / "log.jsonl").read_text().splitlines()) == 3


def test_nan_loss_stops_the_run_and_keeps_the_last_good_checkpoint(tiny_videos, tmp_path):
    import tanet

    config = tiny_config(tiny_videos, tmp_path / "run", "schedule.epochs=3", "model.num_classes=4")
    model = tanet.create_model("tanet_r18", num_classes=4, num_segments=4, width=0.125)
    poison = {"on": False}
    model.register_forward_hook(lambda m, i, out: out * float("nan") if poison["on"] else out)
    saved = {}

    def poison_second_epoch(epoch, step, loss):
        if epoch == 1 and step == 1:
            saved["bytes"] = (tmp_path / "run" / "last.pt").read_bytes()
            poison["on"] = True

    with pytest.raises(NonFiniteLossError) as info:
        train(config, model=model, step_hook=poison_second_epoch)
    message = str(info.value)
    assert "nan" in message and "epoch 2" in message and "last.pt still holds epoch 1, the last good one" in message
    assert (tmp_path / "run" / "last.pt").read_bytes() == saved["bytes"]
    assert load_checkpoint_file(tmp_path / "run" / "last.pt")["epoch"] == 1


def test_cli_reports_nan_and_exits_nonzero(tiny_videos, tmp_path, capsys):
    code = main(["train", str(CONFIGS / "cpu_tiny.yaml"), "--root", str(tiny_videos.root),
                 "--train-list", str(tiny_videos.train_list), "--num-classes", "4",
                 "--out", str(tmp_path / "run"), "--no-progress", "--set", "optim.lr=1e30",
                 "optim.clip_grad_norm=null"])
    assert code == 1
    assert "stopped: training loss became" in capsys.readouterr().err


def test_test_command_rejects_a_mismatched_checkpoint(tiny_videos, tmp_path, capsys):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    code = main(["test", "--checkpoint", str(bad), "--val-list", str(tiny_videos.val_list),
                 "--root", str(tiny_videos.root)])
    assert code == 1 and "bad.pt" in capsys.readouterr().err  # a bad file found while running


def test_evaluate_api_on_a_real_loader(tiny_videos):
    import tanet
    from tanet.data import build_loader, build_test_dataset

    model = tanet.create_model("tsn_r18", num_classes=4, num_segments=4, width=0.125).eval()
    dataset = build_test_dataset(tiny_videos.val_list, tiny_videos.root, num_segments=4,
                                 protocol="accurate", size=32, scale_size=36)
    loader = build_loader(dataset, batch_size=5, num_workers=0)
    metrics = evaluate(model, loader, num_classes=4, view_chunk=4, return_scores=True)
    scores, labels = metrics["scores"], metrics["labels"]
    assert scores.shape == (12, 4)
    top1 = 100 * (scores.argmax(1) == labels).float().mean().item()
    assert metrics["top1"] == pytest.approx(top1)


@pytest.mark.parametrize("options", [
    ("runtime.amp=bf16",),
    ("runtime.channels_last=true", "model.name=i3d311_r18"),
    ("optim.partial_bn=true", "optim.linear_lr_policy=classifier"),
    ("data.sampling=dense", "data.val_protocol=accurate", "data.flip=true", "schedule.name=step",
     "schedule.warmup_epochs=0.5", "schedule.milestones=[1]"),
], ids=["bf16", "channels_last-i3d", "partial_bn", "dense-accurate-step"])
def test_runtime_options_train_one_epoch(tiny_videos, tmp_path, options):
    result = train(tiny_config(tiny_videos, tmp_path / "run", "schedule.epochs=1", *options))
    record = result.history[0]
    assert torch.isfinite(torch.tensor(record["train_loss"])) and record["val_top1"] >= 0
    checkpoint = load_checkpoint_file(result.last_checkpoint)
    assert checkpoint["config"]["runtime"] == result_config(tmp_path / "run")["runtime"]


def result_config(run):
    import yaml

    return yaml.safe_load((run / "config.yaml").read_text())
