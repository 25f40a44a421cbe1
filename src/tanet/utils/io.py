"""Atomic file writes: a reader (or a crash) sees the old file or the new one, never half of one."""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import IO, Any, Callable, Iterator, Optional, Union

__all__ = ["atomic_write", "atomic_write_text", "atomic_write_json", "remove_stale_temporaries", "TEMP_SUFFIX"]

# Temporary files are named ``.<name>.<random>.tmp`` beside their target, so a later start can
# recognise and remove what an interrupted write left behind (:func:`remove_stale_temporaries`).
TEMP_SUFFIX = ".tmp"


@contextlib.contextmanager
def atomic_write(
    path: Union[str, os.PathLike],
    mode: str = "w",
    *,
    encoding: Optional[str] = "utf-8",
    newline: Optional[str] = None,
    durable: bool = False,
    before_replace: Optional[Callable[[str], None]] = None,
) -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; on a clean exit rename it over ``path``.

    ``mode`` is ``"w"`` (text) or ``"wb"``. ``durable`` also fsyncs the file and its folder (for
    checkpoints: the rename survives a power cut). On any exception the temporary file is removed
    and ``path`` is untouched. ``before_replace`` is a test hook called with the temporary path.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write mode must be 'w' or 'wb', got {mode!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    try:
        text = mode == "w"
        with os.fdopen(fd, mode, encoding=encoding if text else None, newline=newline if text else None) as handle:
            yield handle
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        if before_replace is not None:
            before_replace(tmp_name)
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    if durable:
        _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    # Makes the rename itself durable; not possible on every platform (e.g. Windows).
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_text(path: Union[str, os.PathLike], text: str) -> Path:
    with atomic_write(path) as handle:
        handle.write(text)
    return Path(path)


def atomic_write_json(path: Union[str, os.PathLike], data: Any, *, indent: Optional[int] = 2) -> Path:
    return atomic_write_text(path, json.dumps(data, indent=indent) + "\n")


def remove_stale_temporaries(folder: Union[str, os.PathLike], *names: str) -> list[Path]:
    """Delete the temporary files that interrupted :func:`atomic_write` calls for ``folder/name`` left.

    Call it only while no other process writes those files (e.g. holding the run folder's lock).
    Returns what was removed.
    """
    removed = []
    for name in names:
        for candidate in Path(folder).glob(f".{name}.*{TEMP_SUFFIX}"):
            with contextlib.suppress(FileNotFoundError):
                candidate.unlink()
                removed.append(candidate)
    return removed
