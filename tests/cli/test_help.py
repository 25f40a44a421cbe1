"""Every command answers --help; the top-level help lists them all."""
from __future__ import annotations

import pytest

from tanet.cli import COMMANDS, main


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    assert "usage: tanet" in capsys.readouterr().out


def test_top_level_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    printed = capsys.readouterr().out
    assert all(name in printed for name in COMMANDS)
