"""`tanet synth` (tanet.cli.synth): the sets it writes and what it reports."""
from __future__ import annotations

import argparse

import pytest

from tanet.cli.synth import add_arguments, run
from tanet.errors import UsageError


def synth(*argv: str) -> int:
    """Parse ``argv`` with the command's own flags and run it, as ``tanet synth`` does."""
    parser = argparse.ArgumentParser(prog="tanet synth")
    add_arguments(parser)
    return run(parser.parse_args(argv))


def read_list(path) -> list[tuple[str, int]]:
    return [(rel, int(label)) for rel, label in (line.split(" ") for line in path.read_text().splitlines())]


def test_cli_writes_and_reports(tmp_path, capsys):
    args = ["--kind", "both", "--out", str(tmp_path), "--classes", "2", "--per-class", "1",
            "--val-per-class", "1", "--size", "32", "--frames", "6", "--seed", "4"]
    assert synth(*args) == 0
    out = capsys.readouterr().out
    roots = sorted(p for p in tmp_path.iterdir() if not p.name.startswith("."))
    assert [p.name.split("-")[0] for p in roots] == ["appearance", "motion"]
    for root in roots:
        assert str(root) in out and (root / "manifest.json").is_file()
        assert len(read_list(root / "train.txt")) == 2
    assert "horizontal flip swaps labels 0<->1" in out  # the motion pair left/right
    assert synth(*args) == 0 and "reused from cache" in capsys.readouterr().out
    # A value that cannot work is a UsageError, which the command line reports with exit code 2.
    with pytest.raises(UsageError, match="even"):
        synth("--size", "33", "--out", str(tmp_path))
    from tanet.cli import main

    assert main(["synth", "--size", "33", "--out", str(tmp_path)]) == 2


def test_quick_help_describes_the_preset_in_words():
    parser = argparse.ArgumentParser(prog="tanet synth")
    add_arguments(parser)
    assert "smaller preset: 6 classes, 24+8 clips per class, 12 frames of 48 px" in " ".join(parser.format_help().split())
