"""Published TANet / TSM checkpoints, like torchvision's weight enums.

Every entry records where the file comes from, how to check it, what it predicts (classes) and how
it was evaluated (the published protocol and accuracy). Sources are cited per entry. No SHA-256 of a
complete file is published for any of them: MMAction2 file names end in the first 8 hex digits of
the file's SHA-256 (``tools/publish_model.py`` appends ``sha256sum(file)[:8]``), which is checked;
the official TAM release (Google Drive folders) publishes no checksum at all, so those files load
only with ``allow_unverified=True`` (CLI ``--allow-unverified``).

    model = tanet.create_model("tanet_r50", weights="tam_k400_8f", weights_path="ckpt.best.pth.tar",
                               allow_unverified=True)
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from tanet.data.transforms import IMAGENET_MEAN, IMAGENET_STD
from tanet.errors import TanetError
from tanet.utils.cache import tanet_home
from tanet.utils.download import ChecksumMismatchError, DownloadError, download_file

__all__ = [
    "EvalProtocol",
    "PretrainedWeights",
    "WeightsVerificationError",
    "WEIGHTS",
    "get_weights",
    "identify_weights",
    "list_weights",
    "weights_cache_dir",
    "sha256_file",
    "verify_weights_file",
    "resolve_weights_file",
    "kinetics400_class_names",
]


class WeightsVerificationError(TanetError, RuntimeError):
    """A weights file failed (or could not get) its checksum check."""


@cache
def kinetics400_class_names() -> list[str]:
    """The 400 Kinetics-400 class names in the official (alphabetical) label order, shipped with tanet."""
    text = resources.files("tanet").joinpath("resources/kinetics400_classes.txt").read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line]


@dataclass(frozen=True)
class EvalProtocol:
    """How the published accuracy was measured: views per video and the test transform."""

    sampling: str  # "dense" (clips from a 64-frame window, TSM/TAM style) or "uniform" (TSN segments)
    num_clips: int
    num_crops: int
    scale_size: int  # short side before cropping
    crop_size: int
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    # the `tanet test --protocol` that takes exactly these views (tanet.data.TEST_PROTOCOLS); None: none does
    tanet_protocol: str | None = None


@dataclass(frozen=True)
class PretrainedWeights:
    """One published checkpoint."""

    name: str
    model: str  # registered model name
    dataset: str
    num_classes: int
    num_segments: int
    url: str
    file_name: str  # name in the cache folder
    source: str  # "official" (liu-zhy/temporal-adaptive-module) or "mmaction2"
    citation: str  # file the URL and accuracy were taken from
    top1: float | None
    top5: float | None
    protocol: EvalProtocol | None
    sha256: str | None = None  # full digest; None: not published
    sha256_prefix: str | None = None  # MMAction2's 8-hex-digit file-name suffix
    direct_download: bool = True  # False: a web page/folder, download by hand
    class_names_resource: str | None = None  # "kinetics400" or None (from the dataset's own label file)

    def load_class_names(self) -> list[str] | None:
        if self.class_names_resource == "kinetics400":
            return kinetics400_class_names()
        return None


_OFFICIAL_README = "liu-zhy/temporal-adaptive-module README.md (Model ZOO table)"
_MM_TANET_README = "open-mmlab/mmaction2 configs/recognition/tanet/README.md (1.x)"
_MM_TSM_META = "open-mmlab/mmaction2 configs/recognition/tsm/metafile.yml (0.x)"
_MM = "https://download.openmmlab.com/mmaction"


def _official(name, dataset, classes, frames, folder, top1, top5, protocol, resource=None) -> PretrainedWeights:
    return PretrainedWeights(
        name=name, model="tanet_r50", dataset=dataset, num_classes=classes, num_segments=frames,
        url=f"https://drive.google.com/drive/folders/{folder}?usp=sharing", file_name=f"{name}.pth.tar",
        source="official", citation=_OFFICIAL_README, top1=top1, top5=top5, protocol=protocol,
        direct_download=False, class_names_resource=resource,
    )


def _mmaction(name, model, dataset, classes, frames, path, top1, top5, protocol, citation, resource=None):
    file_name = path.rsplit("/", 1)[-1]
    prefix = file_name.rsplit("-", 1)[-1].removesuffix(".pth")
    return PretrainedWeights(
        name=name, model=model, dataset=dataset, num_classes=classes, num_segments=frames,
        url=f"{_MM}/{path}", file_name=file_name, source="mmaction2", citation=citation, top1=top1, top5=top5,
        protocol=protocol, sha256_prefix=prefix, class_names_resource=resource,
    )


# Official TAM repo, README Model ZOO: "Frames * Crops * Clips"; K400 and SSv2 at 256x256 full
# resolution (test_models.py --full_res: 3 crops of 256), SSv1 at 224 centre crop; K400 tested with
# --sample dense-10, SSv1 with uniform-1, SSv2 with uniform-2 (scripts/test_tam_*.sh). uniform-2 is the
# official two-clip set (ops/dataset.py _get_test_indices), tanet's `accurate`, not TSM's twice_sample.
_K400_DENSE_10x3 = EvalProtocol("dense", 10, 3, 256, 256, tanet_protocol="dense")
_SSV1_1x1 = EvalProtocol("uniform", 1, 1, 256, 224, tanet_protocol="efficient")
_SSV2_2x3 = EvalProtocol("uniform", 2, 3, 256, 256, tanet_protocol="accurate")

WEIGHTS: dict[str, PretrainedWeights] = {
    entry.name: entry
    for entry in [
        _official("tam_k400_8f", "kinetics400", 400, 8, "1sFfmP3yrfc7IzRshEELOby7-aEoymIFL", 76.1, 92.3,
                  _K400_DENSE_10x3, "kinetics400"),
        _official("tam_k400_16f", "kinetics400", 400, 16, "1nCefjTSPm0Q67e2oSHAhYQgofcim9jOe", 76.9, 92.9,
                  _K400_DENSE_10x3, "kinetics400"),
        _official("tam_sthv1_8f", "something-something-v1", 174, 8, "1XX5CNDvckaV7d9EH24SXmQsMT7s_a3Zm",
                  46.5, 75.8, _SSV1_1x1),
        _official("tam_sthv1_16f", "something-something-v1", 174, 16, "1wPbID2bVETG91SxpDURI_GeAOn8sqCda",
                  47.6, 77.7, _SSV1_1x1),
        _official("tam_sthv2_8f", "something-something-v2", 174, 8, "1dNxo2F4yiREfq4FdFAaSzPZbtYz8qrq7",
                  62.7, 88.0, _SSV2_2x3),
        _official("tam_sthv2_16f", "something-something-v2", 174, 16, "1dr5MEJKVEL_xVFrrHDzPOmdV_xZHX2Py",
                  64.6, 89.5, _SSV2_2x3),
        # MMAction2 1.x README: "testing protocol" column (8 clips x 3 crop for K400, 16 clips x 3 crop for
        # SSv1), resolution 224x224; SSv1 accuracies are "efficient/accurate", the accurate one is recorded.
        _mmaction(
            "mmaction2_tanet_k400_8f", "tanet_r50", "kinetics400", 400, 8,
            "v1.0/recognition/tanet/tanet_imagenet-pretrained-r50_8xb8-dense-1x1x8-100e_kinetics400-rgb/"
            "tanet_imagenet-pretrained-r50_8xb8-dense-1x1x8-100e_kinetics400-rgb_20220919-a34346bc.pth",
            76.25, 92.41, EvalProtocol("dense", 8, 3, 256, 224), _MM_TANET_README, "kinetics400",
        ),
        _mmaction(
            "mmaction2_tanet_sthv1_8f", "tanet_r50", "something-something-v1", 174, 8,
            "v1.0/recognition/tanet/tanet_imagenet-pretrained-r50_8xb8-1x1x8-50e_sthv1-rgb/"
            "tanet_imagenet-pretrained-r50_8xb8-1x1x8-50e_sthv1-rgb_20220906-de50e4ef.pth",
            49.71, 77.43, EvalProtocol("uniform", 16, 3, 256, 224), _MM_TANET_README,
        ),
        _mmaction(
            "mmaction2_tanet_sthv1_16f", "tanet_r50", "something-something-v1", 174, 16,
            "v1.0/recognition/tanet/tanet_imagenet-pretrained-r50_8xb6-1x1x16-50e_sthv1-rgb/"
            "tanet_imagenet-pretrained-r50_8xb6-1x1x16-50e_sthv1-rgb_20220919-cc37e9b8.pth",
            50.95, 79.28, EvalProtocol("uniform", 16, 3, 256, 224), _MM_TANET_README,
        ),
        # TSM baselines, MMAction2 0.x metafile (short-side 320 frames); the test views are in each
        # entry's MMAction2 config, not in the metafile, so no protocol is recorded here.
        _mmaction(
            "mmaction2_tsm_k400_8f", "tsm_r50", "kinetics400", 400, 8,
            "recognition/tsm/tsm_r50_1x1x8_50e_kinetics400_rgb/tsm_r50_1x1x8_50e_kinetics400_rgb_20210701-68d582b4.pth",
            70.73, 89.81, None, _MM_TSM_META, "kinetics400",
        ),
        _mmaction(
            "mmaction2_tsm_k400_16f", "tsm_r50", "kinetics400", 400, 16,
            "recognition/tsm/tsm_r50_1x1x16_50e_kinetics400_rgb/tsm_r50_1x1x16_50e_kinetics400_rgb_20210701-7c0c5d54.pth",
            72.80, 90.75, None, _MM_TSM_META, "kinetics400",
        ),
    ]
}


def list_weights(model: str | None = None) -> list[str]:
    """Registered weight names (for one model, or all)."""
    return sorted(name for name, entry in WEIGHTS.items() if model is None or entry.model == model)


def get_weights(weights: str | PretrainedWeights) -> PretrainedWeights:
    if isinstance(weights, PretrainedWeights):
        return weights
    if weights not in WEIGHTS:
        raise KeyError(f"unknown weights {weights!r}; known: {', '.join(list_weights())}")
    return WEIGHTS[weights]


def identify_weights(digest: str) -> PretrainedWeights | None:
    """The published checkpoint whose checksum (full, or MMAction2's file-name prefix) the file with this
    SHA-256 ``digest`` matches; None for a file the registry does not know."""
    digest = digest.lower()
    for entry in WEIGHTS.values():
        if (entry.sha256 and digest == entry.sha256.lower()) or (
                entry.sha256_prefix and digest.startswith(entry.sha256_prefix.lower())):
            return entry
    return None


def weights_cache_dir() -> Path:
    """``$TANET_HOME/weights`` (default ``~/.cache/tanet/weights``)."""
    return tanet_home("weights")


def sha256_file(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def verify_weights_file(path: str | os.PathLike, entry: PretrainedWeights, *, allow_unverified: bool = False) -> str:
    """Check a file against the entry's SHA-256 (or the published prefix). Returns the file's digest.

    With no published checksum the file is refused unless ``allow_unverified`` (loading is
    ``weights_only`` either way; the check is about getting the intended weights).
    """
    digest = sha256_file(path)
    if entry.sha256 is not None:
        if digest != entry.sha256.lower():
            raise WeightsVerificationError(f"{path}: SHA-256 {digest} does not match {entry.name!r} ({entry.sha256})")
    elif entry.sha256_prefix is not None:
        if not digest.startswith(entry.sha256_prefix.lower()):
            raise WeightsVerificationError(
                f"{path}: SHA-256 {digest} does not start with {entry.sha256_prefix}, the prefix published "
                f"in the file name of {entry.name!r}; corrupt or a different file"
            )
    elif not allow_unverified:
        raise WeightsVerificationError(
            f"{path}: no checksum is known for {entry.name!r} ({entry.source} release publishes none), so "
            "the file cannot be verified; pass allow_unverified=True (CLI --allow-unverified) to use it anyway"
        )
    return digest


def resolve_weights_file(
    weights: str | PretrainedWeights,
    path: str | os.PathLike | None = None,
    *,
    download: bool = True,
    allow_unverified: bool = False,
    progress: bool = True,
) -> Path:
    """A verified local file for ``weights``: ``path`` if given, else the cache, else a download.

    Downloads (:func:`tanet.utils.download.download_file`) go to ``$TANET_HOME/weights``, resume a
    partial file, show a progress bar (``progress``) and take the cached name only once their SHA-256
    matches. ``download=False`` never touches the network. A file that cannot be fetched (no network,
    a web folder rather than a file) is an error that names the URL and where to put the file by hand.
    """
    entry = get_weights(weights)
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"weights file not found: {path}")
        verify_weights_file(path, entry, allow_unverified=allow_unverified)
        return path
    cached = weights_cache_dir() / entry.file_name
    if cached.is_file():
        try:
            verify_weights_file(cached, entry, allow_unverified=allow_unverified)
        except WeightsVerificationError as error:
            if not (entry.direct_download and (entry.sha256 or entry.sha256_prefix)):
                raise
            raise WeightsVerificationError(f"{error}; delete it and it is downloaded again") from None
        return cached
    by_hand = (f"weights {entry.name!r} are not on this machine: put the file at {cached}, or pass its path as "
               "weights_path=FILE (CLI --weights-file FILE)")
    if not entry.direct_download:
        raise FileNotFoundError(f"{by_hand}; it is published as a web folder, not a direct file: download it by "
                                f"hand from {entry.url}")
    checksum = entry.sha256 or entry.sha256_prefix
    if checksum is None:
        raise FileNotFoundError(f"{by_hand}; no checksum is published for it, so tanet does not download it: "
                                f"get it from {entry.url}")
    if not download:
        raise FileNotFoundError(f"{by_hand}; get it from {entry.url} (or pass download=True)")
    try:
        return download_file(entry.url, cached, sha256=checksum, progress=progress)
    except ChecksumMismatchError as error:
        raise WeightsVerificationError(f"weights {entry.name!r}: {error}") from None
    except DownloadError as error:
        raise DownloadError(f"weights {entry.name!r}: {error}; or pass a copy as weights_path=FILE "
                            "(CLI --weights-file FILE)") from None
