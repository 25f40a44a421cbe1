"""A run never reports garbage as a result: unreadable data, NaN/inf weights, buffers or outputs stop
it with a message; test and predict refuse a diverged checkpoint; log.csv always parses."""
from __future__ import annotations

import csv
import json

import pytest
import torch

import tanet
from tanet.checkpoint import load_checkpoint_file, save_checkpoint
from tanet.cli import main
from tanet.engine import NonFiniteLossError, train
from tanet.engine.evaluation import evaluate

from .conftest import CONFIGS, tiny_config

pytestmark = pytest.mark.filterwarnings("ignore:skipping unreadable video:RuntimeWarning")


@pytest.fixture
def garbage(tmp_path):
    """An 'mp4' that no decoder can read."""
    path = tmp_path / "broken.mp4"
    path.write_bytes(b"\x00\x00\x00\x18ftypisom" + bytes(range(256)) * 4)
    return path


def _list_with_bad_lines(videos, bad, tmp_path, num_bad, keep_good=True):
    lines = videos.train_list.read_text().splitlines() if keep_good else []
    lines += [f"{bad} {i % 4}" for i in range(num_bad)]
    path = tmp_path / "mixed.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def _train_args(videos, out, train_list, *extra):
    return ["train", str(CONFIGS / "cpu_tiny.yaml"), "--root", str(videos.root), "--train-list", str(train_list),
            "--class-names", str(videos.classes_file), "--epochs", "1", "--out", str(out), "--no-progress", *extra]


def test_training_on_unreadable_videos_only_is_an_error(tiny_videos, garbage, tmp_path, capsys):
    bad_list = _list_with_bad_lines(tiny_videos, garbage, tmp_path, 8, keep_good=False)
    assert main(_train_args(tiny_videos, tmp_path / "run", bad_list)) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "training epoch 1: 8 of 8 videos could not be read" in err and "no video was readable" in err
    assert str(garbage) in err  # one example, named
    assert not (tmp_path / "run" / "last.pt").exists()  # no untrained checkpoint


def test_a_skip_rate_above_the_threshold_stops_the_run(tiny_videos, garbage, tmp_path, capsys):
    mixed = _list_with_bad_lines(tiny_videos, garbage, tmp_path, 12)  # 12 of 60 = 20 % > 10 %
    assert main(_train_args(tiny_videos, tmp_path / "run", mixed)) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "12 of 60 videos could not be read" in err and "data.max_skip_fraction=0.1" in err
    assert str(garbage) in err
    # a higher threshold lets it train; the epoch line says how many were skipped
    assert main(_train_args(tiny_videos, tmp_path / "run2", mixed, "--set", "data.max_skip_fraction=0.25")) == 0
    out = capsys.readouterr().out
    assert "(skipped 12)" in [line for line in out.splitlines() if line.startswith("epoch 1/1")][0]


@pytest.fixture(scope="module")
def trained(tiny_videos, tmp_path_factory):
    return train(tiny_config(tiny_videos, tmp_path_factory.mktemp("trained") / "run", "schedule.epochs=1"))


def test_test_on_unreadable_videos_only_is_an_error(tiny_videos, trained, garbage, tmp_path, capsys):
    bad_list = _list_with_bad_lines(tiny_videos, garbage, tmp_path, 5, keep_good=False)
    code = main(["test", "--checkpoint", str(trained.last_checkpoint), "--val-list", str(bad_list),
                 "--root", str(tiny_videos.root), "--no-progress"])
    assert code == 1
    assert "no video of" in capsys.readouterr().err


def _poison_bn_in(model, epoch_to_poison, iters):
    def hook(epoch, step, loss):
        if epoch == epoch_to_poison and step == iters - 1:  # after the epoch's last optimizer step
            bn = next(m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))
            bn.running_var.fill_(float("inf"))
    return hook


def _tiny_model():
    return tanet.create_model("tanet_r18", num_classes=4, num_segments=4, width=0.125)


def test_inf_batchnorm_buffers_are_never_saved(tiny_videos, tmp_path):
    config = tiny_config(tiny_videos, tmp_path / "run", "schedule.epochs=3")
    model = _tiny_model()
    with pytest.raises(NonFiniteLossError) as info:
        train(config, model=model, step_hook=_poison_bn_in(model, 1, 12))
    message = str(info.value)
    assert "after epoch 2" in message and "running_var" in message
    assert "last.pt still holds epoch 1, the last good one" in message
    saved = load_checkpoint_file(tmp_path / "run" / "last.pt")
    assert saved["epoch"] == 1 and all(torch.isfinite(t).all() for t in saved["model"].values() if t.is_floating_point())


def test_the_message_does_not_promise_a_checkpoint_that_does_not_exist(tiny_videos, tmp_path):
    model = _tiny_model()
    with pytest.raises(NonFiniteLossError, match="stopped before any checkpoint of it was written") as info:
        train(tiny_config(tiny_videos, tmp_path / "run", "schedule.epochs=2"), model=model,
              step_hook=_poison_bn_in(model, 0, 12))
    assert "still holds" not in str(info.value)
    assert not (tmp_path / "run" / "last.pt").exists()


def test_non_finite_validation_outputs_stop_the_run(tiny_videos, tmp_path, capsys):
    model = _tiny_model()
    model.register_forward_hook(lambda m, i, out: out if m.training else out * float("nan"))
    with pytest.raises(NonFiniteLossError, match="validation after epoch 1 gave non-finite outputs for 12 of 12"):
        train(tiny_config(tiny_videos, tmp_path / "run", "schedule.epochs=2"), model=model)
    assert "val top-1" not in capsys.readouterr().out  # no accuracy printed for NaN scores
    assert not (tmp_path / "run" / "last.pt").exists()


def test_evaluate_counts_non_finite_scores():
    class HalfNaN(torch.nn.Module):
        def forward(self, clips):
            scores = clips.flatten(1)[:, :3].clone()
            scores[::2] = float("nan")
            return scores

    from tanet.data import Batch

    loader = [Batch(torch.rand(4, 3, 2, 4, 4), torch.tensor([0, 1, 2, 0]), 0)]
    model = HalfNaN()
    model.register_parameter("p", torch.nn.Parameter(torch.zeros(1)))
    assert evaluate(model, loader, num_classes=3)["num_nonfinite"] == 2


def test_test_and_predict_refuse_a_diverged_checkpoint(tiny_videos, trained, tmp_path, capsys):
    state = load_checkpoint_file(trained.last_checkpoint)
    key = next(k for k in state["model"] if k.endswith("running_var"))
    state["model"][key] = torch.full_like(state["model"][key], float("inf"))
    bad = save_checkpoint(tmp_path / "diverged.pt", state)
    code = main(["test", "--checkpoint", str(bad), "--val-list", str(tiny_videos.val_list),
                 "--root", str(tiny_videos.root), "--no-progress"])
    assert code == 1
    err = capsys.readouterr().err
    assert "diverged.pt: holds NaN/inf values in 1 of" in err and key in err
    video = sorted((tiny_videos.root / "videos" / "val").rglob("*.mp4"))[0]
    assert main(["predict", str(video), "--checkpoint", str(bad)]) == 1
    captured = capsys.readouterr()
    assert "NaN/inf" in captured.err and "%" not in captured.out


def test_log_csv_parses_when_validation_skips_epochs(tiny_videos, tmp_path):
    result = train(tiny_config(tiny_videos, tmp_path / "run", "schedule.epochs=3", "runtime.eval_every=2"))
    records = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert ["val_top1" in r for r in records] == [False, True, True]
    with open(tmp_path / "run" / "log.csv", newline="") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
        header = reader.fieldnames
    assert len(rows) == 3 and all(None not in row for row in rows)  # no cell beyond the header
    for row, record in zip(rows, records):
        for key in header:
            if key in record and record[key] is not None:
                assert float(row[key]) == pytest.approx(record[key]), key
            else:
                assert row[key] == "", key
    assert result.history == records


def test_predict_notices_a_gap_in_a_frame_folder(tiny_videos, trained, tmp_path, capsys):
    from tanet.data.extract import extract_frames

    video = sorted((tiny_videos.root / "videos" / "val").rglob("*.mp4"))[0]
    folder = tmp_path / "clip"
    assert extract_frames(video, folder, short_side=0, extractor="pyav") == 8
    assert main(["predict", str(folder), "--checkpoint", str(trained.last_checkpoint), "--json"]) == 0
    capsys.readouterr()
    (folder / "img_00003.jpg").unlink()  # a frame the 4-segment centres do not read
    assert main(["predict", str(folder), "--checkpoint", str(trained.last_checkpoint), "--json"]) == 1
    [prediction] = json.loads(capsys.readouterr().out)
    assert prediction["status"] == "unreadable" and prediction["top"] == []
    assert "img_00003.jpg is missing although 5 later frames" in prediction["error"]


def test_test_and_predict_refuse_non_finite_scores_of_a_finite_model(tiny_videos, trained, tmp_path, capsys,
                                                                     monkeypatch):
    # finite weights whose outputs still overflow (as under --amp fp16): no accuracy, no 'nan%'
    import tanet.engine.evaluation as evaluation
    import tanet.engine.predict as predict

    real = evaluation.predict_views

    def overflowing(*args, **kwargs):
        scores = real(*args, **kwargs)
        scores[..., 0] = float("inf")
        return scores

    monkeypatch.setattr(evaluation, "predict_views", overflowing)
    monkeypatch.setattr(predict, "predict_views", overflowing)
    code = main(["test", "--checkpoint", str(trained.last_checkpoint), "--val-list", str(tiny_videos.val_list),
                 "--root", str(tiny_videos.root), "--no-progress", "--out", str(tmp_path / "t")])
    assert code == 1
    assert "the model's scores were NaN/inf for 12 of 12 videos" in capsys.readouterr().err
    assert not (tmp_path / "t" / "metrics.json").exists()
    video = sorted((tiny_videos.root / "videos" / "val").rglob("*.mp4"))[0]
    assert main(["predict", str(video), "--checkpoint", str(trained.last_checkpoint)]) == 1
    captured = capsys.readouterr()
    assert f"{video}: the model's scores are NaN/inf" in captured.err and "%" not in captured.out
