"""Downloads through a real HTTP server on 127.0.0.1: verified, resumed, cut, refused on a wrong
checksum, and offline."""
from __future__ import annotations

import hashlib
import os
import socket

import pytest

from tanet.utils.download import ChecksumMismatchError, DownloadError, download_file, partial_path

from .local_http import Served, serving

BODY = os.urandom(300_000)
DIGEST = hashlib.sha256(BODY).hexdigest()


@pytest.fixture
def server():
    with serving() as state:
        yield state


def test_a_download_is_verified_and_renamed_into_place(server, tmp_path):
    server.files["w.pth"] = Served(BODY)
    target = tmp_path / "cache" / "w.pth"
    assert download_file(server.url("w.pth"), target, sha256=DIGEST, progress=False) == target
    assert target.read_bytes() == BODY and not partial_path(target).exists()
    # the published 8-digit prefix (torchvision's and MMAction2's file names) is enough
    other = tmp_path / "w2.pth"
    assert download_file(server.url("w.pth"), other, sha256=DIGEST[:8], progress=True).read_bytes() == BODY
    # a file already there is not fetched again
    requests = len(server.requests)
    download_file(server.url("w.pth"), target, sha256=DIGEST, progress=False)
    assert len(server.requests) == requests


def test_a_partial_file_is_resumed_with_a_range_request(server, tmp_path):
    server.files["w.pth"] = Served(BODY)
    target = tmp_path / "w.pth"
    partial_path(target).write_bytes(BODY[:120_000])
    download_file(server.url("w.pth"), target, sha256=DIGEST, progress=False)
    assert target.read_bytes() == BODY
    assert server.requests == [("w.pth", "bytes=120000-")]
    assert server.bytes_sent == len(BODY) - 120_000  # only the missing bytes crossed the wire


def test_a_server_that_ignores_the_range_replaces_the_partial_file(server, tmp_path):
    server.files["w.pth"] = Served(BODY, honour_range=False)
    target = tmp_path / "w.pth"
    partial_path(target).write_bytes(b"stale bytes of another version")
    download_file(server.url("w.pth"), target, sha256=DIGEST, progress=False)
    assert target.read_bytes() == BODY


def test_a_complete_partial_file_is_verified_without_fetching_again(server, tmp_path):
    server.files["w.pth"] = Served(BODY)
    target = tmp_path / "w.pth"
    partial_path(target).write_bytes(BODY)  # killed between the last byte and the rename
    download_file(server.url("w.pth"), target, sha256=DIGEST, progress=False)
    assert target.read_bytes() == BODY and server.bytes_sent == 0  # the server answered 416


def test_a_cut_connection_is_resumed(server, tmp_path):
    server.files["w.pth"] = Served(BODY, cut_after=100_000, cuts_left=1)
    target = tmp_path / "w.pth"
    download_file(server.url("w.pth"), target, sha256=DIGEST, progress=False, retries=1)
    assert target.read_bytes() == BODY
    assert server.requests == [("w.pth", None), ("w.pth", "bytes=100000-")]


def test_a_connection_cut_every_time_keeps_the_bytes_for_the_next_attempt(server, tmp_path):
    server.files["w.pth"] = Served(BODY, cut_after=50_000, cuts_left=2)
    target = tmp_path / "w.pth"
    with pytest.raises(DownloadError) as error:
        download_file(server.url("w.pth"), target, sha256=DIGEST, progress=False, retries=1)
    message = str(error.value)
    assert server.url("w.pth") in message and str(partial_path(target)) in message and str(target) in message
    assert not target.exists() and partial_path(target).stat().st_size == 100_000
    download_file(server.url("w.pth"), target, sha256=DIGEST, progress=False)  # the server recovered
    assert target.read_bytes() == BODY and server.requests[-1] == ("w.pth", "bytes=100000-")


def test_a_wrong_checksum_is_refused_and_nothing_is_kept(server, tmp_path):
    server.files["w.pth"] = Served(BODY[:-1] + bytes([BODY[-1] ^ 1]))  # one bit differs
    target = tmp_path / "w.pth"
    with pytest.raises(ChecksumMismatchError) as error:
        download_file(server.url("w.pth"), target, sha256=DIGEST, progress=False)
    assert DIGEST in str(error.value) and server.url("w.pth") in str(error.value)
    assert not target.exists() and not partial_path(target).exists()
    assert [p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")] == []


def test_offline_the_error_names_the_url_and_where_to_put_the_file(tmp_path):
    with socket.socket() as probe:  # a port with nothing listening: connection refused, as offline
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/w.pth"
    target = tmp_path / "w.pth"
    with pytest.raises(DownloadError) as error:
        download_file(url, target, sha256=DIGEST, progress=False)
    assert url in str(error.value) and f"put it at {target}" in str(error.value)
    assert not target.exists()


def test_http_errors_and_bad_checksums_given(server, tmp_path):
    with pytest.raises(DownloadError, match="HTTP 404"):
        download_file(server.url("missing.pth"), tmp_path / "m.pth", sha256=DIGEST, progress=False)
    with pytest.raises(ValueError, match="at least 8 hex digits"):
        download_file(server.url("w.pth"), tmp_path / "w.pth", sha256="abc", progress=False)
