"""The video dataset, its collate function, and the builders the engine uses."""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, replace
from typing import Callable, Iterable, Literal, Optional, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from .decode import FrameFolderBackend, VideoBackend, VideoDecodeError, get_backend
from .lists import VideoRecord, read_class_names, read_list
from .sampling import DenseSampler, SamplingRule, SegmentSampler, ShortPolicy
from .labels import FlipLabels, flip_labels
from .transforms import default_scale_size, test_transform, train_transform

__all__ = [
    "VideoDataset",
    "build_train_dataset",
    "build_test_dataset",
    "TestProtocol",
    "TEST_PROTOCOLS",
    "resolve_flip",
]

Sampler = Callable[[int, np.random.Generator], list]

# Per process: each unreadable file is reported once (a loader worker is a process).
_REPORTED_BAD_FILES: set[str] = set()


class VideoDataset(Dataset):
    """Clips from a list file. ``ds[i] -> (clip, label)``.

    ``clip`` is float32 (C, T, H, W) for one view, or (V, C, T, H, W) for multi-view
    testing, V = clips x crops (clip-major). Randomness comes from
    ``numpy.random.default_rng([seed, epoch, i])``, so a sample is reproducible whatever the
    worker that loads it; call :meth:`set_epoch` each epoch (before iterating a DataLoader
    whose workers are not persistent) to draw new crops and frames.

    A video that cannot be read returns ``None`` after a warning naming the file (once per
    process), unless ``strict=True``, in which case :class:`VideoDecodeError` propagates.
    :func:`~tanet.data.loader.collate_videos` drops the ``None`` s and counts them.

    When a training transform flips a clip, its label goes through ``label_map_on_flip``
    (see :func:`~tanet.data.flip_label_map`); a clip whose label is in ``never_flip`` (a class
    that names a direction but has no mirrored partner) is never flipped.
    """

    def __init__(
        self,
        list_file: str | os.PathLike | Sequence[VideoRecord],
        root: str | os.PathLike | None = None,
        *,
        sampler: Sampler,
        transform: Callable,
        backend: str | VideoBackend | None = None,
        strict: bool = False,
        label_map_on_flip: dict[int, int] | None = None,
        never_flip: Iterable[int] = (),
        seed: int = 0,
        num_classes: int | None = None,
        check_paths: bool = True,
        frames: bool | None = None,
        frame_template: str = "img_{:05d}.jpg",
        frame_start_index: int = 1,
    ):
        if isinstance(list_file, (str, os.PathLike)):
            self.records = read_list(list_file, root, num_classes=num_classes, check_paths=check_paths, frames=frames)
            self.list_file: str | None = os.fspath(list_file)
        else:
            self.records = list(list_file)
            self.list_file = None
        self.sampler = sampler
        self.transform = transform
        # Resolved once here so that every worker uses the same library.
        if isinstance(backend, FrameFolderBackend):
            self.frame_backend = backend
        else:
            self.frame_backend = FrameFolderBackend(frame_template, frame_start_index)
        if backend == "frames":  # every entry is a frame folder, even `path label` lines
            self.video_backend: VideoBackend = self.frame_backend
        else:
            self.video_backend = get_backend(backend)
        self.strict = strict
        self.label_map_on_flip = dict(label_map_on_flip or {})
        self.never_flip = frozenset(int(label) for label in never_flip)
        self.seed = int(seed)
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.records)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def rng(self, index: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.epoch, int(index)])

    def backend_for(self, record: VideoRecord) -> VideoBackend:
        return self.frame_backend if record.is_frames else self.video_backend

    def sample_indices(self, index: int, num_frames: int) -> list[list[int]]:
        """The frame indices (one list per clip) that ``self[index]`` reads this epoch."""
        return self.sampler(num_frames, self.rng(index))

    def load(self, index: int) -> tuple[torch.Tensor, int]:
        """Like ``self[index]`` but always raises :class:`VideoDecodeError` on a bad file."""
        record = self.records[index]
        rng = self.rng(index)
        with self.backend_for(record).open(record.path, num_frames=record.num_frames) as reader:
            clip_indices = self.sampler(reader.num_frames, rng)
            flat = [i for clip in clip_indices for i in clip]
            frames = reader.read(flat)
        T = len(clip_indices[0])
        clips = [frames[k * T : (k + 1) * T] for k in range(len(clip_indices))]
        label = record.label
        if hasattr(self.transform, "sample_params"):  # random train transform
            box = self.transform.sample_params(frames.shape[1], frames.shape[2], rng)
            if box.flip and label in self.never_flip:
                box = replace(box, flip=False)
            views = [self.transform.apply(c, box) for c in clips]
            if box.flip:
                label = self.label_map_on_flip.get(label, label)
        else:
            views = [self.transform(c) for c in clips]
        # Each view is (C, T, H, W) or (K, C, T, H, W) for multi-crop.
        stacked = [v.unsqueeze(0) if v.ndim == 4 else v for v in views]
        out = torch.cat(stacked) if len(stacked) > 1 else stacked[0]
        if out.shape[0] == 1:
            out = out[0]
        return out, label

    def __getitem__(self, index: int):
        try:
            return self.load(index)
        except VideoDecodeError as err:
            if self.strict:
                raise
            if err.path not in _REPORTED_BAD_FILES:
                _REPORTED_BAD_FILES.add(err.path)
                warnings.warn(f"skipping unreadable video {err}", RuntimeWarning, stacklevel=2)
            return None


def _class_names(class_names: Sequence[str] | str | os.PathLike | None) -> list[str] | None:
    if class_names is None:
        return None
    if isinstance(class_names, (str, os.PathLike)):
        return read_class_names(class_names)
    return list(class_names)


def resolve_flip(flip: bool | str | FlipLabels, class_names: Sequence[str] | None, *,
                 warn: bool = True) -> Optional[FlipLabels]:
    """What a training flip does to the labels; ``None`` when clips are not flipped.

    ``flip`` is ``"auto"`` (flip half of the clips when the class names are known -- a mirrored clip of
    a class with a mirrored partner takes the partner's label, a class that names a direction without a
    partner is never flipped -- and never flip when they are unknown, since a mirrored ``left_to_right``
    clip could not be relabelled), ``True`` (flip even with unknown names: mirrored clips keep their
    labels), ``False`` (never), ``"swap"`` (``"auto"`` that requires the names) or a :class:`FlipLabels`
    rule decided elsewhere. With ``warn`` one warning names every direction-sensitive class, or says
    that flipping with unknown names keeps the labels of mirrored clips.
    """
    if isinstance(flip, FlipLabels):
        return flip
    if flip is False:
        return None
    if flip not in (True, "auto", "swap"):
        raise ValueError(f"flip must be 'auto', True, False or 'swap', got {flip!r}")
    if class_names is None:
        if flip == "swap":
            raise ValueError("flip='swap' needs class_names to find the left/right classes")
        if flip == "auto":
            return None
        if warn:
            warnings.warn(
                "horizontal flip with unknown class names (flip=True): a mirrored clip keeps its label, which is "
                "wrong for any class that names a direction (left/right, clockwise); give the class names so "
                "that mirrored pairs swap labels, or flip='auto' (no flip without names)",
                UserWarning, stacklevel=3)
        return FlipLabels((), {}, ())
    rule = flip_labels(class_names)
    message = rule.describe()
    if warn and message:
        warnings.warn(message, UserWarning, stacklevel=3)
    return rule


def build_train_dataset(
    list_file: str | os.PathLike,
    root: str | os.PathLike | None,
    *,
    num_segments: int,
    sampling: Literal["segment", "dense"] = "segment",
    rule: SamplingRule = "official",
    size: int = 224,
    scale_size: int | None = None,
    flip: bool | Literal["auto", "swap"] | FlipLabels = "auto",
    class_names: Sequence[str] | str | os.PathLike | None = None,
    backend: str | VideoBackend | None = None,
    strict: bool = False,
    frames: bool | None = None,
    frame_template: str = "img_{:05d}.jpg",
    frame_start_index: int = 1,
    dense_interval: int = 8,
    short_policy: ShortPolicy = "loop",
    num_classes: int | None = None,
    seed: int = 0,
    crop_scales: Sequence[float] = (1, 0.875, 0.75, 0.66),
) -> VideoDataset:
    """Training dataset: TSN segment (or dense) sampling + multi-scale crop.

    ``rule``: ``"official"`` (the TAM code's sampling) or ``"spread"`` (see :mod:`tanet.data.sampling`).
    ``scale_size``: the short side the crops are taken from; ``None`` derives it from ``size`` as
    the official code does (``size * 256 // 224``). ``crop_scales``: crop sides as fractions of it
    (TSN's multi-scale crop).

    ``flip``: ``"auto"`` flips half of the clips when ``class_names`` are given -- a flipped clip of a
    class with a mirrored partner (``left_to_right`` / ``right_to_left``) takes the partner's label, a
    class that names a direction without a partner is never flipped (one warning names them all) -- and
    never without them; ``True`` flips even without names (mirrored clips keep their labels, with a
    warning); ``False`` never flips; ``"swap"`` is ``"auto"`` that requires ``class_names`` (see
    :func:`resolve_flip`). ``class_names`` (names or a file) also sets ``num_classes`` for label checking.
    """
    names = _class_names(class_names)
    if names is not None and num_classes is None:
        num_classes = len(names)
    flip_rule = resolve_flip(flip, names)
    if sampling == "segment":
        sampler = SegmentSampler(num_segments, mode="train", rule=rule, short_policy=short_policy)
    elif sampling == "dense":
        sampler = DenseSampler(num_segments, interval=dense_interval, mode="train", rule=rule, short_policy=short_policy)
    else:
        raise ValueError(f"sampling must be 'segment' or 'dense', got {sampling!r}")
    scale_size = default_scale_size(size) if scale_size is None else scale_size
    transform = train_transform(size, crop_scales, flip=flip_rule is not None, scale_size=scale_size)
    return VideoDataset(
        list_file, root, sampler=sampler, transform=transform, backend=backend, strict=strict,
        label_map_on_flip=flip_rule.mapping if flip_rule else None,
        never_flip=flip_rule.unpaired if flip_rule else (), seed=seed, num_classes=num_classes, frames=frames,
        frame_template=frame_template, frame_start_index=frame_start_index,
    )


@dataclass(frozen=True)
class TestProtocol:
    """The test views of a video: ``num_clips`` clips x ``num_crops`` crops. ``full_res``: the crops
    are ``scale_size`` squares (TSM/TAM ``--full_res``), else ``size`` squares. ``twice_sample``: the
    two clips are TSM's segment centres + segment starts instead of the official ``uniform-2``."""

    num_clips: int
    num_crops: int
    full_res: bool
    twice_sample: bool = False
    __test__ = False  # not a pytest class


# The official TAM test scripts (liu-zhy/temporal-adaptive-module scripts/, test_models.py:158-172):
TEST_PROTOCOLS: dict[str, TestProtocol] = {
    # SSv1 (test_tam_something_rgb_8f.sh: --test_crops=1 --sample uniform-1): 1 clip x centre crop
    # `size` of the frame resized to short side `scale_size`.
    "efficient": TestProtocol(1, 1, False),
    # SSv2 (test_tam_somethingv2_rgb_8f.sh: --test_crops=3 --full_res --sample uniform-2): 2 clips x 3
    # crops of `scale_size`; with dense sampling 2 dense windows (dense-2).
    "accurate": TestProtocol(2, 3, True),
    # TSM's / MMAction2's two clips (segment centres + starts) x 3 full-resolution crops.
    "twice_sample": TestProtocol(2, 3, True, twice_sample=True),
    # Kinetics-400 (test_tam_kinetics_rgb_8f.sh: --test_crops=3 --full_res --sample dense-10).
    "dense": TestProtocol(10, 3, True),
}


def build_test_dataset(
    list_file: str | os.PathLike,
    root: str | os.PathLike | None,
    *,
    num_segments: int,
    sampling: Literal["segment", "dense"] = "segment",
    protocol: str = "efficient",
    rule: SamplingRule = "official",
    validation: bool = False,
    size: int = 224,
    scale_size: int | None = None,
    num_clips: int | None = None,
    num_crops: int | None = None,
    backend: str | VideoBackend | None = None,
    strict: bool = False,
    frames: bool | None = None,
    frame_template: str = "img_{:05d}.jpg",
    frame_start_index: int = 1,
    dense_interval: int = 8,
    short_policy: ShortPolicy = "loop",
    num_classes: int | None = None,
    class_names: Sequence[str] | str | os.PathLike | None = None,
) -> VideoDataset:
    """Test (or, with ``validation=True``, per-epoch validation) dataset for a protocol of ``TEST_PROTOCOLS``.

    * ``efficient``: 1 clip x 1 centre crop of ``size`` (official SSv1 test);
    * ``accurate``: 2 clips (official ``uniform-2``, or 2 dense windows) x 3 crops of ``scale_size``
      (official SSv2 test);
    * ``twice_sample``: 2 clips (segment centres + starts, TSM / MMAction2) x 3 crops of ``scale_size``;
    * ``dense``: 10 dense clips x 3 crops of ``scale_size`` (official Kinetics test; always dense).

    ``scale_size=None`` derives it from ``size`` (``size * 256 // 224``, as the official code).
    ``validation`` uses the official validation indices for one clip (``_get_val_indices``: a
    segment-sampled video of at most T frames gives its first frame T times). ``num_clips`` /
    ``num_crops`` override the protocol's counts. Multi-view samples are (V, C, T, H, W) with
    V = clips x crops (clip-major).
    """
    if protocol not in TEST_PROTOCOLS:
        raise ValueError(f"protocol must be one of {', '.join(TEST_PROTOCOLS)}, got {protocol!r}")
    views = TEST_PROTOCOLS[protocol]
    clips = num_clips or views.num_clips
    crops = num_crops or views.num_crops
    if protocol == "dense":
        sampling = "dense"
    mode = "val" if validation and clips == 1 else "test"
    if sampling == "segment":
        sampler = SegmentSampler(num_segments, mode=mode, rule=rule, num_clips=clips,
                                 twice_sample=views.twice_sample, short_policy=short_policy)
    elif sampling == "dense":
        if views.twice_sample:
            raise ValueError("the twice_sample protocol needs segment sampling")
        sampler = DenseSampler(num_segments, interval=dense_interval, num_clips=clips, mode=mode, rule=rule,
                               short_policy=short_policy)
    else:
        raise ValueError(f"sampling must be 'segment' or 'dense', got {sampling!r}")
    names = _class_names(class_names)
    if names is not None and num_classes is None:
        num_classes = len(names)
    scale_size = default_scale_size(size) if scale_size is None else scale_size
    transform = test_transform(scale_size if views.full_res else size, scale_size, crops)
    return VideoDataset(
        list_file, root, sampler=sampler, transform=transform, backend=backend, strict=strict,
        num_classes=num_classes, frames=frames, frame_template=frame_template,
        frame_start_index=frame_start_index,
    )
