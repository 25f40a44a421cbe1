"""Bad input meets one line naming the file and what is wrong (exit 1: a bad file; exit 2: an option
that cannot work), never a traceback, and a wrong option is refused before the long work starts."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tanet.cli import main

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def _one_error_line(capsys) -> str:
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert lines and "Traceback" not in "\n".join(lines)
    assert lines[-1].startswith("tanet ") and ": error: " in lines[-1]
    return lines[-1]


def _train(tiny_sets, tmp_path, *extra):
    motion = tiny_sets["motion"]
    return main(["train", str(CONFIGS / "cpu_tiny.yaml"), "--root", str(motion.root), "--train-list",
                 str(motion.train_list), "--class-names", str(motion.classes_file), "--epochs", "1",
                 "--out", str(tmp_path / "run"), "--no-progress", *extra])


@pytest.mark.parametrize("extra, fragment", [
    (["--set", "model.width=0"], "model.width must be positive"),
    (["--set", "data.crop_scales=[]"], "data.crop_scales must be a non-empty list"),
    (["--size", "0"], "data.size must be >= 1"),
    (["--set", "schedule.gamma=-1"], "schedule.gamma must be in (0, 1]"),
    (["--set", "schedule.warmup_epochs=-2"], "schedule.warmup_epochs must be >= 0"),
])
def test_nonsense_training_values_exit_2_before_anything_runs(tiny_sets, tmp_path, capsys, extra, fragment):
    assert _train(tiny_sets, tmp_path, *extra) == 2
    assert fragment in _one_error_line(capsys)
    assert not (tmp_path / "run").exists()


def test_a_misspelled_model_name_lists_the_close_ones(tiny_sets, tmp_path, capsys):
    assert _train(tiny_sets, tmp_path, "--model", "tanet_r5O") == 2
    assert "unknown model 'tanet_r5O'; registered models include: " in _one_error_line(capsys)


def test_missing_class_names_file(tiny_sets, tmp_path, capsys):
    # a path named on the command line that does not exist: a usage error, found before anything runs
    assert _train(tiny_sets, tmp_path, "--class-names", str(tmp_path / "nope.txt")) == 2
    assert f"--class-names {tmp_path / 'nope.txt'}: no such file or folder" in _one_error_line(capsys)
    assert not (tmp_path / "run").exists()


def test_a_list_in_latin1_names_the_line(tiny_sets, tmp_path, capsys):
    motion = tiny_sets["motion"]
    latin = tmp_path / "latin.txt"
    latin.write_bytes(motion.train_list.read_bytes() + "videos/café.mp4 0\n".encode("latin-1"))
    assert _train(tiny_sets, tmp_path, "--train-list", str(latin)) == 1
    assert f"{latin}:5: not UTF-8 text (byte 0xe9)" in _one_error_line(capsys)
    assert main(["check-videos", str(latin), "--root", str(motion.root)]) == 1
    assert f"{latin}:5: not UTF-8" in _one_error_line(capsys)


def test_strict_data_with_loader_workers_is_one_line(tiny_sets, tmp_path, capsys):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00" * 300)
    bad_list = tmp_path / "bad.txt"
    bad_list.write_text("".join(f"{broken} {i % 2}\n" for i in range(4)))
    # the error happens in a loader worker process and reaches the command line as the original one
    assert _train(tiny_sets, tmp_path, "--train-list", str(bad_list), "--strict-data", "--workers", "2") == 1
    line = _one_error_line(capsys)
    assert line.startswith(f"tanet train: error: {broken}: ") and "DataLoader" not in line


def test_pretrained_given_a_pickle(tiny_sets, tmp_path, capsys):
    import pickle

    (tmp_path / "weights.pkl").write_bytes(pickle.dumps({"conv1.weight": [1.0]}))
    assert _train(tiny_sets, tmp_path, "--pretrained", str(tmp_path / "weights.pkl")) == 1
    line = _one_error_line(capsys)  # the file named, nothing of it executed
    assert f"{tmp_path / 'weights.pkl'}: " in line and "a plain pickle (pickle.dump)" in line


def _test(tiny_sets, tiny_checkpoints, *extra):
    motion = tiny_sets["motion"]
    return main(["test", "--checkpoint", str(tiny_checkpoints["tanet_a"]), "--val-list", str(motion.val_list),
                 "--root", str(motion.root), "--no-progress", *extra])


@pytest.mark.parametrize("extra, fragment", [
    (["--view-chunk", "0"], "view_chunk must be >= 1"),
    (["--segments", "0"], "num_segments must be >= 1"),
    (["--size", "0"], "size must be >= 1"),
    (["--batch-size", "0"], "batch_size must be >= 1"),
])
def test_nonsense_test_values_exit_2(tiny_sets, tiny_checkpoints, capsys, extra, fragment):
    assert _test(tiny_sets, tiny_checkpoints, *extra) == 2
    assert fragment in _one_error_line(capsys)


def test_wrong_class_name_count_fails_before_the_evaluation(tiny_sets, tiny_checkpoints, tmp_path, capsys,
                                                            monkeypatch):
    def evaluate(*args, **kwargs):
        raise AssertionError("the evaluation ran")

    monkeypatch.setattr("tanet.engine.testing.evaluate", evaluate)
    names = tmp_path / "names.txt"
    names.write_text("a\nb\nc\n")
    assert _test(tiny_sets, tiny_checkpoints, "--class-names", str(names), "--out", str(tmp_path / "t")) == 2
    assert "3 class names given for a model of 2 classes" in _one_error_line(capsys)


def test_onnx_export_without_onnxscript_names_the_extra(tiny_checkpoints, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxscript", None)  # as if `pip install tanet` without [onnx]
    code = main(["export", "--checkpoint", str(tiny_checkpoints["tsn"]), "--size", "32",
                 "--out", str(tmp_path / "model.onnx")])
    assert code == 1
    assert "pip install 'tanet[onnx]'" in _one_error_line(capsys)
