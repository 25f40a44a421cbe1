"""`tanet plot` writes a new file: an existing one only with --overwrite, a run's own log never."""
from __future__ import annotations

import json

from tanet.cli import main

PNG = b"\x89PNG"


def _run(folder):
    folder.mkdir()
    records = [{"epoch": epoch, "lr": 0.1, "train_loss": 2.0 / epoch, "train_top1": 10.0 * epoch} for epoch in (1, 2)]
    (folder / "log.jsonl").write_text("".join(json.dumps(record) + "\n" for record in records))
    return folder


def test_plot_replaces_a_file_only_with_overwrite_and_never_a_log(tmp_path, capsys):
    run = _run(tmp_path / "run")
    log = (run / "log.jsonl").read_text()
    out = tmp_path / "compare.png"
    out.write_bytes(b"mine")
    assert main(["plot", str(run), "--out", str(out)]) == 2
    assert f"--out {out} exists" in capsys.readouterr().err and out.read_bytes() == b"mine"
    assert main(["plot", str(run), "--out", str(out), "--overwrite"]) == 0
    assert out.read_bytes()[:4] == PNG
    for target in (run / "log.jsonl", run / ".." / "run" / "log.jsonl"):  # the run folder's log is an input
        assert main(["plot", str(run), "--out", str(target), "--overwrite"]) == 2
        assert "is also an input of this command" in capsys.readouterr().err
    assert (run / "log.jsonl").read_text() == log
