"""tanet kernels: a run on two data sets, and clear errors for a wrong checkpoint or block."""
from __future__ import annotations

import json


def test_cli_and_clear_errors(tiny_sets, tiny_checkpoints, tmp_path, capsys):
    from tanet.cli import main

    motion, appearance = tiny_sets["motion"], tiny_sets["appearance"]
    out = tmp_path / "cli"
    code = main(["kernels", "--checkpoint", str(tiny_checkpoints["tanet_a"]), "--list", str(motion.val_list),
                 "--root", str(motion.root), "--name", "motion", "--checkpoint", str(tiny_checkpoints["tanet_a"]),
                 "--list", str(appearance.val_list), "--root", str(appearance.root), "--name", "appearance",
                 "--blocks", "stage5_2b", "--max-videos", "2", "--no-progress", "--out", str(out)])
    assert code == 0
    summary = json.loads((out / "kernels.json").read_text())
    assert summary["blocks"]["layer4.1"]["datasets"]["motion"]["num_videos"] == 2
    assert (out / "kernels_layer4.1.svg").exists()
    printed = capsys.readouterr().out
    # every number printed says what it measures and which way is which (issue 20 listed "V smoothness 0.0345")
    assert "lower = smoother): V " in printed and "lower = narrower): Θ " in printed
    assert "motion vs appearance (higher = the sets differ more): KS distance Θ " in printed
    assert "(higher = more video-dependent): across videos " in printed and "per-video null" in printed

    # a TSN checkpoint has no TAM; an unknown block lists the valid ones
    code = main(["kernels", "--checkpoint", str(tiny_checkpoints["tsn"]), "--list", str(motion.val_list),
                 "--root", str(motion.root), "--blocks", "layer4.1", "--no-progress", "--out", str(tmp_path / "x")])
    assert code == 2 and "has no TAM" in capsys.readouterr().err
    code = main(["kernels", "--checkpoint", str(tiny_checkpoints["tanet_a"]), "--list", str(motion.val_list),
                 "--root", str(motion.root), "--blocks", "stage4_6b", "--no-progress", "--out", str(tmp_path / "y")])
    err = capsys.readouterr().err
    assert code == 2 and "stage4_6b" in err and "layer4.1 (stage5_2b)" in err
    # the I3D checkpoint must be an I3D model
    code = main(["kernels", "--checkpoint", str(tiny_checkpoints["tanet_a"]), "--list", str(motion.val_list),
                 "--root", str(motion.root), "--i3d-checkpoint", str(tiny_checkpoints["tanet_b"]),
                 "--blocks", "layer4.1", "--no-progress", "--out", str(tmp_path / "z")])
    assert code == 2 and "no inflated (I3D) conv" in capsys.readouterr().err
