"""The ``"frames"`` backend: a folder of extracted frames (JPEG or PNG) named by a template."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch

from .base import VideoBackend, VideoDecodeError, VideoReader, check_indices

__all__ = ["FrameFolderBackend"]


class _FrameFolderReader(VideoReader):
    def __init__(self, path: str, template: str, start_index: int, num_frames: int | None):
        self.path = path
        self.template = template
        self.start_index = start_index
        if not os.path.isdir(path):
            raise VideoDecodeError(path, "frame folder does not exist")
        # The folder is listed even when the list file gives the count: a frame missing in the middle
        # (an interrupted extraction, a deleted file) is an error here, for every consumer, instead of a
        # silently shorter video or a failure only when a sampler happens to pick that frame.
        numbers = _frame_numbers(path, template)
        count = 0
        while start_index + count in numbers:
            count += 1
        later = [n for n in numbers if n > start_index + count]
        if later:
            raise VideoDecodeError(path, f"frame {template.format(start_index + count)} is missing although "
                                         f"{len(later)} later frames (up to {template.format(max(later))}) exist; "
                                         "extract the frames again")
        if count == 0:
            raise VideoDecodeError(path, f"no frames named like {template.format(start_index)!r}")
        if num_frames is None:
            num_frames = count
        elif num_frames > count:
            raise VideoDecodeError(path, f"the list says {num_frames} frames but the folder holds {count} "
                                         f"({template.format(start_index)} .. {template.format(start_index + count - 1)})")
        if num_frames <= 0:
            raise VideoDecodeError(path, f"no frames named like {template.format(start_index)!r}")
        self.num_frames = int(num_frames)

    def frame_path(self, index: int) -> str:
        return os.path.join(self.path, self.template.format(self.start_index + index))

    def read(self, indices: Sequence[int]) -> torch.Tensor:
        from PIL import Image, UnidentifiedImageError

        indices = check_indices(self.path, indices, self.num_frames)
        cache: dict[int, np.ndarray] = {}
        for index in indices:
            if index in cache:
                continue
            file = self.frame_path(index)
            try:
                with Image.open(file) as image:
                    cache[index] = np.asarray(image.convert("RGB"))
            except FileNotFoundError:
                raise VideoDecodeError(file, "frame file is missing") from None
            except (UnidentifiedImageError, OSError, SyntaxError) as err:
                raise VideoDecodeError(file, f"cannot decode image: {err}") from None
        shapes = {a.shape for a in cache.values()}
        if len(shapes) > 1:
            raise VideoDecodeError(self.path, f"frames have different sizes: {sorted(shapes)}")
        if not indices:
            return torch.empty((0, 0, 0, 3), dtype=torch.uint8)
        return torch.from_numpy(np.stack([cache[i] for i in indices]))


def _frame_numbers(folder: str, template: str) -> set[int]:
    """The frame numbers of the files in ``folder`` named exactly ``template.format(number)``."""
    prefix, suffix = template.split("{", 1)[0], template.rsplit("}", 1)[-1]
    numbers = set()
    for name in os.listdir(folder):
        middle = name[len(prefix):len(name) - len(suffix)] if name.startswith(prefix) and name.endswith(suffix) else ""
        if middle.isdigit() and template.format(int(middle)) == name:
            numbers.add(int(middle))
    return numbers


@dataclass(frozen=True)
class FrameFolderBackend(VideoBackend):
    """A folder of extracted frames; frame ``i`` is ``template.format(start_index + i)``.

    TSN/TSM/TAM lists use ``img_{:05d}.jpg`` numbered from 1; Something-Something V1
    ships ``{:05d}.jpg`` numbered from 1.
    """

    template: str = "img_{:05d}.jpg"
    start_index: int = 1
    name: str = field(default="frames", init=False)

    def open(self, path, num_frames=None) -> VideoReader:
        return _FrameFolderReader(os.fspath(path), self.template, self.start_index, num_frames)
