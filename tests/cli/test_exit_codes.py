"""Every command follows one rule for its exit code: 2 for a usage error (a mistyped path, model name or
option value; a flag that does not exist, abbreviations included), found before the work starts and
printed as one line; 1 for a failure while running; 130 for Ctrl-C."""
from __future__ import annotations

import pytest

from tanet.cli import COMMANDS, main

MISSING = "{tmp}/no_such_dir/nope.txt"  # a mistyped path


def _cases(tiny_sets, tiny_checkpoints, tmp):
    """command -> (argv with a mistyped input path, or None when the command reads no path;
                   argv with a misspelled model name or an impossible option value)."""
    motion = tiny_sets["motion"]
    checkpoint, val_list, root = str(tiny_checkpoints["tanet_a"]), str(motion.val_list), str(motion.root)
    video = str(motion.root / next(iter(motion.val_list.read_text().split())))
    missing = MISSING.format(tmp=tmp)
    out = f"{tmp}/out"
    return {
        "demo": (None, ["--epochs", "0"]),
        "models": (None, ["tanet_r5O"]),
        "recipes": (None, ["--path"]),  # an abbreviation of --paths
        "flops": (None, ["tanet_r5O"]),
        "synth": (None, ["--classes", "0", "--out", out]),
        "pretrain-2d": (None, ["--depth", "19"]),
        "weights": (None, ["info", "tam_k400_8f_typo"]),
        "prepare": (["--format", "folder", "--root", missing, "--out", out],
                    ["--format", "folder", "--root", root, "--out", out, "--val-fraction", "1.5"]),
        "check-videos": (["--list", missing], ["--list", val_list, "--backend", "opencv"]),
        "train": (["cpu_tiny", "--train-list", missing, "--root", root, "--out", out],
                  ["cpu_tiny", "--model", "tanet_r5O", "--train-list", val_list, "--root", root, "--out", out]),
        "ablate": (["cpu_tiny", "--train-list", missing, "--grid", "tam_position=a,b", "--dry-run"],
                   ["cpu_tiny", "--model", "tanet_r5O", "--grid", "tam_position=a,b", "--dry-run"]),
        "test": (["--checkpoint", missing, "--val-list", val_list, "--root", root],
                 ["--checkpoint", checkpoint, "--val-list", val_list, "--root", root, "--view-chunk", "0"]),
        "predict": ([missing, "--checkpoint", checkpoint],
                    [video, "--checkpoint", checkpoint, "--device", "mps"]),
        "plot": ([missing], [str(tmp), "--labels", "a", "b"]),
        "convert": ([missing, f"{out}.pt"], [checkpoint, f"{out}.pt", "--model", "tanet_r5O"]),
        "export": (["--checkpoint", missing, "--out", f"{out}.onnx"],
                   ["--checkpoint", checkpoint, "--out", f"{out}.onnx", "--model", "tanet_r5O"]),
        "kernels": (["--checkpoint", missing, "--list", val_list, "--root", root, "--out", out],
                    ["--checkpoint", checkpoint, "--list", val_list, "--root", root, "--out", out,
                     "--blocks", "layer9.9"]),
    }


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_every_command_has_a_case(tiny_sets, tiny_checkpoints, tmp_path):
    assert set(_cases(tiny_sets, tiny_checkpoints, tmp_path)) == set(COMMANDS)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_mistyped_path_exits_2_naming_it(command, tiny_sets, tiny_checkpoints, tmp_path, capsys):
    argv, _ = _cases(tiny_sets, tiny_checkpoints, tmp_path)[command]
    if argv is None:
        pytest.skip(f"tanet {command} reads no input path")
    assert main([command, *argv]) == 2
    line = _one_error_line(capsys)
    assert line.startswith(f"tanet {command}: error: ") and MISSING.format(tmp=tmp_path) in line
    assert line.endswith("no such file or folder")
    assert not (tmp_path / "out").exists()


# commands (of other owners) that break the rule today, and what the lead must have fixed
KNOWN_EXCEPTIONS: dict[str, str] = {}


@pytest.mark.parametrize("command", [
    pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=KNOWN_EXCEPTIONS[name]))
    if name in KNOWN_EXCEPTIONS else name for name in sorted(COMMANDS)])
def test_a_misspelled_name_or_impossible_value_exits_2(command, tiny_sets, tiny_checkpoints, tmp_path, capsys):
    _, argv = _cases(tiny_sets, tiny_checkpoints, tmp_path)[command]
    assert main([command, *argv]) == 2
    assert _one_error_line(capsys).startswith(f"tanet {command}: error: ")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_no_flag_is_taken_by_a_prefix(command):
    from tanet.cli import command_parser

    parser, _ = command_parser(command)
    for action in parser._actions:  # so that nothing but the prefix can be an error
        action.required = False
    for flag in [flag for flag in parser._option_string_actions if flag.startswith("--") and flag != "--help"]:
        prefix = flag[:-1]
        if prefix not in parser._option_string_actions:
            assert prefix in parser.parse_known_args([prefix])[1], f"tanet {command} takes {prefix} as {flag}"


def test_a_prefix_of_a_flag_is_refused_naming_the_flag(capsys):
    assert main(["train", "cpu_tiny", "--epoch", "3", "--print-config"]) == 2
    assert _one_error_line(capsys) == ("tanet train: error: unrecognized arguments: --epoch 3; did you mean --epochs? "
                                       "(see `tanet train --help`)")
