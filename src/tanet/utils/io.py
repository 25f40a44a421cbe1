"""Atomic file writes: a reader (or a crash) sees the old file or the new one, never half of one.

A write that fails (disk full, the file-size limit, a read-only file system) raises
:class:`WriteError`, which names the file and says that it is unchanged.
"""
from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
from pathlib import Path
from typing import IO, Any, Callable, Iterator, Optional, Union

from tanet.errors import TanetError

__all__ = ["atomic_write", "atomic_write_text", "atomic_write_json", "remove_stale_temporaries", "TEMP_SUFFIX",
           "WriteError"]

_REASONS = {
    errno.ENOSPC: "no space left on the device",
    errno.EFBIG: "the file grew past the file-size limit (ulimit -f, or the file system's largest file)",
    errno.EDQUOT: "the disk quota is used up",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EIO: "an input/output error of the device",
}


# what only writing a file fails with
_WRITE_FAILURES = frozenset({errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EROFS})


class WriteError(TanetError, OSError):
    """Writing ``path`` failed; what was there before is unchanged (or there is still no file).

    An ``OSError`` with the original ``errno`` (``errno.ENOSPC``, ``errno.EFBIG``, ...) and ``filename``,
    and a :class:`~tanet.errors.TanetError` (one line, exit code 1 on the command line). Attributes:
    ``path``, ``reason`` (what happened, in words), ``existed`` (whether ``path`` held a file, now
    unchanged). :meth:`with_note` adds a sentence (e.g. what an older checkpoint still holds).
    """

    def __init__(self, path: Union[str, os.PathLike], error_number: Optional[int], reason: str, existed: bool,
                 note: str = ""):
        super().__init__(error_number, reason, os.fspath(path))
        self.path, self.reason, self.existed, self.note = Path(path), reason, existed, note

    @classmethod
    def from_os_error(cls, path: Union[str, os.PathLike], error: OSError, existed: bool) -> "WriteError":
        reason = _REASONS.get(error.errno) or (error.strerror or str(error)).lower()
        return cls(path, error.errno, reason, existed)

    def with_note(self, note: str) -> "WriteError":
        """The same error with one more sentence at the end of its message."""
        return type(self)(self.path, self.errno, self.reason, self.existed, note)

    def __str__(self) -> str:
        state = f"{self.path} is unchanged" if self.existed else f"{self.path} was not written"
        return f"{self.reason} while writing {self.path}; {state}" + (f"; {self.note}" if self.note else "")

    def __reduce__(self):
        return (type(self), (self.path, self.errno, self.reason, self.existed, self.note))


def _os_error_in(error: BaseException) -> Optional[OSError]:
    """The OSError that ``error`` is or comes from (torch.save reports a failed write of its file object
    as a RuntimeError raised while handling the OSError)."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, OSError):
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None

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
    and ``path`` is untouched; a failed write (``OSError``: disk full, file-size limit, ...) raises
    :class:`WriteError`, which says so. ``before_replace`` is a test hook called with the temporary path.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write mode must be 'w' or 'wb', got {mode!r}")
    path = Path(path)
    existed = path.exists()
    tmp_name, in_body = None, False
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
        text = mode == "w"
        with os.fdopen(fd, mode, encoding=encoding if text else None, newline=newline if text else None) as handle:
            in_body = True
            yield handle
            in_body = False
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        if before_replace is not None:
            before_replace(tmp_name)
        os.replace(tmp_name, path)
    except BaseException as error:
        if tmp_name is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
        os_error = None if isinstance(error, WriteError) else _os_error_in(error)
        # The caller's own work inside the block (reading a source, a download) may fail with an OSError
        # too: only the errors of writing count there.
        if os_error is not None and (not in_body or os_error.errno in _WRITE_FAILURES):
            raise WriteError.from_os_error(path, os_error, existed) from error
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
