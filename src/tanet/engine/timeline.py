"""What happens when in a long video: top-k per sliding window, drawn as an overlay video or a PNG.

A window of ``window`` seconds starts every ``stride`` seconds; the last one ends at the video's end
(so every frame is covered). Each window is one clip: ``num_segments`` frames at the centres of
equal segments of the window (TSN test sampling inside the window), through the test transform of
the checkpoint's recipe. Windows go through the model a few at a time, so a video of any length
needs the memory of a few windows only.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence, Union

import numpy as np
import torch
from torch import nn

from tanet.data.decode import VideoReader
from tanet.engine.evaluation import predict_views

__all__ = ["WindowPrediction", "window_bounds", "clip_views", "predict_timeline", "write_overlay_video",
           "save_timeline_png"]

PathLike = Union[str, os.PathLike]


@dataclass
class WindowPrediction:
    """The top-k classes of one window ``[start, end)`` seconds (frames ``[first_frame, end_frame)``)."""

    start: float
    end: float
    first_frame: int
    end_frame: int
    labels: list
    names: list
    probabilities: list

    def to_dict(self) -> dict:
        return {"start": round(self.start, 3), "end": round(self.end, 3), "frames": [self.first_frame, self.end_frame],
                "top": [{"label": l, "name": n, "probability": p}
                        for l, n, p in zip(self.labels, self.names, self.probabilities)]}


def window_bounds(num_frames: int, window_frames: int, stride_frames: int) -> list[tuple[int, int]]:
    """``[first, end)`` frame ranges: one every ``stride_frames`` while a whole window fits, and a
    last one ending at the last frame when the strides left frames uncovered."""
    window_frames = max(1, min(window_frames, num_frames))
    stride_frames = max(1, stride_frames)
    starts = list(range(0, num_frames - window_frames + 1, stride_frames))
    if starts[-1] + window_frames < num_frames:
        starts.append(num_frames - window_frames)
    return [(start, start + window_frames) for start in starts]


def clip_views(reader: VideoReader, clip_indices: Sequence[Sequence[int]], transform: Callable) -> torch.Tensor:
    """The views ``(V, C, T, H, W)`` of one video: each clip's frames through the test transform
    (which may crop several views per clip), clip-major, as the test dataset stacks them."""
    flat = [int(i) for clip in clip_indices for i in clip]
    frames = reader.read(flat)
    length = len(clip_indices[0])
    views = [transform(frames[k * length:(k + 1) * length]) for k in range(len(clip_indices))]
    return torch.cat([view.unsqueeze(0) if view.ndim == 4 else view for view in views])


@torch.no_grad()
def predict_timeline(model: nn.Module, reader: VideoReader, transform: Callable, sampler: Callable, *,
                     window: float, stride: float, topk: int, names: Sequence[str], average: str = "score",
                     view_chunk: int = 8, device: Optional[torch.device] = None, amp: str = "none",
                     windows_per_step: int = 16) -> list[WindowPrediction]:
    """Top-k per window of ``window`` seconds every ``stride`` seconds (needs ``reader.fps``)."""
    fps = reader.fps
    bounds = window_bounds(reader.num_frames, round(window * fps), round(stride * fps))
    timeline = []
    for first in range(0, len(bounds), windows_per_step):
        chunk = bounds[first:first + windows_per_step]
        clips = [[[start + i for i in clip] for clip in sampler(end - start)] for start, end in chunk]
        batch = torch.stack([clip_views(reader, indices, transform) for indices in clips])
        scores = predict_views(model, batch, average=average, view_chunk=view_chunk, device=device, amp=amp)
        probabilities = scores if average == "prob" else scores.softmax(dim=1)
        top = probabilities.topk(topk, dim=1)
        for (start, end), values, labels in zip(chunk, top.values.tolist(), top.indices.tolist()):
            timeline.append(WindowPrediction(start / fps, end / fps, start, end, labels, [names[i] for i in labels],
                                             values))
    return timeline


def _window_of_each_frame(timeline: Sequence[WindowPrediction]) -> Callable[[int], WindowPrediction]:
    """frame -> the window whose centre is nearest (of overlapping windows, the one seeing it most
    centrally)."""
    centres = np.array([(w.first_frame + w.end_frame) / 2 for w in timeline])
    boundaries = (centres[1:] + centres[:-1]) / 2  # frames past boundary k belong to window k + 1
    return lambda frame: timeline[int(np.searchsorted(boundaries, frame, side="right"))]


def _font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: one bitmap size
        return ImageFont.load_default()


def _draw_label(image: np.ndarray, text: str) -> np.ndarray:
    from PIL import Image, ImageDraw

    picture = Image.fromarray(image)
    draw = ImageDraw.Draw(picture)
    band = max(8, min(picture.height // 12, int(1.7 * picture.width / max(len(text), 1))))
    draw.rectangle([0, 0, picture.width, band + 4], fill=(0, 0, 0))
    draw.text((3, 2), text, fill=(255, 255, 255), font=_font(band))
    return np.asarray(picture)


def _even_size(height: int, width: int, short_side: int) -> tuple[int, int]:
    scale = min(1.0, short_side / min(height, width))
    return max(2, int(height * scale) // 2 * 2), max(2, int(width * scale) // 2 * 2)


def write_overlay_video(path: PathLike, video: PathLike, timeline: Sequence[WindowPrediction], fps: float, *,
                        short_side: int = 360) -> Path:
    """Re-encode ``video`` (short side at most ``short_side``) with each frame's window label drawn on it.

    Frames are decoded and written one at a time (any length fits in memory)."""
    import av
    from PIL import Image

    from tanet.data.encode import encode_video, resolve_codec

    window_of = _window_of_each_frame(timeline)

    def frames():
        with av.open(os.fspath(video)) as container:
            for index, frame in enumerate(container.decode(video=0)):
                image = frame.to_ndarray(format="rgb24")
                height, width = _even_size(*image.shape[:2], short_side)
                if (height, width) != image.shape[:2]:
                    image = np.asarray(Image.fromarray(image).resize((width, height), Image.BILINEAR))
                window = window_of(index)
                yield _draw_label(image, f"{window.names[0]} {100 * window.probabilities[0]:.0f}%")

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    encode_video(path, frames(), fps, codec=resolve_codec("auto"))
    return path


def save_timeline_png(path: PathLike, reader: VideoReader, timeline: Sequence[WindowPrediction], *,
                      title: str = "", max_thumbnails: int = 12) -> Path:
    """A strip: thumbnails of evenly chosen windows with their top-1 label, over a band coloured by
    every window's top-1 class (legend: class names) and the top-1 probability over time."""
    from matplotlib.figure import Figure

    from tanet.utils.io import atomic_write

    shown = sorted({round(i) for i in np.linspace(0, len(timeline) - 1, min(max_thumbnails, len(timeline)))})
    middles = [(timeline[i].first_frame + timeline[i].end_frame - 1) // 2 for i in shown]
    thumbnails = reader.read(middles).numpy()
    columns = len(shown)
    figure = Figure(figsize=(max(6.0, 1.6 * columns), 4.2), layout="constrained")
    grid = figure.add_gridspec(2, columns, height_ratios=[1.2, 1])
    for column, (index, image) in enumerate(zip(shown, thumbnails)):
        axis = figure.add_subplot(grid[0, column])
        axis.imshow(image)
        axis.set_axis_off()
        window = timeline[index]
        axis.set_title(f"{window.start:.1f}-{window.end:.1f} s\n{window.names[0]}\n"
                       f"{100 * window.probabilities[0]:.0f}%", fontsize=7)
    band = figure.add_subplot(grid[1, :])
    classes = list(dict.fromkeys(window.names[0] for window in timeline))
    colours = {name: f"C{i % 10}" for i, name in enumerate(classes)}
    centres = [(w.start + w.end) / 2 for w in timeline]
    # each moment is coloured by the window whose centre is nearest (windows overlap)
    edges = [timeline[0].start] + [(a + b) / 2 for a, b in zip(centres, centres[1:])] + [timeline[-1].end]
    for window, left, right in zip(timeline, edges, edges[1:]):
        band.axvspan(left, right, ymin=0, ymax=0.25, color=colours[window.names[0]], alpha=0.6, lw=0)
    band.plot(centres, [w.probabilities[0] for w in timeline], color="black", lw=1, marker=".")
    band.set_ylim(0, 1.05)
    band.set_xlim(timeline[0].start, timeline[-1].end)
    band.set_xlabel("time (s)")
    band.set_ylabel("top-1 probability")
    for name in classes:
        band.plot([], [], color=colours[name], lw=6, alpha=0.6, label=name)
    band.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, title="top-1 class", title_fontsize=7)
    if title:
        figure.suptitle(title, fontsize=9)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, "wb") as handle:
        figure.savefig(handle, format="png", dpi=100)
    return path
