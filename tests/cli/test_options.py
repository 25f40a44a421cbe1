"""The shared command-line guards: an output never replaces an input, an existing file only with
--overwrite, a path named on the command line must exist (usage errors, exit 2)."""
import pytest

from tanet.cli._options import check_output, require_existing
from tanet.errors import UsageError


def test_an_output_that_is_an_input_is_refused_even_with_overwrite(tmp_path):
    checkpoint = tmp_path / "last.pt"
    checkpoint.write_bytes(b"weights")
    with pytest.raises(UsageError, match="also an input"):
        check_output(checkpoint, inputs=[checkpoint], overwrite=True)
    assert checkpoint.read_bytes() == b"weights"


def test_an_input_reached_through_another_spelling_is_recognised(tmp_path):
    checkpoint = tmp_path / "run" / "last.pt"
    checkpoint.parent.mkdir()
    checkpoint.write_bytes(b"weights")
    with pytest.raises(UsageError, match="also an input"):
        check_output(tmp_path / "run" / ".." / "run" / "last.pt", inputs=[checkpoint], overwrite=True)


def test_an_existing_file_needs_overwrite(tmp_path):
    out = tmp_path / "model.onnx"
    out.write_bytes(b"old")
    with pytest.raises(UsageError, match="--overwrite"):
        check_output(out)
    assert check_output(out, overwrite=True) == out
    assert check_output(tmp_path / "new.onnx") == tmp_path / "new.onnx"


def test_a_folder_is_not_an_output_file(tmp_path):
    with pytest.raises(UsageError, match="is a folder"):
        check_output(tmp_path, overwrite=True)


def test_a_missing_input_path_is_a_usage_error_naming_flag_and_path(tmp_path):
    missing = tmp_path / "val.txt"
    with pytest.raises(UsageError, match=r"--list .*val\.txt: no such file"):
        require_existing(missing, "--list")
    assert require_existing(tmp_path, "--root") == tmp_path
    assert require_existing(None, "--root") is None


@pytest.mark.parametrize("no_progress", [False, True])
def test_a_published_checkpoint_downloads_with_a_bar_unless_no_progress(tmp_path, monkeypatch, capsys, no_progress):
    import argparse
    import hashlib

    from tanet.cli._options import model_source
    from tanet.interop import WEIGHTS
    from tanet.interop.weights import PretrainedWeights
    from utils.local_http import Served, serving

    monkeypatch.setenv("TANET_HOME", str(tmp_path / "home"))
    data = b"published bytes" * 4096
    with serving() as server:
        server.files["tiny.pth"] = Served(data)
        entry = PretrainedWeights(
            name="tiny_test", model="tanet_r18", dataset="toy", num_classes=5, num_segments=4,
            url=server.url("tiny.pth"), file_name="tiny_test.pth", source="test", citation="test", top1=None,
            top5=None, protocol=None, sha256=hashlib.sha256(data).hexdigest())
        monkeypatch.setitem(WEIGHTS, "tiny_test", entry)
        args = argparse.Namespace(checkpoint=None, weights="tiny_test", weights_file=None, allow_unverified=False,
                                  no_progress=no_progress)
        path, _ = model_source(args)
    assert open(path, "rb").read() == data
    bar = "tiny_test.pth:" in capsys.readouterr().err  # tqdm's description is the file's name
    assert bar is not no_progress
