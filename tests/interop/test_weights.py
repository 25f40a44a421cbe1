"""Pretrained-weight registry: entries, shipped class names, cache/explicit files, checksum checks."""
from __future__ import annotations

import dataclasses
import hashlib

import pytest
import torch

import tanet
from tanet.interop import WEIGHTS, WeightsVerificationError, kinetics400_class_names, resolve_weights_file
from tanet.interop.weights import PretrainedWeights

from .conftest import TINY, tiny_model, write_official_layout


def test_kinetics400_class_names_ship_with_the_package():
    names = kinetics400_class_names()
    assert len(names) == 400 and len(set(names)) == 400
    assert names == sorted(names)  # the official label order is alphabetical
    assert names[0] == "abseiling" and names[1] == "air drumming" and names[-1] == "zumba"
    assert all(name == name.strip() and name for name in names)


def test_registry_entries_are_complete():
    assert {"tam_k400_8f", "tam_k400_16f", "tam_sthv1_8f", "tam_sthv1_16f", "tam_sthv2_8f", "tam_sthv2_16f"} <= set(WEIGHTS)
    for entry in WEIGHTS.values():
        assert tanet.models.is_model(entry.model)
        assert entry.url.startswith("https://")
        assert 0 < entry.top5 <= 100 and 0 < entry.top1 < entry.top5
        assert entry.num_segments in (8, 16)
        if entry.dataset == "kinetics400":
            assert entry.num_classes == 400 and entry.load_class_names() == kinetics400_class_names()
        if entry.source == "mmaction2":  # the 8-hex-digit SHA-256 prefix from the file name
            assert len(entry.sha256_prefix) == 8 and entry.url.endswith(f"-{entry.sha256_prefix}.pth")
        else:  # no checksum published by the official release
            assert entry.sha256 is None and entry.sha256_prefix is None and not entry.direct_download


def _tiny_entry(tmp_path, **fields) -> tuple[PretrainedWeights, torch.nn.Module, bytes]:
    source = tiny_model("tanet_r18")
    path = tmp_path / "published.pth"
    torch.save({"state_dict": write_official_layout(source.state_dict())}, path)
    data = path.read_bytes()
    entry = PretrainedWeights(
        name="tiny_test", model="tanet_r18", dataset="toy", num_classes=TINY["num_classes"],
        num_segments=TINY["num_segments"], url=path.as_uri(), file_name="tiny_test.pth", source="test",
        citation="test", top1=None, top5=None, protocol=None, **fields,
    )
    return entry, source, data


def _tiny(entry, **kwargs):
    return tanet.create_model("tanet_r18", weights=entry, width=TINY["width"], **kwargs)


def test_weights_from_an_explicit_file_and_from_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TANET_HOME", str(tmp_path / "home"))
    entry, source, data = _tiny_entry(tmp_path, sha256=hashlib.sha256(b"x").hexdigest())
    entry = dataclasses.replace(entry, sha256=hashlib.sha256(data).hexdigest())
    clips = torch.randn(1, 3, 4, 32, 32)
    with torch.no_grad():
        explicit = _tiny(entry, weights_path=tmp_path / "published.pth").eval()
        assert float((explicit(clips) - source(clips)).abs().max()) <= 1e-4
        with pytest.raises(FileNotFoundError, match="download=True"):  # not cached, and no network asked for
            _tiny(entry, download=False)
        cached = tmp_path / "home" / "weights" / "tiny_test.pth"
        cached.parent.mkdir(parents=True)
        cached.write_bytes(data)
        assert float((_tiny(entry).eval()(clips) - source(clips)).abs().max()) <= 1e-4
    with pytest.raises(ValueError, match="num_classes=5"):
        _tiny(entry, num_classes=7)


def test_checksum_mismatch_and_unknown_checksum(tmp_path):
    entry, _, data = _tiny_entry(tmp_path)
    file = tmp_path / "published.pth"
    wrong = dataclasses.replace(entry, sha256="0" * 64)
    with pytest.raises(WeightsVerificationError, match="does not match"):
        resolve_weights_file(wrong, file)
    wrong_prefix = dataclasses.replace(entry, sha256_prefix="00000000")
    with pytest.raises(WeightsVerificationError, match="prefix"):
        resolve_weights_file(wrong_prefix, file)
    right_prefix = dataclasses.replace(entry, sha256_prefix=hashlib.sha256(data).hexdigest()[:8])
    assert resolve_weights_file(right_prefix, file) == file
    # no checksum known: refused unless explicitly allowed
    with pytest.raises(WeightsVerificationError, match="no checksum is known"):
        resolve_weights_file(entry, file)
    assert resolve_weights_file(entry, file, allow_unverified=True) == file


def test_download_is_verified_before_it_enters_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TANET_HOME", str(tmp_path / "home"))
    entry, _, data = _tiny_entry(tmp_path)  # url is a file:// URL: no network needed
    cache = tmp_path / "home" / "weights"
    bad = dataclasses.replace(entry, sha256="f" * 64)
    with pytest.raises(WeightsVerificationError):
        resolve_weights_file(bad, download=True)
    # nothing half-verified left behind (the lock file that serialises downloads stays, empty of weights)
    assert [path.name for path in cache.iterdir()] == ["tiny_test.pth.lock"]
    good = dataclasses.replace(entry, sha256=hashlib.sha256(data).hexdigest())
    path = resolve_weights_file(good, download=True)
    assert path == cache / "tiny_test.pth" and path.read_bytes() == data


def test_official_weights_need_a_manual_download(tmp_path, monkeypatch):
    monkeypatch.setenv("TANET_HOME", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="download it by hand"):
        resolve_weights_file("tam_k400_8f", download=True)


def test_published_protocols_name_the_tanet_protocol_that_takes_those_views():
    from tanet.data import TEST_PROTOCOLS

    for entry in WEIGHTS.values():
        protocol = entry.protocol
        if protocol is None or protocol.tanet_protocol is None:
            continue
        views = TEST_PROTOCOLS[protocol.tanet_protocol]
        assert (views.num_clips, views.num_crops) == (protocol.num_clips, protocol.num_crops), entry.name
        assert views.full_res == (protocol.crop_size == protocol.scale_size), entry.name
    # official SSv2 (scripts/test_tam_somethingv2_rgb_8f.sh --sample uniform-2), SSv1 (uniform-1), K400 (dense-10)
    assert {WEIGHTS[f"tam_sthv2_{t}f"].protocol.tanet_protocol for t in (8, 16)} == {"accurate"}
    assert not TEST_PROTOCOLS["accurate"].twice_sample
    assert {WEIGHTS[f"tam_sthv1_{t}f"].protocol.tanet_protocol for t in (8, 16)} == {"efficient"}
    assert {WEIGHTS[f"tam_k400_{t}f"].protocol.tanet_protocol for t in (8, 16)} == {"dense"}


@pytest.fixture
def http_server():
    from utils.local_http import serving

    with serving() as state:
        yield state


def test_published_weights_download_on_first_use_over_http(tmp_path, monkeypatch, http_server):
    from utils.local_http import Served

    monkeypatch.setenv("TANET_HOME", str(tmp_path / "home"))
    entry, source, data = _tiny_entry(tmp_path)
    http_server.files["tiny.pth"] = Served(data, cut_after=len(data) // 3, cuts_left=1)  # a cut, then resumed
    entry = dataclasses.replace(entry, url=http_server.url("tiny.pth"), sha256_prefix=hashlib.sha256(data).hexdigest()[:8])
    clips = torch.randn(1, 3, 4, 32, 32)
    with torch.no_grad():
        assert float((_tiny(entry).eval()(clips) - source(clips)).abs().max()) <= 1e-4
    cached = tmp_path / "home" / "weights" / "tiny_test.pth"
    assert cached.read_bytes() == data
    assert [rng for _, rng in http_server.requests] == [None, f"bytes={len(data) // 3}-"]
    _tiny(entry)  # cached: verified, not fetched again
    assert len(http_server.requests) == 2


def test_a_download_that_fails_says_where_to_put_the_file(tmp_path, monkeypatch, http_server):
    from utils.local_http import Served

    monkeypatch.setenv("TANET_HOME", str(tmp_path / "home"))
    entry, _, data = _tiny_entry(tmp_path)
    http_server.files["tiny.pth"] = Served(data)
    wrong = dataclasses.replace(entry, url=http_server.url("tiny.pth"), sha256_prefix="00000000")
    with pytest.raises(WeightsVerificationError, match="00000000"):
        _tiny(wrong)
    assert not (tmp_path / "home" / "weights" / "tiny_test.pth").exists()
    gone = dataclasses.replace(entry, url=http_server.url("moved.pth"), sha256_prefix="00000000")
    with pytest.raises(OSError) as error:  # HTTP 404
        _tiny(gone)
    message = str(error.value)
    assert gone.url in message and str(tmp_path / "home" / "weights" / "tiny_test.pth") in message
    assert "weights_path=FILE" in message and "--weights-file" in message
