"""What ``tanet test`` writes: a default result folder that never replaces an earlier one, a confusion
CSV named by class, and the per-video dump (``--dump``), on tiny generated videos."""
from __future__ import annotations

import csv
import json

import pytest
import torch

from tanet.cli import main
from tanet.engine.builders import build_eval_dataset, load_for_eval


@pytest.fixture
def list_with_a_corrupt_video(tiny_videos, tmp_path):
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypmp42 this is no video")
    lines = tiny_videos.val_list.read_text().splitlines()[:5]
    lines.insert(2, f"{corrupt} 1")
    path = tmp_path / "val.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def _test(checkpoint, val_list, root, *extra):
    return main(["test", "--checkpoint", str(checkpoint), "--val-list", str(val_list), "--root", str(root),
                 "--no-progress", *extra])


def test_results_always_written_and_never_replaced(tiny_videos, tiny_checkpoint, capsys):
    assert _test(tiny_checkpoint, tiny_videos.val_list, tiny_videos.root) == 0
    first = tiny_checkpoint.parent / "test-val-efficient"
    assert {p.name for p in first.iterdir()} == {"metrics.json", "confusion.png", "confusion.csv"}
    assert f"wrote {first}/metrics.json" in capsys.readouterr().out
    before = (first / "metrics.json").read_bytes()
    assert _test(tiny_checkpoint, tiny_videos.val_list, tiny_videos.root, "--protocol", "efficient") == 0
    second = tiny_checkpoint.parent / "test-val-efficient-2"
    assert (second / "metrics.json").exists() and (first / "metrics.json").read_bytes() == before

    metrics = json.loads(before)
    rows = list(csv.reader((first / "confusion.csv").read_text().splitlines()))
    names = list(tiny_videos.class_names)
    assert rows[0] == ["true \\ predicted", *names]
    assert [row[0] for row in rows[1:]] == names
    counts = [[int(value) for value in row[1:]] for row in rows[1:]]
    assert sum(map(sum, counts)) == metrics["num_samples"] == 12
    assert 100 * sum(counts[i][i] for i in range(4)) / 12 == pytest.approx(metrics["top1"])


def test_dump_holds_every_video_with_the_models_scores(tiny_videos, tiny_checkpoint, list_with_a_corrupt_video,
                                                      tmp_path):
    dump = tmp_path / "predictions.json"
    out = tmp_path / "out"
    with pytest.warns(RuntimeWarning, match="skipping unreadable video .*corrupt.mp4"):
        assert _test(tiny_checkpoint, list_with_a_corrupt_video, tiny_videos.root, "--dump", str(dump),
                     "--out", str(out)) == 0
    written = json.loads(dump.read_text())
    assert written["protocol"] == "efficient" and written["class_names"] == list(tiny_videos.class_names)
    entries = written["videos"]
    lines = list_with_a_corrupt_video.read_text().splitlines()
    assert len(entries) == len(lines) == 6
    assert entries[2]["status"] == "unreadable" and entries[2]["video"].endswith("corrupt.mp4")
    assert entries[2]["scores"] is None and entries[2]["label"] == 1
    assert all(entry["label_name"] == written["class_names"][entry["label"]] for entry in entries)
    assert [entry["predicted_name"] is None for entry in entries] == [False, False, True, False, False, False]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["num_samples"] == 5 and metrics["num_skipped"] == 1
    # the scores are the model's own: recompute two videos independently of the test loop
    setup = load_for_eval(tiny_checkpoint)
    dataset = build_eval_dataset(setup, list_with_a_corrupt_video, tiny_videos.root)
    for index in (0, 4):
        clip, label = dataset.load(index)
        with torch.no_grad():
            expected = setup.model(clip.unsqueeze(0))[0]
        assert entries[index]["label"] == label and entries[index]["status"] == "ok"
        assert torch.allclose(torch.tensor(entries[index]["scores"]), expected, atol=1e-5)
        assert entries[index]["predicted"] == int(expected.argmax())
    correct = sum(entry["predicted"] == entry["label"] for entry in entries if entry["status"] == "ok")
    assert 100 * correct / 5 == pytest.approx(metrics["top1"])

    csv_dump = tmp_path / "predictions.csv"
    assert _test(tiny_checkpoint, list_with_a_corrupt_video, tiny_videos.root, "--dump", str(csv_dump),
                 "--out", str(tmp_path / "out2")) == 0
    rows = list(csv.reader(csv_dump.read_text().splitlines()))
    names = list(tiny_videos.class_names)
    assert rows[0] == ["video", "label", "label_name", "predicted", "predicted_name", "status", *names]
    assert [row[5] for row in rows[1:]] == ["ok", "ok", "unreadable", "ok", "ok", "ok"]
    assert [row[2] for row in rows[1:]] == [names[entry["label"]] for entry in entries]  # class names beside
    assert rows[1][4] == names[entries[0]["predicted"]] and rows[3][4] == ""  # the indices; none if unreadable
    assert float(rows[1][6]) == pytest.approx(entries[0]["scores"][0], abs=1e-5)


def test_dump_suffix_and_source_are_usage_errors(tiny_videos, tiny_checkpoint, capsys):
    assert _test(tiny_checkpoint, tiny_videos.val_list, tiny_videos.root, "--dump", "x.pkl") == 2
    assert "--dump x.pkl: write .json or .csv" in capsys.readouterr().err
    assert main(["test", "--val-list", str(tiny_videos.val_list)]) == 2
    assert "--checkpoint FILE or --weights NAME" in capsys.readouterr().err


def test_published_weights_by_name(tiny_videos, tiny_checkpoint, tmp_path, monkeypatch, capsys):
    from tanet.interop import weights as weights_module
    from tanet.interop.weights import PretrainedWeights, sha256_file

    entry = PretrainedWeights(
        name="tiny_published", model="tanet_r18", dataset="synthetic", num_classes=4, num_segments=4,
        url="https://example.invalid/best.pt", file_name="best.pt", source="test", citation="this test",
        top1=None, top5=None, protocol=None, sha256=sha256_file(tiny_checkpoint))
    monkeypatch.setitem(weights_module.WEIGHTS, entry.name, entry)
    monkeypatch.chdir(tmp_path)
    args = ["test", "--weights", entry.name, "--val-list", str(tiny_videos.val_list), "--root", str(tiny_videos.root),
            "--no-progress"]
    assert main([*args, "--weights-file", str(tiny_checkpoint)]) == 0
    assert (tmp_path / "runs" / "test-tiny_published-val-efficient" / "metrics.json").exists()
    capsys.readouterr()
    tampered = tmp_path / "tampered.pt"
    tampered.write_bytes(tiny_checkpoint.read_bytes() + b"x")
    assert main([*args, "--weights-file", str(tampered)]) == 1
    assert "does not match 'tiny_published'" in capsys.readouterr().err


def test_the_report_per_class_and_no_top5_for_four_classes(tiny_videos, tiny_checkpoint, tmp_path, capsys):
    out = tmp_path / "result"
    assert main(["test", "--checkpoint", str(tiny_checkpoint), "--list", str(tiny_videos.val_list), "--root",
                 str(tiny_videos.root), "--no-progress", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["top5"] is None and "top-5 (%)" not in printed and "top-5 left out: with 4 classes" in printed
    rows = list(csv.reader((out / "confusion.csv").read_text().splitlines()))[1:]
    for index, row in enumerate(rows):  # per-class accuracy from the confusion counts, by hand
        counts = [int(value) for value in row[1:]]
        expected = {"name": row[0], "videos": sum(counts), "correct": counts[index],
                    "accuracy": 100 * counts[index] / sum(counts)}
        assert metrics["per_class"][index] == pytest.approx(expected)
        assert f"{row[0]}  " in printed and f"{100 * counts[index] / sum(counts):.1f}" in printed
    assert "protocol efficient: the training recipe's data.test_protocol" in printed
    assert metrics["protocol_source"] == "the training recipe's data.test_protocol"


def test_outputs_and_inputs_follow_the_command_line_rules(tiny_videos, tiny_checkpoint, tmp_path, capsys):
    out = tmp_path / "result"
    args = ["test", "--checkpoint", str(tiny_checkpoint), "--list", str(tiny_videos.val_list), "--root",
            str(tiny_videos.root), "--no-progress", "--out", str(out)]
    assert main(args) == 0
    before = (out / "metrics.json").read_bytes()
    assert main(args) == 2  # an earlier result is never replaced silently
    error = capsys.readouterr().err
    assert f"{out / 'metrics.json'} exists" in error and "--overwrite" in error
    assert (out / "metrics.json").read_bytes() == before
    assert main([*args, "--overwrite"]) == 0
    dump = tmp_path / "dump.json"
    dump.write_text("mine")
    assert main([*args, "--overwrite", "--dump", str(tiny_checkpoint)]) == 2  # an input, even with --overwrite
    assert "is also an input" in capsys.readouterr().err
    assert main([*args[:-2], "--out", str(tmp_path / "r2"), "--dump", str(dump)]) == 2 and dump.read_text() == "mine"
    for flag in ("--list", "--root", "--checkpoint"):  # a typo in a path is a usage error
        wrong = [a if a != str({"--list": tiny_videos.val_list, "--root": tiny_videos.root,
                                "--checkpoint": tiny_checkpoint}[flag]) else str(tmp_path / "typo") for a in args]
        assert main(wrong) == 2
        assert f"{flag} {tmp_path / 'typo'}: no such file or folder" in capsys.readouterr().err
    assert main(["test", "--checkpoint", str(tiny_checkpoint)]) == 2
    assert "--list LIST" in capsys.readouterr().err


def test_a_checkpoint_whose_data_set_is_known_gets_its_published_protocol(tiny_videos, tmp_path, monkeypatch,
                                                                         capsys):
    from interop.conftest import randomise, write_official_layout
    from tanet.interop import weights as weights_module
    from tanet.interop.weights import EvalProtocol, PretrainedWeights, sha256_file

    import tanet

    torch.manual_seed(0)
    model = randomise(tanet.create_model("tanet_r18", num_classes=4, num_segments=4, width=0.125))
    official = tmp_path / "ckpt.best.pth.tar"  # as the official code writes it: no recipe, no protocol
    torch.save({"epoch": 50, "state_dict": write_official_layout(model.state_dict())}, official)
    entry = PretrainedWeights(
        name="tiny_ssv2", model="tanet_r18", dataset="tiny-something", num_classes=4, num_segments=4,
        url="https://example.invalid/x", file_name="x.pth", source="test", citation="this test", top1=None,
        top5=None, protocol=EvalProtocol("uniform", 2, 3, 256, 256, tanet_protocol="accurate"),
        sha256=sha256_file(official))
    monkeypatch.setitem(weights_module.WEIGHTS, entry.name, entry)
    common = ["--list", str(tiny_videos.val_list), "--root", str(tiny_videos.root), "--no-progress", "--size", "32",
              "--scale-size", "32"]
    assert main(["test", "--checkpoint", str(official), *common]) == 0
    printed = capsys.readouterr().out
    assert "protocol accurate: the published protocol of tiny_ssv2 (tiny-something), identified by its SHA-256" \
        in printed
    assert (tmp_path / "test-val-accurate" / "metrics.json").exists()
    converted = tmp_path / "converted.pt"  # tanet convert records the source's checksum
    assert main(["convert", str(official), str(converted)]) == 0
    assert main(["test", "--checkpoint", str(converted), *common, "--out", str(tmp_path / "c")]) == 0
    assert "identified by its SHA-256 before conversion" in capsys.readouterr().out
    monkeypatch.delitem(weights_module.WEIGHTS, entry.name)
    assert main(["test", "--checkpoint", str(official), *common, "--out", str(tmp_path / "u")]) == 0
    assert "protocol efficient: the default: neither a training recipe nor a published data set" \
        in capsys.readouterr().out
