"""Where tanet keeps what it downloads or generates: one folder, ``$TANET_HOME``.

Default ``$XDG_CACHE_HOME/tanet`` (``~/.cache/tanet``). Sub-folders: ``weights/`` (published
checkpoints), ``synthetic/`` (the built-in video sets), ``pretrain2d/`` (the stand-in 2D backbone).
"""
from __future__ import annotations

import os
from pathlib import Path

__all__ = ["tanet_home"]


def tanet_home(subfolder: str = "") -> Path:
    """``$TANET_HOME/<subfolder>``, else ``$XDG_CACHE_HOME/tanet/<subfolder>`` (``~/.cache/tanet``)."""
    home = os.environ.get("TANET_HOME")
    if home:
        base = Path(home).expanduser()
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser() / "tanet"
    return base / subfolder if subfolder else base
