"""Atomic writes: the old file or the new one, never half of one; a write that fails (disk full, the
file-size limit) names the file, says it is unchanged, and leaves no temporary file behind."""
from __future__ import annotations

import errno
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tanet.errors import TanetError
from tanet.utils.io import TEMP_SUFFIX, WriteError, atomic_write, atomic_write_text


def _temporaries(folder: Path) -> list[Path]:
    return list(folder.glob(f".*{TEMP_SUFFIX}"))


def test_an_error_in_the_block_leaves_the_old_file(tmp_path):
    target = tmp_path / "list.txt"
    target.write_text("old\n")
    with pytest.raises(ZeroDivisionError):
        with atomic_write(target) as handle:
            handle.write("new\n")
            1 / 0
    assert target.read_text() == "old\n" and not _temporaries(tmp_path)


FILE_SIZE_LIMIT = """
import json, resource, sys
import torch
from tanet.utils.io import WriteError, atomic_write, atomic_write_text

def save_checkpoint():
    with atomic_write(sys.argv[2], "wb") as handle:
        torch.save({"w": torch.zeros(10000)}, handle)

resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))  # `ulimit -f 4`: writes past 4 KiB fail
report = {}
for name, write in [("text", lambda: atomic_write_text(sys.argv[1], "x" * 10000)), ("torch", save_checkpoint)]:
    try:
        write()
    except WriteError as error:
        report[name] = {"type": type(error).__name__, "errno": error.errno, "message": str(error)}
print(json.dumps(report))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_FSIZE and SIGXFSZ as on Linux")
def test_the_file_size_limit_names_the_file_and_keeps_it(tmp_path):
    text_file, checkpoint = tmp_path / "log.jsonl", tmp_path / "last.pt"
    text_file.write_text("old\n")
    torch.save({"epoch": 3}, checkpoint)
    before = checkpoint.read_bytes()
    done = subprocess.run([sys.executable, "-c", FILE_SIZE_LIMIT, str(text_file), str(checkpoint)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["text"] == {"type": "WriteError", "errno": errno.EFBIG, "message":
                              f"the file grew past the file-size limit (ulimit -f, or the file system's largest "
                              f"file) while writing {text_file}; {text_file} is unchanged"}
    # torch.save reports the failed write as a RuntimeError; the OSError under it is found
    assert report["torch"]["errno"] == errno.EFBIG and f"while writing {checkpoint}; " in report["torch"]["message"]
    assert text_file.read_text() == "old\n" and checkpoint.read_bytes() == before
    assert not _temporaries(tmp_path)


@pytest.fixture
def full_disk(monkeypatch):
    """The temporary file's writes go to /dev/full, which fails every write with ENOSPC (a real one)."""
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    real_fdopen = os.fdopen

    def fdopen(fd, mode="r", *args, **kwargs):
        os.close(fd)
        return real_fdopen(os.open("/dev/full", os.O_WRONLY), mode, *args, **kwargs)

    monkeypatch.setattr(os, "fdopen", fdopen)


def test_a_full_disk_names_the_file_it_did_not_write(tmp_path, full_disk):
    target = tmp_path / "best.pt"
    with pytest.raises(WriteError) as caught:
        with atomic_write(target, "wb") as handle:
            torch.save({"w": torch.zeros(1000)}, handle)
    error = caught.value
    assert str(error) == f"no space left on the device while writing {target}; {target} was not written"
    assert error.errno == errno.ENOSPC and error.path == target and not error.existed
    assert isinstance(error, OSError) and isinstance(error, TanetError)  # exit code 1 on the command line
    assert not target.exists() and not _temporaries(tmp_path)


def test_a_full_disk_keeps_the_old_file_and_a_note_can_say_more(tmp_path, full_disk):
    target = tmp_path / "last.pt"
    target.write_bytes(b"epoch 3")
    with pytest.raises(WriteError) as caught:
        atomic_write_text(target, "x" * 100000)
    error = caught.value.with_note(f"{target} still holds epoch 3")
    assert str(error) == (f"no space left on the device while writing {target}; {target} is unchanged; "
                          f"{target} still holds epoch 3")
    assert error.errno == errno.ENOSPC and pickle.loads(pickle.dumps(error)).note == error.note
    assert target.read_bytes() == b"epoch 3"


def test_an_os_error_of_the_callers_own_work_is_not_called_a_write_error(tmp_path):
    # e.g. a download inside the block that loses its connection
    with pytest.raises(ConnectionResetError):
        with atomic_write(tmp_path / "weights.pt", "wb"):
            raise ConnectionResetError(errno.ECONNRESET, "Connection reset by peer")
    assert not _temporaries(tmp_path)
