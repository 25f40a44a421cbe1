"""Top-k class predictions for videos from a trained checkpoint (``tanet predict``).

Inputs are video files, frame folders, folders of videos (searched recursively), list files and
glob patterns (:func:`collect_videos`). An unreadable video is reported (a warning naming it) and
skipped, the others are still predicted, unless ``strict=True``. Long videos also get a timeline:
top-k per sliding window (:mod:`tanet.engine.timeline`).

    from tanet.engine.predict import predict_videos
    for p in predict_videos(["clips/", "long.mp4"], "runs/x/best.pt", timeline="auto"):
        print(p.video, p.names[0], p.probabilities[0])
"""
from __future__ import annotations

import csv
import glob
import io
import json
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence, Union

from torch import nn

from tanet.data.decode import FrameFolderBackend, VideoDecodeError, VideoReader, open_video
from tanet.data.sampling import SegmentSampler
from tanet.engine import distributed as dist_utils
from tanet.engine.builders import EvalSetup, build_eval_dataset, load_for_eval
from tanet.engine.evaluation import predict_views
from tanet.engine.resolve import resolve_for_eval, stored_recipe
from tanet.engine.testing import choose_protocol
from tanet.engine.timeline import (WindowPrediction, clip_views, predict_timeline, save_timeline_png,
                                   write_overlay_video)
from tanet.errors import TanetError, UsageError
from tanet.models.inference import prepare_for_inference
from tanet.utils.io import atomic_write_text

__all__ = ["VideoInput", "Prediction", "collect_videos", "predict_videos", "format_predictions",
           "write_predictions", "VIDEO_SUFFIXES"]

PathLike = Union[str, os.PathLike]

VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mkv", ".webm", ".mov", ".m4v", ".mpg", ".mpeg", ".flv", ".wmv",
                            ".3gp", ".ogv", ".ts"})
LIST_SUFFIXES = frozenset({".txt", ".lst", ".list"})
_FRAME_NAME = re.compile(r"^(?P<prefix>[A-Za-z_]*?)(?P<digits>\d+)\.(?P<ext>jpg|jpeg|png)$", re.IGNORECASE)
_GLOB_CHARS = re.compile(r"[*?\[]")


@dataclass(frozen=True)
class VideoInput:
    """One video to predict: a file, or a folder of numbered frames (``frame_template``)."""

    path: str
    frame_template: Optional[str] = None  # e.g. "img_{:05d}.jpg"; None: a video file
    frame_start: int = 1


def _frame_template(folder: Path) -> Optional[tuple[str, int]]:
    """``(template, first index)`` when ``folder`` holds numbered images (``img_00001.jpg``,
    ``00001.jpg``...) and no video files; None otherwise."""
    numbered, videos = [], False
    for entry in folder.iterdir():
        if entry.is_file():
            match = _FRAME_NAME.match(entry.name)
            if match:
                numbered.append(match)
            elif entry.suffix.lower() in VIDEO_SUFFIXES:
                videos = True
    if not numbered or videos:
        return None
    first = min(numbered, key=lambda m: int(m.group("digits")))
    digits = first.group("digits")
    width = f"0{len(digits)}d" if digits.startswith("0") or len(digits) > 1 else "d"
    return f"{first.group('prefix')}{{:{width}}}.{first.group('ext')}", int(digits)


def _videos_in_folder(folder: Path) -> list[VideoInput]:
    """A folder of numbered frames is one video; otherwise its video files and, recursively, the
    videos and frame folders of its subfolders, in name order."""
    template = _frame_template(folder)
    if template is not None:
        return [VideoInput(str(folder), *template)]
    found = []
    for entry in sorted(folder.iterdir()):
        if entry.is_dir():
            found += _videos_in_folder(entry)
        elif entry.is_file() and entry.suffix.lower() in VIDEO_SUFFIXES:
            found.append(VideoInput(str(entry)))
    return found


def _list_entries(list_file: Path, root: Optional[PathLike]) -> list[str]:
    """Paths from a list file: ``path``, ``path label`` or ``path num_frames label`` lines (as the
    training lists), relative to ``root`` when given."""
    paths = []
    for raw in list_file.read_text(encoding="utf-8").splitlines():
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        fields = text.split()
        while len(fields) > 1 and fields[-1].lstrip("-").isdigit() and not _exists(" ".join(fields), root):
            fields.pop()  # trailing label / frame count
        relative = " ".join(fields)
        paths.append(os.path.join(root, relative) if root else relative)
    return paths


def _exists(relative: str, root: Optional[PathLike]) -> bool:
    return os.path.exists(os.path.join(root, relative) if root else relative)


def collect_videos(inputs: Sequence[PathLike], *, root: Optional[PathLike] = None) -> list[VideoInput]:
    """Expand files, folders, list files (``.txt``, ``.lst``, ``.list``) and glob patterns into videos.

    A folder is taken by its content: numbered images (``img_00001.jpg``, ``00001.jpg``) make it one
    frame-folder video; otherwise its video files are collected, and its subfolders searched the
    same way. A path that does not exist stays in the list (it is reported as unreadable). A glob
    that matches nothing, or a folder with no video in it, is a :class:`~tanet.errors.UsageError`.
    """
    videos: list[VideoInput] = []
    for item in inputs:
        text = os.fspath(item)
        path = Path(text)
        if not path.exists() and _GLOB_CHARS.search(text):
            matches = sorted(glob.glob(text, recursive=True))
            if not matches:
                raise UsageError(f"{text}: no file matches this pattern")
            videos += collect_videos(matches, root=root)
        elif path.is_dir():
            found = _videos_in_folder(path)
            if not found:
                raise UsageError(f"{path}: the folder holds no video files ({', '.join(sorted(VIDEO_SUFFIXES))}) "
                                 "and no numbered frames")
            videos += found
        elif path.is_file() and path.suffix.lower() in LIST_SUFFIXES:
            videos += collect_videos(_list_entries(path, root), root=None)
        else:
            videos.append(VideoInput(text))
    return videos


@dataclass
class Prediction:
    """The ``k`` most likely classes of one video, most likely first (empty when unreadable)."""

    video: str
    labels: list  # class indices
    names: list  # class names
    probabilities: list  # softmax probabilities (of the view-averaged scores)
    status: str = "ok"  # "ok" or "unreadable"
    error: Optional[str] = None  # why it could not be read
    num_frames: Optional[int] = None
    fps: Optional[float] = None
    duration: Optional[float] = None  # seconds
    timeline: Optional[list[WindowPrediction]] = None  # sliding windows, for long videos
    drawings: list = field(default_factory=list)  # the timeline's PNG strip / overlay video files
    frame_template: Optional[str] = field(default=None, repr=False)

    def to_dict(self) -> dict:
        out = {"video": self.video, "status": self.status}
        if self.error is not None:
            out["error"] = self.error
        out.update(num_frames=self.num_frames, fps=self.fps, duration=self.duration, top=[
            {"label": l, "name": n, "probability": p}
            for l, n, p in zip(self.labels, self.names, self.probabilities)])
        if self.timeline is not None:
            out["timeline"] = [window.to_dict() for window in self.timeline]
        if self.drawings:
            out["drawings"] = [str(path) for path in self.drawings]
        return out


def _open(video: VideoInput, backend) -> VideoReader:
    if video.frame_template is not None:
        return FrameFolderBackend(video.frame_template, video.frame_start).open(video.path)
    if not os.path.exists(video.path):
        raise VideoDecodeError(video.path, "no such file")
    return open_video(video.path, backend)


def _wants_timeline(mode: str, reader: VideoReader, long_video: float) -> bool:
    if mode == "off" or reader.fps is None:
        return False
    return mode == "on" or (reader.duration or 0.0) > long_video


def _setup_for_model(model: nn.Module, *, protocol: Optional[str], class_names: Optional[Sequence[str]],
                     inference: Optional[str], device: Optional[str], architecture: dict) -> EvalSetup:
    """The evaluation set-up of a model in memory: its preprocessing from ``model.record`` (the file it
    was loaded from: recipe, class names, published protocol), without reading any file again. The model
    stays where it is and as it is (``inference="eager"``); another inference path runs on a copy."""
    given = [f"{key}=" for key, value in architecture.items() if value is not None]
    if given or device not in (None, "auto"):
        raise UsageError(f"{', '.join(given + (['device='] if device not in (None, 'auto') else []))} apply to a "
                         "checkpoint file; a model in memory has its architecture and stays on its device")
    record = getattr(model, "record", None)
    protocol, _ = choose_protocol(record, None, protocol)
    names = (class_names if class_names is not None else
             record.class_names if record is not None and record.class_names else getattr(model, "class_names", None))
    if names is not None and len(names) != model.num_classes:
        raise UsageError(f"{len(names)} class names for a model of {model.num_classes} classes")
    recipe, recorded = stored_recipe(record.recipe if record is not None else None)
    resolved = resolve_for_eval(recipe, num_segments=model.num_segments, num_classes=model.num_classes,
                                class_names=names, protocol=protocol, recorded=recorded)
    if inference not in (None, "eager"):
        model = prepare_for_inference(model, inference)  # a converted copy: the caller's model is unchanged
    return EvalSetup(model, resolved, None)


def predict_videos(videos: Sequence[Union[PathLike, VideoInput]], checkpoint: Union[PathLike, nn.Module], *,
                   class_names: Optional[Sequence[str]] = None, topk: int = 5,
                   protocol: Optional[str] = None, average: str = "score", view_chunk: int = 8,
                   device: Optional[str] = None, amp: str = "none", strict: bool = False,
                   root: Optional[PathLike] = None, timeline: str = "auto", window: float = 2.0,
                   stride: Optional[float] = None, long_video: float = 30.0, strip_dir: Optional[PathLike] = None,
                   overlay_dir: Optional[PathLike] = None, inference: Optional[str] = None, progress: bool = False,
                   model: Optional[str] = None, num_segments: Optional[int] = None,
                   tam_position: Optional[str] = None, overwrite: bool = False) -> list[Prediction]:
    """Classify videos with the model stored in ``checkpoint`` (any known layout), or with a model in
    memory (``checkpoint`` an ``nn.Module``: no file is read again; a model tanet loaded carries its
    file's record, ``model.record``, for the preprocessing; it runs as it is, on its device).

    ``videos``: files, frame folders, folders of videos, list files or globs (see
    :func:`collect_videos`; ``root`` for relative list entries). Each video gets one prediction from
    the ``protocol``'s views (default: the checkpoint's, as ``tanet test`` chooses it --
    :func:`tanet.engine.testing.choose_protocol`; ``efficient``: 1 clip x centre crop), averaged as raw
    ``score`` s (official TAM) or ``prob`` abilities (MMAction2). ``timeline`` (``"on"``: every video file,
    ``"auto"``: those longer than ``long_video`` seconds, ``"off"``: none) adds windows of ``window``
    seconds every ``stride`` seconds (default ``window / 2``), each with its own top-k. Each timeline is also
    drawn as ``<strip_dir>/<video name>.timeline.png`` (thumbnails with their labels over a band of
    the top-1 class per window) and ``<overlay_dir>/<video name>.timeline.mp4`` (the video with each
    window's label drawn on its frames) when those folders are given.

    An unreadable video gives a ``Prediction`` with ``status="unreadable"`` and a warning naming it;
    with ``strict`` its :class:`~tanet.data.VideoDecodeError` is raised. Class names: ``class_names``,
    else those in the checkpoint, else ``class_<i>``. ``inference``: the model's inference path (see
    :func:`tanet.engine.builders.load_for_eval`; default ``fused`` for a file, ``eager`` -- the model as
    it is -- for a model in memory). ``progress``: a progress bar over the videos.
    ``model``, ``num_segments``, ``tam_position`` settle what a checkpoint that does not record them leaves
    open (a bare state dict). A drawing whose file exists gets a numbered name unless ``overwrite``.
    """
    if timeline not in ("auto", "on", "off"):
        raise UsageError(f"timeline must be auto, on or off, got {timeline!r}")
    if window <= 0 or (stride is not None and stride <= 0):
        raise UsageError(f"window and stride must be positive seconds, got {window} and {stride}")
    items: list[VideoInput] = []
    for video in videos:
        items += [video] if isinstance(video, VideoInput) else collect_videos([video], root=root)
    architecture = {"model": model, "num_segments": num_segments, "tam_position": tam_position}
    if isinstance(checkpoint, nn.Module):
        setup = _setup_for_model(checkpoint, protocol=protocol, class_names=class_names, inference=inference,
                                 device=device, architecture=architecture)
    else:
        setup = load_for_eval(checkpoint, device=dist_utils.select_device(device or "auto", dist_utils.DistInfo()),
                              inference=inference or "fused", protocol=choose_protocol(checkpoint, None, protocol)[0],
                              class_names=class_names, num_segments=num_segments, name=model,
                              tam_position=tam_position)  # `model` names the one asked for
    model = setup.model
    torch_device = next(model.parameters()).device
    names = setup.class_names or [f"class_{i}" for i in range(model.num_classes)]
    views = build_eval_dataset(setup, [], check_labels=False)  # sampler + transform
    k = min(topk, model.num_classes)
    window_sampler = SegmentSampler(model.num_segments, mode="test")  # the centres of T segments of a window
    options = dict(average=average, view_chunk=view_chunk, device=torch_device, amp=amp)
    predictions = []
    drawn_names: set[str] = set()
    if progress:
        from tqdm.auto import tqdm

        items = tqdm(items, desc="predict", unit="video", leave=False, dynamic_ncols=True)
    was_training = model.training
    model.eval()  # a model in memory may be training; it is given back as it was
    try:
        for video in items:
            try:
                with _open(video, views.video_backend) as reader:
                    clip = clip_views(reader, views.sampler(reader.num_frames), views.transform)
                    scores = predict_views(model, clip.unsqueeze(0), **options)[0]
                    windows = None
                    if _wants_timeline(timeline, reader, long_video):
                        windows = predict_timeline(model, reader, views.transform, window_sampler, window=window,
                                                   stride=stride or window / 2, topk=k, names=names, **options)
                    elif timeline == "on" and reader.fps is None:
                        warnings.warn(f"{video.path}: a frame folder records no frame rate; no timeline",
                                      stacklevel=2)
                    fps, duration, num_frames = reader.fps, reader.duration, reader.num_frames
                    drawings = (_draw(video.path, reader, windows, strip_dir, overlay_dir, drawn_names, overwrite)
                                if windows else [])
            except VideoDecodeError as error:
                if strict:
                    raise
                warnings.warn(f"skipping unreadable video {error}", RuntimeWarning, stacklevel=2)
                predictions.append(Prediction(video.path, [], [], [], status="unreadable", error=error.reason))
                continue
            if not bool(scores.isfinite().all()):  # a diverged or broken model: its ranking means nothing
                raise TanetError(f"{video.path}: the model's scores are NaN/inf"
                                 + (" (try without --amp)" if amp != "none" else ""))
            probabilities = scores if average == "prob" else scores.softmax(dim=0)
            top = probabilities.topk(k)
            labels = top.indices.tolist()
            predictions.append(Prediction(video.path, labels, [names[i] for i in labels],
                                          [float(p) for p in top.values], num_frames=num_frames, fps=fps,
                                          duration=duration, timeline=windows, drawings=drawings,
                                          frame_template=video.frame_template))
    finally:
        model.train(was_training)
    return predictions


def _draw(video: str, reader: VideoReader, windows: list, strip_dir: Optional[PathLike],
          overlay_dir: Optional[PathLike], taken: set, overwrite: bool = False) -> list[Path]:
    """The timeline's PNG strip and overlay video, named after the video (numbered when two videos
    share a name, or, unless ``overwrite``, when a file of that name is there)."""
    def exists(name: str) -> bool:
        files = [Path(folder) / f"{name}.timeline.{suffix}"
                 for folder, suffix in ((strip_dir, "png"), (overlay_dir, "mp4")) if folder is not None]
        return not overwrite and any(file.exists() for file in files)

    stem, number = Path(video).stem, 1
    while stem in taken or exists(stem):
        number += 1
        stem = f"{Path(video).stem}-{number}"
    taken.add(stem)
    drawn = []
    if strip_dir is not None:
        drawn.append(save_timeline_png(Path(strip_dir) / f"{stem}.timeline.png", reader, windows, title=video))
    if overlay_dir is not None:
        drawn.append(write_overlay_video(Path(overlay_dir) / f"{stem}.timeline.mp4", video, windows, reader.fps))
    return drawn


def _clock(seconds: float) -> str:
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}:{rest:04.1f}"


def format_predictions(predictions: Sequence[Prediction]) -> str:
    """A readable listing: top-k per video, and the top-1 class per window of each timeline."""
    lines = []
    for prediction in predictions:
        if prediction.status != "ok":
            lines.append(f"{prediction.video}\n  unreadable: {prediction.error}")
            continue
        lines.append(prediction.video)
        for rank, (name, prob) in enumerate(zip(prediction.names, prediction.probabilities), 1):
            lines.append(f"  {rank}. {name:<30} {100 * prob:6.2f}%")
        if prediction.timeline:
            lines.append(f"  timeline ({len(prediction.timeline)} windows of "
                         f"{prediction.timeline[0].end - prediction.timeline[0].start:.1f} s):")
            for window in prediction.timeline:
                lines.append(f"    {_clock(window.start)}-{_clock(window.end)}  {window.names[0]:<30} "
                             f"{100 * window.probabilities[0]:6.2f}%")
    return "\n".join(lines)


def write_predictions(path: PathLike, predictions: Sequence[Prediction]) -> Path:
    """``.json``: every video with its top-k and timeline; ``.csv``: one row per video and rank, and
    per window and rank (``start``/``end`` in seconds, empty for the whole video)."""
    path = Path(path)
    if path.suffix == ".json":
        text = json.dumps([p.to_dict() for p in predictions], indent=1) + "\n"
    elif path.suffix == ".csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["video", "status", "start", "end", "rank", "label", "name", "probability"])
        for p in predictions:
            if p.status != "ok":
                writer.writerow([p.video, p.status, "", "", "", "", "", ""])
                continue
            for rank, (label, name, prob) in enumerate(zip(p.labels, p.names, p.probabilities), 1):
                writer.writerow([p.video, p.status, "", "", rank, label, name, f"{prob:.6f}"])
            for window in p.timeline or []:
                for rank, (label, name, prob) in enumerate(zip(window.labels, window.names, window.probabilities), 1):
                    writer.writerow([p.video, p.status, f"{window.start:.3f}", f"{window.end:.3f}", rank, label,
                                     name, f"{prob:.6f}"])
        text = out.getvalue()
    else:
        raise UsageError(f"--out {path}: write .json or .csv (got {path.suffix or 'no suffix'})")
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, text)
    return path
