"""``tanet weights list|info``: the published checkpoints and where their files must be."""
from __future__ import annotations

from tanet.cli import main
from tanet.interop import WEIGHTS


def test_list_names_every_entry_and_says_what_is_here(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TANET_HOME", str(tmp_path))
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / WEIGHTS["tam_k400_8f"].file_name).write_bytes(b"x")
    assert main(["weights", "list"]) == 0
    rows = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines()[1:] if line.strip()}
    assert set(WEIGHTS) <= set(rows)
    assert rows["tam_k400_8f"][-1] == "yes" and rows["tam_k400_16f"][-1] == "no"
    assert main(["weights", "list", "--model", "tsm_r50"]) == 0
    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines()[1:] if line.startswith("mm")]
    assert listed == ["mmaction2_tsm_k400_16f", "mmaction2_tsm_k400_8f"]


def test_info_says_where_the_file_must_be(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TANET_HOME", str(tmp_path))
    entry = WEIGHTS["mmaction2_tsm_k400_8f"]
    assert main(["weights", "info", entry.name]) == 0
    out = capsys.readouterr().out
    assert str(tmp_path / "weights" / entry.file_name) in out and "(missing)" in out
    assert entry.url in out and "68d582b4" in out and f"--weights {entry.name}" in out
    assert main(["weights", "info", "tam_k400_8f"]) == 0
    assert "--allow-unverified" in capsys.readouterr().out  # the official release publishes no checksum
    assert main(["weights", "info", "nope"]) == 2
    assert "unknown weights 'nope'" in capsys.readouterr().err
    assert main(["weights", "info"]) == 2


def test_download_fetches_verifies_and_never_replaces_without_overwrite(tmp_path, monkeypatch, capsys):
    import dataclasses
    import hashlib

    from tanet.interop import weights as weights_module
    from utils.local_http import Served, serving

    monkeypatch.setenv("TANET_HOME", str(tmp_path / "home"))
    data = b"published weights " * 1000
    with serving() as served:
        served.files["w.pth"] = Served(data)
        entry = dataclasses.replace(WEIGHTS["mmaction2_tsm_k400_8f"], name="tiny_cli", url=served.url("w.pth"),
                                    file_name="w.pth", sha256_prefix=hashlib.sha256(data).hexdigest()[:8])
        monkeypatch.setitem(weights_module.WEIGHTS, entry.name, entry)
        assert main(["weights", "download", "tiny_cli", "--no-progress"]) == 0
        cached = tmp_path / "home" / "weights" / "w.pth"
        assert cached.read_bytes() == data and f"{cached} (SHA-256 checked)" in capsys.readouterr().out
        copy = tmp_path / "copy.pth"
        assert main(["weights", "download", "tiny_cli", "-o", str(copy), "--no-progress"]) == 0
        assert copy.read_bytes() == data
        copy.write_bytes(b"mine")
        assert main(["weights", "download", "tiny_cli", "-o", str(copy), "--no-progress"]) == 2
        assert "exists" in capsys.readouterr().err and copy.read_bytes() == b"mine"
        assert main(["weights", "download", "tiny_cli", "-o", str(copy), "--overwrite", "--no-progress"]) == 0
        assert copy.read_bytes() == data and sorted(p.name for p in tmp_path.iterdir()) == ["copy.pth", "home"]
        served.files["w.pth"] = Served(data + b"tampered")
        assert main(["weights", "download", "tiny_cli", "-o", str(copy), "--overwrite", "--no-progress"]) == 1
        assert "SHA-256" in capsys.readouterr().err and copy.read_bytes() == data  # the old file is kept
        assert sorted(p.name for p in tmp_path.iterdir()) == ["copy.pth", "home"]
    assert main(["weights", "download", "tam_k400_8f"]) == 1  # a web folder: by hand
    assert "download it by hand" in capsys.readouterr().err
    assert main(["weights", "download", "imagenet"]) == 2  # which depth?
    assert "imagenet:resnetNN" in capsys.readouterr().err
