"""The video dataset, its collate function, and the builders the engine uses."""
from __future__ import annotations

import os
import warnings
from typing import Callable, Literal, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from .decode import FrameFolderBackend, VideoBackend, VideoDecodeError, get_backend
from .lists import VideoRecord, read_class_names, read_list
from .sampling import DenseSampler, SegmentSampler, ShortPolicy
from .labels import flip_label_map
from .transforms import test_transform, train_transform

__all__ = [
    "VideoDataset",
    "build_train_dataset",
    "build_test_dataset",
    "TEST_PROTOCOLS",
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
    (see :func:`~tanet.data.flip_label_map`).
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


def build_train_dataset(
    list_file: str | os.PathLike,
    root: str | os.PathLike | None,
    *,
    num_segments: int,
    sampling: Literal["segment", "dense"] = "segment",
    size: int = 224,
    scale_size: int = 256,
    flip: bool | Literal["swap"] = True,
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

    ``crop_scales``: crop sides as fractions of the short side (TSN's multi-scale crop).

    ``flip``: ``True`` flips half of the clips, ``False`` never flips, ``"swap"`` flips and
    exchanges left/right classes (needs ``class_names``; see :func:`flip_label_map`).
    ``class_names`` (names or a file) also sets ``num_classes`` for label checking.
    """
    names = _class_names(class_names)
    if names is not None and num_classes is None:
        num_classes = len(names)
    label_map = None
    if flip == "swap":
        if names is None:
            raise ValueError("flip='swap' needs class_names to find the left/right classes")
        label_map = flip_label_map(names)
    elif flip is True and names is not None and flip_label_map(names):
        warnings.warn(
            "flipping clips of a dataset with left/right classes without swapping their labels; "
            "use flip='swap' (or flip=False)",
            UserWarning,
            stacklevel=2,
        )
    elif flip not in (True, False):
        raise ValueError(f"flip must be True, False or 'swap', got {flip!r}")
    if sampling == "segment":
        sampler = SegmentSampler(num_segments, train=True, short_policy=short_policy)
    elif sampling == "dense":
        sampler = DenseSampler(num_segments, interval=dense_interval, train=True, short_policy=short_policy)
    else:
        raise ValueError(f"sampling must be 'segment' or 'dense', got {sampling!r}")
    transform = train_transform(size, crop_scales, flip=bool(flip), scale_size=scale_size)
    return VideoDataset(
        list_file, root, sampler=sampler, transform=transform, backend=backend, strict=strict,
        label_map_on_flip=label_map, seed=seed, num_classes=num_classes, frames=frames,
        frame_template=frame_template, frame_start_index=frame_start_index,
    )


# protocol -> (clips, crops, crop at scale_size?)
TEST_PROTOCOLS: dict[str, tuple[int, int, bool]] = {
    "efficient": (1, 1, False),  # 1 clip x centre crop at `size`
    "accurate": (2, 3, True),  # twice_sample (or 2 dense clips) x 3 full-resolution crops
    "dense": (10, 3, True),  # 10 dense clips x 3 full-resolution crops
}


def build_test_dataset(
    list_file: str | os.PathLike,
    root: str | os.PathLike | None,
    *,
    num_segments: int,
    sampling: Literal["segment", "dense"] = "segment",
    protocol: Literal["efficient", "accurate", "dense"] = "efficient",
    size: int = 224,
    scale_size: int = 256,
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
    """Test dataset for a protocol (see ``TEST_PROTOCOLS``).

    * ``efficient``: 1 clip x 1 centre crop of ``size``;
    * ``accurate``: 2 clips (segment sampling: centres + starts, ``twice_sample``) x 3 crops
      of ``scale_size`` (full resolution, as TSM/TAM test);
    * ``dense``: 10 dense clips x 3 crops of ``scale_size`` (always dense sampling).

    ``num_clips`` / ``num_crops`` override the protocol's counts. Multi-view samples are
    (V, C, T, H, W) with V = clips x crops.
    """
    if protocol not in TEST_PROTOCOLS:
        raise ValueError(f"protocol must be one of {sorted(TEST_PROTOCOLS)}, got {protocol!r}")
    clips, crops, full_res = TEST_PROTOCOLS[protocol]
    clips = num_clips or clips
    crops = num_crops or crops
    if protocol == "dense":
        sampling = "dense"
    if sampling == "segment":
        if clips not in (1, 2):
            raise ValueError("segment sampling gives 1 clip (centres) or 2 (twice_sample)")
        sampler = SegmentSampler(num_segments, train=False, twice_sample=clips == 2, short_policy=short_policy)
    elif sampling == "dense":
        sampler = DenseSampler(num_segments, interval=dense_interval, num_clips=clips, train=False, short_policy=short_policy)
    else:
        raise ValueError(f"sampling must be 'segment' or 'dense', got {sampling!r}")
    names = _class_names(class_names)
    if names is not None and num_classes is None:
        num_classes = len(names)
    transform = test_transform(scale_size if full_res else size, scale_size, crops)
    return VideoDataset(
        list_file, root, sampler=sampler, transform=transform, backend=backend, strict=strict,
        num_classes=num_classes, frames=frames, frame_template=frame_template,
        frame_start_index=frame_start_index,
    )
