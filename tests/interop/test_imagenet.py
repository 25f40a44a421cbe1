"""``pretrained="imagenet"``: torchvision's ImageNet ResNets, pinned by URL and checksum, downloaded on
first use (through a real HTTP server on 127.0.0.1)."""
from __future__ import annotations

import hashlib
import re

import pytest
import torch

import tanet
from tanet.errors import UsageError
from tanet.interop import imagenet
from tanet.interop.imagenet import IMAGENET_WEIGHTS, ImageNetWeights, imagenet_weights_for

from test_factory import torchvision_resnet_state_dict


def test_the_pinned_files_are_torchvisions_v1_resnets():
    # torchvision's ResNet50_Weights.IMAGENET1K_V1 (what the official TAM code's resnet50(True) loads)
    assert IMAGENET_WEIGHTS["resnet50"].url == "https://download.pytorch.org/models/resnet50-0676ba61.pth"
    for entry in IMAGENET_WEIGHTS.values():
        # torch.hub's rule: the file name ends in the first 8 hex digits of the file's SHA-256
        assert re.fullmatch(rf"https://download\.pytorch\.org/models/resnet{entry.depth}-{entry.sha256_prefix}\.pth",
                            entry.url)


def test_imagenet_takes_the_models_depth_and_refuses_what_cannot_fit():
    assert imagenet_weights_for("imagenet", "tanet_r50").name == "resnet50"
    assert imagenet_weights_for("imagenet", "i3d333_r18").name == "resnet18"
    assert imagenet_weights_for("imagenet:resnet101", "tsm_r101").name == "resnet101"
    with pytest.raises(UsageError, match="ResNet-50; tsn_r18 is a ResNet-18"):
        imagenet_weights_for("imagenet:resnet50", "tsn_r18")
    with pytest.raises(UsageError, match="width 0.25"):
        imagenet_weights_for("imagenet", "tanet_r18", width=0.25)
    with pytest.raises(UsageError, match="not 'resnet152'"):
        imagenet_weights_for("imagenet:resnet152")


def test_pretrained_imagenet_downloads_once_and_fills_the_2d_part(tmp_path, monkeypatch):
    from utils.local_http import Served, serving

    state = torchvision_resnet_state_dict(18)
    source = tmp_path / "resnet18.pth"
    torch.save(state, source)
    data = source.read_bytes()
    prefix = hashlib.sha256(data).hexdigest()[:8]
    with serving() as served:
        served.files[f"resnet18-{prefix}.pth"] = Served(data)
        entry = ImageNetWeights("resnet18", 18, served.url(f"resnet18-{prefix}.pth"), prefix)
        monkeypatch.setitem(imagenet.IMAGENET_WEIGHTS, "resnet18", entry)
        monkeypatch.setenv("TANET_HOME", str(tmp_path / "home"))
        model = tanet.create_model("tanet_r18", num_classes=3, num_segments=2, pretrained="imagenet")
        assert (tmp_path / "home" / "weights" / f"resnet18-{prefix}.pth").read_bytes() == data
        torch.testing.assert_close(model.backbone.layer3[1].conv2.weight, state["layer3.1.conv2.weight"])
        again = tanet.create_model("tsn_r18", num_classes=3, num_segments=2, pretrained="imagenet:resnet18")
        torch.testing.assert_close(again.backbone.conv1.weight, state["conv1.weight"])
        assert len(served.requests) == 1  # the second model read the cache
