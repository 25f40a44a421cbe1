"""The 2D ImageNet ResNets the official recipes start from (``pretrained="imagenet"``), pinned by URL
and checksum, downloaded into ``$TANET_HOME/weights`` on first use.

The official TAM code builds its backbone with ``getattr(torchvision.models, base_model)(True)``
(liu-zhy/temporal-adaptive-module ``ops/models.py`` line 127): torchvision's ImageNet weights of the
time, today ``ResNet50_Weights.IMAGENET1K_V1``. torchvision's file names end in the first 8 hex digits
of the file's SHA-256, which ``torch.hub`` checks and so does tanet. The ``-0676ba61`` file is the
same V1 weights as the older ``resnet50-19c8e357.pth`` that torchvision <= 0.9 named, re-saved in
the zip serialisation (pytorch/vision issue 2068); tanet pins the current name.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

from tanet.errors import UsageError
from tanet.utils.download import ChecksumMismatchError, DownloadError, download_file, matches_checksum

from .weights import WeightsVerificationError, sha256_file, weights_cache_dir

__all__ = ["ImageNetWeights", "IMAGENET_WEIGHTS", "IMAGENET", "is_imagenet", "imagenet_weights_for",
           "resolve_imagenet_file"]

IMAGENET = "imagenet"  # model.pretrained / --pretrained: the model's depth; "imagenet:resnet50" names one
_TORCHVISION = "https://download.pytorch.org/models"
_CITATION = "pytorch/vision torchvision/models/resnet.py, ResNet{depth}_Weights.IMAGENET1K_V1"


@dataclass(frozen=True)
class ImageNetWeights:
    """One torchvision ImageNet-1k ResNet (V1 recipe)."""

    name: str  # "resnet50"
    depth: int
    url: str
    sha256_prefix: str  # the 8 hex digits of the file name

    @property
    def file_name(self) -> str:
        return self.url.rsplit("/", 1)[-1]

    @property
    def citation(self) -> str:
        return _CITATION.format(depth=self.depth)


def _torchvision(depth: int, suffix: str) -> ImageNetWeights:
    return ImageNetWeights(f"resnet{depth}", depth, f"{_TORCHVISION}/resnet{depth}-{suffix}.pth", suffix)


IMAGENET_WEIGHTS: dict[str, ImageNetWeights] = {
    entry.name: entry for entry in [
        _torchvision(18, "f37072fd"), _torchvision(34, "b627a593"), _torchvision(50, "0676ba61"),
        _torchvision(101, "63fe2227"),
    ]
}


def is_imagenet(value: object) -> bool:
    """``"imagenet"`` or ``"imagenet:resnetNN"``."""
    return isinstance(value, str) and (value == IMAGENET or value.startswith(IMAGENET + ":"))


def imagenet_weights_for(spec: str, model_name: Optional[str] = None, width: float = 1.0) -> ImageNetWeights:
    """The file ``spec`` names: ``imagenet`` is the ResNet of ``model_name``'s depth (``tanet_r50`` ->
    resnet50), ``imagenet:resnet50`` names it; refused for another depth or a width other than 1."""
    depth_of_model = None
    if model_name is not None:
        match = re.search(r"_r(\d+)$", model_name)
        depth_of_model = int(match.group(1)) if match else None
    named = spec[len(IMAGENET):].lstrip(":")
    if not named:
        if depth_of_model is None:
            raise UsageError(f"pretrained={spec!r}: cannot tell the ResNet depth of {model_name!r}; "
                             f"write imagenet:resnetNN ({', '.join(IMAGENET_WEIGHTS)})")
        named = f"resnet{depth_of_model}"
    entry = IMAGENET_WEIGHTS.get(named)
    if entry is None:
        raise UsageError(f"pretrained={spec!r}: torchvision publishes ImageNet weights for "
                         f"{', '.join(IMAGENET_WEIGHTS)} (imagenet:NAME), not {named!r}")
    if depth_of_model is not None and depth_of_model != entry.depth:
        raise UsageError(f"pretrained={spec!r} is a ResNet-{entry.depth}; {model_name} is a ResNet-{depth_of_model}")
    if width != 1.0:
        raise UsageError(f"pretrained={spec!r}: ImageNet ResNets have width 1, the model has width {width}; "
                         "use --pretrained synthetic (the built-in stand-in of any width) or scratch")
    return entry


def resolve_imagenet_file(spec: Union[str, ImageNetWeights], model_name: Optional[str] = None, width: float = 1.0,
                          *, download: bool = True, progress: bool = True) -> Path:
    """The verified local file of ``spec`` (see :func:`imagenet_weights_for`), downloaded into
    ``$TANET_HOME/weights`` when missing (resumable, checked against the published SHA-256 prefix)."""
    entry = spec if isinstance(spec, ImageNetWeights) else imagenet_weights_for(spec, model_name, width)
    cached = weights_cache_dir() / entry.file_name
    if cached.is_file():
        digest = sha256_file(cached)
        if not matches_checksum(digest, entry.sha256_prefix):
            raise WeightsVerificationError(
                f"{cached}: SHA-256 {digest} does not start with {entry.sha256_prefix}, the prefix torchvision "
                f"publishes in the file name: corrupt or another file; delete it and it is downloaded again")
        return cached
    if not download:
        raise FileNotFoundError(f"the ImageNet {entry.name} is not on this machine: download {entry.url} and put it "
                                f"at {cached} (or pass download=True)")
    try:
        return download_file(entry.url, cached, sha256=entry.sha256_prefix, progress=progress)
    except ChecksumMismatchError as error:
        raise WeightsVerificationError(str(error)) from None
    except DownloadError as error:
        raise DownloadError(f"the ImageNet {entry.name} of torchvision: {error}; or pass the file itself as "
                            "--pretrained FILE (pretrained=FILE)") from None

