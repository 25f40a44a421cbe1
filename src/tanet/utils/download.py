"""Download one file over HTTP(S): resumable, verified by SHA-256, and atomic.

The bytes go to ``<destination>.part`` beside the destination. A partial file left by a cut
connection or an interrupted run is resumed with an HTTP ``Range`` request (a server that ignores
the range sends the whole file, which then replaces the partial one). Only a complete file whose
SHA-256 matches (the full digest, or the published prefix such as the 8 hex digits in torchvision's
and MMAction2's file names) is renamed to the destination; a file that does not match is deleted, so
nothing unverified is ever found under the destination's name. A lock file beside it keeps two
processes from writing the same partial file. Nothing here knows what the file is: callers (the
weight registries) say which URL, where and which checksum.
"""
from __future__ import annotations

import hashlib
import http.client
import os
import socket
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable, Optional, Union

from tanet.errors import TanetError
from tanet.utils.locking import FileLock

__all__ = ["DownloadError", "ChecksumMismatchError", "download_file", "partial_path", "matches_checksum"]

PathLike = Union[str, os.PathLike]
PART_SUFFIX = ".part"
_CHUNK = 1 << 16


class DownloadError(TanetError, OSError):
    """A download failed (no network, HTTP error, cut connection); the message names the URL and where
    the file must be put by hand."""


class ChecksumMismatchError(DownloadError):
    """The downloaded bytes are not the published file (deleted, never renamed to the destination)."""


def partial_path(destination: PathLike) -> Path:
    """Where the bytes of an unfinished download of ``destination`` are kept."""
    destination = Path(destination)
    return destination.with_name(destination.name + PART_SUFFIX)


def matches_checksum(digest: str, sha256: str) -> bool:
    """``digest`` (hex) is ``sha256``, or starts with it when ``sha256`` is a published prefix."""
    return digest.lower().startswith(sha256.lower())


def _hash_of(path: Path) -> "hashlib._Hash":
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest


def _by_hand(url: str, destination: Path) -> str:
    return f"download {url} by hand and put it at {destination}"


def _open(url: str, offset: int, timeout: float):
    """The response for ``url`` from byte ``offset`` on, and the offset it really starts at (0 when the
    server ignored the range); None when the server says the partial file already holds every byte."""
    request = urllib.request.Request(url, headers={"User-Agent": "tanet"})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 - http(s) or file URLs by design
    except urllib.error.HTTPError as error:
        if error.code == 416 and offset:  # "range not satisfiable": nothing after `offset`
            error.close()
            return None, offset
        raise
    status = getattr(response, "status", None) or 200
    if offset and status == 206:
        content_range = response.headers.get("Content-Range", "")
        if content_range.startswith(f"bytes {offset}-"):
            return response, offset
    return response, 0


def _total_size(response, start: int) -> Optional[int]:
    length = response.headers.get("Content-Length")
    return start + int(length) if length is not None and length.isdigit() else None


def _fetch(url: str, part: Path, *, timeout: float, progress: bool, desc: str) -> None:
    """Fill ``part`` with the bytes of ``url``, resuming what it holds. Raises on a cut connection (the
    bytes received so far stay in ``part``)."""
    offset = part.stat().st_size if part.exists() else 0
    response, start = _open(url, offset, timeout)
    if response is None:  # the server has nothing more: the partial file is complete (or wrong)
        return
    with response:
        total = _total_size(response, start)
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=total, initial=start, unit="B", unit_scale=True, unit_divisor=1024, desc=desc,
                       leave=False, dynamic_ncols=True)
        received = start
        try:
            with open(part, "r+b" if start else "wb") as handle:
                handle.seek(start)
                handle.truncate()
                while chunk := response.read(_CHUNK):
                    handle.write(chunk)
                    received += len(chunk)
                    if bar is not None:
                        bar.update(len(chunk))
                handle.flush()
                os.fsync(handle.fileno())
        finally:
            if bar is not None:
                bar.close()
    if total is not None and received < total:
        raise http.client.IncompleteRead(b"", total - received)


def download_file(url: str, destination: PathLike, *, sha256: str, progress: bool = True, retries: int = 2,
                  timeout: float = 30.0, on_wait: Optional[Callable[[Optional[int]], None]] = None) -> Path:
    """Download ``url`` to ``destination`` and return it; ``sha256`` is the file's hex digest or its
    published prefix (at least 8 hex digits).

    A destination that already exists is returned as it is (verify it yourself if it may be stale).
    A cut connection is resumed up to ``retries`` times; after that the partial file is kept for the
    next call and :class:`DownloadError` says so. No network, an HTTP error, or a file whose checksum
    differs (:class:`ChecksumMismatchError`; the bytes are deleted) raise with the URL and where the
    file can be put by hand.
    """
    if len(sha256) < 8 or any(c not in "0123456789abcdefABCDEF" for c in sha256):
        raise ValueError(f"sha256 must be a hex digest or a prefix of at least 8 hex digits, got {sha256!r}")
    destination = Path(destination)
    part = partial_path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(destination.with_name(destination.name + ".lock"), what=f"the download of {destination}",
                  blocking=True, on_wait=on_wait):
        if destination.exists():  # another process finished it while this one waited
            return destination
        attempts = 0
        while True:
            try:
                _fetch(url, part, timeout=timeout, progress=progress, desc=destination.name)
                break
            except (http.client.IncompleteRead, ConnectionError, socket.timeout, TimeoutError) as error:
                attempts += 1
                if attempts > retries:
                    kept = part.stat().st_size if part.exists() else 0
                    raise DownloadError(
                        f"the download of {url} was cut ({type(error).__name__}) {attempts} times; the {kept} "
                        f"bytes received are kept in {part} and the next attempt resumes from there; or "
                        + _by_hand(url, destination)) from None
            except urllib.error.HTTPError as error:
                raise DownloadError(f"cannot download {url}: HTTP {error.code} {error.reason}; "
                                    + _by_hand(url, destination)) from None
            except (urllib.error.URLError, OSError) as error:
                reason = getattr(error, "reason", None) or error
                raise DownloadError(f"cannot download {url} ({reason}): no network access? "
                                    + _by_hand(url, destination)) from None
        digest = _hash_of(part).hexdigest() if part.exists() else hashlib.sha256().hexdigest()
        if not matches_checksum(digest, sha256):
            part.unlink(missing_ok=True)
            raise ChecksumMismatchError(
                f"the file downloaded from {url} has SHA-256 {digest}, not the published {sha256}: it is not "
                f"the expected file (changed on the server, or corrupted on the way) and was deleted; nothing "
                f"was written to {destination}")
        os.replace(part, destination)
    return destination
