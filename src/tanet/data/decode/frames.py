"""The ``"frames"`` backend: a folder of extracted frames (JPEG or PNG) named by a template."""
from __future__ import annotations

import os
import re
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
        numbers, strays = _frame_files(path, template)
        if strays:
            others = f"{len(strays)} frame files like {min(strays)} that the template {template!r} does not match"
            if numbers:
                raise VideoDecodeError(path, f"frames named two ways: {len(numbers)} like "
                                             f"{template.format(min(numbers))} and {others}; extract the frames again")
            raise VideoDecodeError(path, f"no frames named like {template.format(start_index)!r} but {others}; "
                                         "set the frame template")
        if start_index in (0, 1):
            # Numbered from 0 or from 1, whichever the folder holds: frame 0 is never dropped.
            start_index = self.start_index = 0 if 0 in numbers else 1
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


_IMAGE_SUFFIX = re.compile(r"\.(jpe?g|png|bmp|webp|tiff?)$", re.IGNORECASE)


def _frame_files(folder: str, template: str) -> tuple[set[int], list[str]]:
    """The frame numbers of the files in ``folder`` named exactly ``template.format(number)``, and the
    names of other frame-like files (the template's prefix, a number, an image suffix) that it misses:
    another extension or another zero-padding."""
    prefix, suffix = template.split("{", 1)[0], template.rsplit("}", 1)[-1]
    numbered = re.compile(re.escape(prefix) + r"(\d+)(.*)$")
    numbers, strays = set(), []
    for name in os.listdir(folder):
        match = numbered.match(name)
        if match is None:
            continue
        if match.group(2) == suffix and template.format(int(match.group(1))) == name:
            numbers.add(int(match.group(1)))
        elif _IMAGE_SUFFIX.fullmatch(match.group(2)):
            strays.append(name)
    return numbers, strays


@dataclass(frozen=True)
class FrameFolderBackend(VideoBackend):
    """A folder of extracted frames; frame ``i`` is ``template.format(start_index + i)``.

    TSN/TSM/TAM lists use ``img_{:05d}.jpg`` numbered from 1; Something-Something V1
    ships ``{:05d}.jpg`` numbered from 1. With ``start_index`` 0 or 1 a folder is read from 0 when
    it holds frame 0 and from 1 otherwise, so that no frame is dropped. Frame-like files the template
    does not match (``.png`` among ``.jpg``, another zero-padding) are an error, not a shorter video.
    """

    template: str = "img_{:05d}.jpg"
    start_index: int = 1
    name: str = field(default="frames", init=False)

    def open(self, path, num_frames=None) -> VideoReader:
        return _FrameFolderReader(os.fspath(path), self.template, self.start_index, num_frames)
