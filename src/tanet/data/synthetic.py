"""Built-in, procedurally generated video data sets that run on a laptop CPU.

Two kinds, each rendered with numpy into real mp4 files (PyAV, h264 / yuv420p) with the
generic list files (``relative/path.mp4 label`` and ``classes.txt``), so they go through the
same decoding and sampling as user data:

``motion`` ("Something-Something-like")
    The class is defined only by what happens over time: left→right vs right→left, up vs
    down, approaching vs receding, clockwise vs counterclockwise, appearing vs disappearing,
    moving-then-stopping vs holding-then-moving. Classes come in pairs, and the second class
    of a pair is *exactly* the time reversal of the first (same distribution of objects,
    positions, speeds, backgrounds, jitter and noise, played backwards). So the bag of frames
    of a clip says nothing about which class of its pair it belongs to: a model that averages
    per-frame evidence (TSN) is at chance within each pair, one that models order is not.

``appearance`` ("Kinetics-like")
    The class is defined by what is there: the object's shape and colour (each shape occurs
    with two colours and each colour with several shapes, so both must be seen). Motion,
    background, texture and size are drawn from random streams that do not depend on the
    class.

Camera jitter, distractor objects and pixel noise keep both from being trivial. Everything of
one clip is drawn from ``numpy.random.SeedSequence((seed, kind, split, label, index))``, so a
set is reproducible from its spec and videos can be rendered in any order or in parallel.

Horizontal flip: mirroring a clip swaps "left to right" with "right to left" **and**
"clockwise" with "counterclockwise"; up/down, closer/away, appearing/disappearing and
moving/stopping are unchanged. :meth:`SyntheticDataset.flip_label_map` gives that map; flip
augmentation without it corrupts the labels of the motion set.
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import math
import os
import re
import shutil
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np

from tanet.data.encode import encode_video, resolve_codec

__all__ = [
    "APPEARANCE_CLASSES",
    "DEFAULT_PRESET",
    "GENERATOR_VERSION",
    "MOTION_CLASSES",
    "PRESETS",
    "QUICK_PRESET",
    "RenderedClip",
    "SyntheticDataset",
    "SyntheticPreset",
    "SyntheticSpec",
    "class_names",
    "dataset_dir",
    "default_cache_dir",
    "encode_video",
    "generate",
    "horizontal_flip_label_map",
    "render_clip",
    "video_seed",
]

# Bump when rendering or file layout changes: cached sets of another version are regenerated.
GENERATOR_VERSION = 1

KINDS = ("motion", "appearance")
_KIND_CODE = {"motion": 0, "appearance": 1}
_SPLIT_CODE = {"train": 0, "val": 1}

# (name, temporal pattern, played backwards). The second class of each pair is the time
# reversal of the first; pairs are adjacent so that taking the first n classes keeps them.
MOTION_CLASSES: tuple[tuple[str, str, bool], ...] = (
    ("moving something from left to right", "horizontal", False),
    ("moving something from right to left", "horizontal", True),
    ("moving something up", "vertical", False),
    ("moving something down", "vertical", True),
    ("moving something closer to the camera", "scale", False),
    ("moving something away from the camera", "scale", True),
    ("turning something clockwise", "rotation", False),
    ("turning something counterclockwise", "rotation", True),
    ("something appearing", "fade", False),
    ("something disappearing", "fade", True),
    ("moving something and then stopping", "move_stop", False),
    ("holding something still and then moving it", "move_stop", True),
)

SHAPES = ("disc", "square", "triangle", "cross", "ring", "bar")
# Hue in degrees of each named colour.
COLOURS = {"red": 0.0, "yellow": 55.0, "green": 125.0, "blue": 225.0}

# (name, shape, colour). Every shape appears with two colours, every colour with three
# shapes, so neither colour nor shape alone tells the class.
APPEARANCE_CLASSES: tuple[tuple[str, str, str], ...] = (
    ("red disc", "disc", "red"),
    ("blue disc", "disc", "blue"),
    ("green square", "square", "green"),
    ("yellow square", "square", "yellow"),
    ("red triangle", "triangle", "red"),
    ("blue triangle", "triangle", "blue"),
    ("yellow cross", "cross", "yellow"),
    ("green cross", "cross", "green"),
    ("blue ring", "ring", "blue"),
    ("red ring", "ring", "red"),
    ("green bar", "bar", "green"),
    ("yellow bar", "bar", "yellow"),
)

# Motions an appearance-set clip may have (drawn independently of its class). Fading is left
# out so the object is always visible.
_APPEARANCE_MOTIONS = ("horizontal", "vertical", "scale", "rotation", "move_stop", "drift")


# ----------------------------------------------------------------------------------------
# Specification
# ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SyntheticSpec:
    """Everything that determines a generated set (the cache key is a hash of it).

    Args:
        kind: ``"motion"`` or ``"appearance"``.
        num_classes: first ``num_classes`` classes of the kind's catalogue (None = all 12).
        train_per_class / val_per_class: clips per class in ``train.txt`` / ``val.txt``.
        frames: frames per clip.
        size: frame height and width in pixels (even, for yuv420p).
        seed: base seed; each clip is drawn from ``SeedSequence((seed, kind, split, label, i))``.
        fps: frame rate written to the files.
        object_size: mean object diameter as a fraction of the frame side.
        max_distractors: each clip has 0..max_distractors smaller, randomly moving objects.
        jitter: standard deviation in pixels of the per-frame camera shake.
        noise: standard deviation of the Gaussian pixel noise (0-255 scale).
        codec: ``"auto"`` (h264, falling back to mpeg4 when the PyAV build lacks it),
            ``"h264"`` or ``"mpeg4"``.
        crf: h264 constant rate factor (lower = closer to the rendered frames).
    """

    kind: str = "motion"
    num_classes: Optional[int] = None
    train_per_class: int = 48
    val_per_class: int = 12
    frames: int = 16
    size: int = 64
    seed: int = 0
    fps: int = 8
    object_size: float = 0.3
    max_distractors: int = 2
    jitter: float = 1.0
    noise: float = 5.0
    codec: str = "auto"
    crf: int = 18

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"SyntheticSpec.kind must be one of {KINDS}, got {self.kind!r}")
        catalogue = len(_catalogue(self.kind))
        if self.num_classes is not None and not 1 <= self.num_classes <= catalogue:
            raise ValueError(
                f"SyntheticSpec.num_classes must be in 1..{catalogue} for kind "
                f"{self.kind!r}, got {self.num_classes}"
            )
        if self.size < 16 or self.size % 2:
            raise ValueError(f"SyntheticSpec.size must be an even number >= 16, got {self.size}")
        if self.frames < 4:
            raise ValueError(f"SyntheticSpec.frames must be >= 4, got {self.frames}")
        if self.train_per_class < 0 or self.val_per_class < 0:
            raise ValueError("SyntheticSpec.train_per_class / val_per_class must be >= 0")
        if self.train_per_class + self.val_per_class == 0:
            raise ValueError("SyntheticSpec needs at least one clip per class")
        if self.seed < 0:
            raise ValueError(f"SyntheticSpec.seed must be >= 0, got {self.seed}")
        if self.fps <= 0:
            raise ValueError(f"SyntheticSpec.fps must be > 0, got {self.fps}")
        if not 0.1 <= self.object_size <= 0.5:
            raise ValueError(f"SyntheticSpec.object_size must be in [0.1, 0.5], got {self.object_size}")
        if self.max_distractors < 0 or self.jitter < 0 or self.noise < 0:
            raise ValueError("SyntheticSpec.max_distractors, jitter and noise must be >= 0")
        if self.codec not in ("auto", "h264", "mpeg4"):
            raise ValueError(f"SyntheticSpec.codec must be 'auto', 'h264' or 'mpeg4', got {self.codec!r}")

    @property
    def class_names(self) -> list[str]:
        return class_names(self.kind, self.num_classes)

    @property
    def num_labels(self) -> int:
        return len(self.class_names)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def fingerprint(self) -> str:
        """Short hash of the spec and :data:`GENERATOR_VERSION` (names the cache folder)."""
        payload = json.dumps({"spec": self.to_dict(), "version": GENERATOR_VERSION}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class SyntheticPreset:
    """A named size of the built-in sets; :meth:`spec` turns it into a :class:`SyntheticSpec`."""

    name: str
    num_classes: Optional[int]
    train_per_class: int
    val_per_class: int
    frames: int
    size: int

    def spec(self, kind: str, **overrides) -> SyntheticSpec:
        values = dict(
            kind=kind,
            num_classes=self.num_classes,
            train_per_class=self.train_per_class,
            val_per_class=self.val_per_class,
            frames=self.frames,
            size=self.size,
        )
        values.update({k: v for k, v in overrides.items() if v is not None})
        return SyntheticSpec(**values)


# Sized for training tiny models on a couple of CPU cores.
DEFAULT_PRESET = SyntheticPreset("default", None, train_per_class=48, val_per_class=12, frames=16, size=64)
# Three class pairs (left/right, up/down, closer/away) or the first six appearance classes.
QUICK_PRESET = SyntheticPreset("quick", 6, train_per_class=24, val_per_class=8, frames=12, size=48)
PRESETS = {p.name: p for p in (DEFAULT_PRESET, QUICK_PRESET)}


def _catalogue(kind: str) -> tuple:
    return MOTION_CLASSES if kind == "motion" else APPEARANCE_CLASSES


def class_names(kind: str, num_classes: Optional[int] = None) -> list[str]:
    """Human-readable class names of a kind, in label order."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    entries = _catalogue(kind)
    return [entry[0] for entry in entries[: num_classes or len(entries)]]


_MIRROR_WORDS = {"left": "right", "right": "left", "clockwise": "counterclockwise", "counterclockwise": "clockwise"}


def horizontal_flip_label_map(names: Sequence[str]) -> dict[int, int]:
    """Label of each class after a horizontal flip (left<->right, clockwise<->counterclockwise).

    Classes whose mirrored name is not among ``names`` map to themselves.
    """
    index = {name: i for i, name in enumerate(names)}
    mapping = {}
    for i, name in enumerate(names):
        mirrored = re.sub(
            r"\b(left|right|clockwise|counterclockwise)\b", lambda m: _MIRROR_WORDS[m.group(1)], name
        )
        mapping[i] = index.get(mirrored, i)
    return mapping


# ----------------------------------------------------------------------------------------
# Rendering
# ----------------------------------------------------------------------------------------


@dataclass
class RenderedClip:
    """One rendered clip and the ground truth it was drawn from (debug / test API).

    ``frames``: uint8 (T, H, W, 3), exactly what is encoded. ``background``: the same frames
    without the main object (distractors, jitter and noise included). ``object_coverage``:
    float (T, H, W) in [0, 1], how much of each pixel the main object covers (times its
    opacity). ``states``: per-frame arrays ``cx``, ``cy`` (un-jittered pixel coordinates),
    ``radius`` (pixels), ``angle`` (radians; increasing = clockwise on screen), ``alpha``;
    plus ``shape``, ``hue`` (degrees), ``motion`` and ``reversed``.
    """

    frames: np.ndarray
    background: np.ndarray
    object_coverage: np.ndarray
    states: dict = field(default_factory=dict)


def video_seed(spec: SyntheticSpec, split: str, label: int, index: int) -> tuple[int, ...]:
    """Entropy of clip ``index`` of class ``label`` in ``split`` (``"train"`` or ``"val"``)."""
    return (spec.seed, _KIND_CODE[spec.kind], _SPLIT_CODE[split], label, index)


def _hsv_to_rgb(hue_deg: float, saturation: float, value: float) -> np.ndarray:
    h = (hue_deg % 360.0) / 60.0
    c = value * saturation
    x = c * (1 - abs(h % 2 - 1))
    m = value - c
    sector = int(h) % 6
    r, g, b = [(c, x, 0), (x, c, 0), (0, c, x), (0, x, c), (x, 0, c), (c, 0, x)][sector]
    return np.array([r + m, g + m, b + m], dtype=np.float32) * 255.0


def _shape_distance(shape: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Signed distance (<= 0 inside), in object radii, of local coordinates to ``shape``."""
    if shape == "disc":
        return np.sqrt(u * u + v * v) - 1.0
    if shape == "ring":
        return np.abs(np.sqrt(u * u + v * v) - 0.7) - 0.3
    if shape == "square":
        return np.maximum(np.abs(u), np.abs(v)) - 0.82
    if shape == "bar":
        return np.maximum(np.abs(u) - 1.0, np.abs(v) - 0.42)
    if shape == "cross":
        au, av = np.abs(u), np.abs(v)
        return np.minimum(np.maximum(au - 1.0, av - 0.32), np.maximum(au - 0.32, av - 1.0))
    if shape == "triangle":
        # Equilateral, circumradius 1.15, pointing "up" in local coordinates.
        apothem = 1.15 * 0.5
        dist = None
        for k in range(3):
            a = -math.pi / 2 + k * 2 * math.pi / 3
            half_plane = u * math.cos(a) + v * math.sin(a) - apothem
            dist = half_plane if dist is None else np.maximum(dist, half_plane)
        return dist
    raise ValueError(f"unknown shape {shape!r}")


@dataclass
class _Sprite:
    """An object to draw: appearance plus per-frame state (length-T arrays)."""

    shape: str
    rgb: np.ndarray  # (3,) float 0-255
    texture: str
    texture_params: tuple
    texture_amplitude: float
    cx: np.ndarray
    cy: np.ndarray
    radius: np.ndarray
    angle: np.ndarray
    alpha: np.ndarray

    def draw(self, canvas: np.ndarray, offset: float) -> np.ndarray:
        """Composite onto ``canvas`` (T, H, W, 3) in place; returns the coverage (T, H, W)."""
        t, height, width, _ = canvas.shape
        coverage_full = np.zeros((t, height, width), np.float32)
        # Work only inside the box the object sweeps over the clip (every shape lies within
        # 1.2 radii of its centre, plus one pixel of edge blending); outside it covers nothing.
        extent = 1.2 * self.radius + 1.0
        x0 = max(int(np.floor(np.min(self.cx + offset - extent))), 0)
        x1 = min(int(np.ceil(np.max(self.cx + offset + extent))) + 1, width)
        y0 = max(int(np.floor(np.min(self.cy + offset - extent))), 0)
        y1 = min(int(np.ceil(np.max(self.cy + offset + extent))) + 1, height)
        if x0 >= x1 or y0 >= y1:
            return coverage_full
        ys = np.arange(y0, y1, dtype=np.float32)[None, :, None]
        xs = np.arange(x0, x1, dtype=np.float32)[None, None, :]
        dx = xs - (self.cx + offset).astype(np.float32)[:, None, None]
        dy = ys - (self.cy + offset).astype(np.float32)[:, None, None]
        cos = np.cos(self.angle).astype(np.float32)[:, None, None]
        sin = np.sin(self.angle).astype(np.float32)[:, None, None]
        radius = self.radius.astype(np.float32)[:, None, None]
        # Local coordinates: the object's own frame, rotated by `angle` (clockwise on screen).
        u = (cos * dx + sin * dy) / radius
        v = (-sin * dx + cos * dy) / radius
        distance = _shape_distance(self.shape, u, v)
        coverage = np.clip(0.5 - distance * radius, 0.0, 1.0) * self.alpha.astype(np.float32)[:, None, None]
        shade = 1.0 + self.texture_amplitude * _texture(self.texture, self.texture_params, u, v)
        colour = np.clip(self.rgb[None, None, None, :] * shade[..., None], 0, 255)
        cov = coverage[..., None]
        region = canvas[:, y0:y1, x0:x1]
        region *= 1.0 - cov
        region += colour * cov
        coverage_full[:, y0:y1, x0:x1] = coverage
        return coverage_full


def _texture(kind: str, params: tuple, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Pattern in [-1, 1] over local coordinates (it moves and turns with the object)."""
    if kind == "plain":
        return np.zeros_like(u)
    if kind == "stripes":
        frequency, direction, phase = params
        return np.sign(np.sin(2 * math.pi * frequency * (u * math.cos(direction) + v * math.sin(direction)) + phase))
    if kind == "checker":
        (frequency,) = params
        return np.sign(np.sin(math.pi * frequency * u + 0.5) * np.sin(math.pi * frequency * v + 0.5))
    if kind == "gradient":
        (direction,) = params
        return np.clip(u * math.cos(direction) + v * math.sin(direction), -1.0, 1.0)
    raise ValueError(f"unknown texture {kind!r}")


def _random_texture(rng: np.random.Generator, kinds: Sequence[str]) -> tuple[str, tuple]:
    kind = kinds[rng.integers(len(kinds))]
    if kind == "stripes":
        return kind, (rng.uniform(0.6, 1.2), rng.uniform(0, math.pi), rng.uniform(0, 2 * math.pi))
    if kind == "checker":
        return kind, (rng.uniform(1.2, 2.0),)
    if kind == "gradient":
        return kind, (rng.uniform(0, 2 * math.pi),)
    return kind, ()


def _background(rng: np.random.Generator, side: int) -> np.ndarray:
    """Low-saturation textured background (side, side, 3), so objects stand out by colour."""
    base = _hsv_to_rgb(rng.uniform(0, 360), rng.uniform(0.0, 0.25), rng.uniform(0.35, 0.75))
    ys, xs = np.mgrid[0:side, 0:side].astype(np.float32) / side
    pattern_kind = rng.integers(4)
    if pattern_kind == 0:  # smooth waves
        pattern = np.zeros((side, side), np.float32)
        for _ in range(3):
            fx, fy = rng.uniform(-3, 3, size=2)
            pattern += np.sin(2 * math.pi * (fx * xs + fy * ys) + rng.uniform(0, 2 * math.pi))
        pattern /= 3.0
    elif pattern_kind == 1:  # soft stripes
        direction, frequency = rng.uniform(0, math.pi), rng.uniform(2, 6)
        pattern = np.sin(2 * math.pi * frequency * (xs * math.cos(direction) + ys * math.sin(direction)))
    elif pattern_kind == 2:  # tiles
        frequency = rng.uniform(2, 5)
        pattern = np.sign(np.sin(math.pi * frequency * xs + 0.3) * np.sin(math.pi * frequency * ys + 0.3))
    else:  # gradient
        direction = rng.uniform(0, 2 * math.pi)
        pattern = 2 * ((xs - 0.5) * math.cos(direction) + (ys - 0.5) * math.sin(direction))
    contrast = rng.uniform(0.08, 0.25)
    return np.clip(base[None, None, :] * (1 + contrast * pattern[..., None]), 0, 255).astype(np.float32)


def _trajectory(
    motion: str, rng: np.random.Generator, frames: int, size: int, radius: float, mild: bool
) -> dict[str, np.ndarray]:
    """Per-frame ``cx, cy, radius, angle, alpha`` of the main object for one forward motion.

    ``mild`` narrows the size change (appearance set: the shape must stay recognisable).
    """
    t = np.linspace(0.0, 1.0, frames)
    ones = np.ones(frames)
    angle = rng.uniform(0, 2 * math.pi) * ones
    alpha = ones.copy()
    r = radius * ones

    def static_centre(r_max: float, drift: float = 0.04) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = r_max + 1, size - r_max - 1
        x0, y0 = rng.uniform(lo, hi, size=2)
        heading = rng.uniform(0, 2 * math.pi)
        amount = rng.uniform(0, drift * size)
        x = np.clip(x0 + amount * t * math.cos(heading), lo, hi)
        y = np.clip(y0 + amount * t * math.sin(heading), lo, hi)
        return x, y

    if motion in ("horizontal", "vertical"):
        # Forward = left to right / upwards; travel 35-55 % of the frame at constant speed.
        lo, hi = radius + 1, size - radius - 1
        travel = min(rng.uniform(0.35, 0.55) * size, hi - lo)
        start = rng.uniform(lo, hi - travel)
        along = start + travel * t
        across = np.clip(rng.uniform(lo, hi) + rng.uniform(-0.06, 0.06) * size * t, lo, hi)
        if motion == "horizontal":
            cx, cy = along, across
        else:
            cx, cy = across, (size - 1) - along  # y grows downwards: upwards = decreasing y
    elif motion == "scale":
        # Forward = approaching: the radius grows geometrically (perspective-like).
        small, large = (0.8, 1.25) if mild else (0.55, 1.45)
        small *= rng.uniform(0.9, 1.1)
        large *= rng.uniform(0.9, 1.1)
        r = radius * small * (large / small) ** t
        cx, cy = static_centre(radius * large)
    elif motion == "rotation":
        # Forward = clockwise on screen (angle increasing with y pointing down).
        turn = rng.uniform(0.4, 0.8) * math.pi
        angle = angle + turn * t
        cx, cy = static_centre(radius * 1.15)
    elif motion == "fade":
        # Forward = appearing: invisible, then fades in over 10-30 % of the clip.
        onset, ramp = rng.uniform(0.15, 0.45), rng.uniform(0.1, 0.3)
        alpha = np.clip((t - onset) / ramp, 0.0, 1.0)
        cx, cy = static_centre(radius)
    elif motion == "move_stop":
        # Forward = moves in a random direction for 40-60 % of the clip, then stays still.
        lo, hi = radius + 1, size - radius - 1
        heading = rng.uniform(0, 2 * math.pi)
        dx, dy = math.cos(heading), math.sin(heading)
        travel = rng.uniform(0.3, 0.5) * size
        travel = min(travel, 0.95 * (hi - lo) / max(abs(dx), abs(dy), 1e-6))
        x0 = rng.uniform(lo + max(0.0, -dx * travel), hi - max(0.0, dx * travel))
        y0 = rng.uniform(lo + max(0.0, -dy * travel), hi - max(0.0, dy * travel))
        progress = np.clip(t / rng.uniform(0.4, 0.6), 0.0, 1.0)
        cx, cy = x0 + dx * travel * progress, y0 + dy * travel * progress
    elif motion == "drift":
        lo, hi = radius + 1, size - radius - 1
        heading = rng.uniform(0, 2 * math.pi)
        travel = rng.uniform(0.0, 0.4) * size
        x0, y0 = rng.uniform(lo, hi, size=2)
        cx = np.clip(x0 + travel * t * math.cos(heading), lo, hi)
        cy = np.clip(y0 + travel * t * math.sin(heading), lo, hi)
        angle = angle + rng.uniform(-0.3, 0.3) * math.pi * t
    else:
        raise ValueError(f"unknown motion {motion!r}")
    return {"cx": np.asarray(cx, float), "cy": np.asarray(cy, float), "radius": np.asarray(r, float),
            "angle": np.asarray(angle, float), "alpha": np.asarray(alpha, float)}


def render_clip(spec: SyntheticSpec, label: int, seed: Union[int, Sequence[int]]) -> RenderedClip:
    """Render one clip of class ``label`` from ``seed`` (see :func:`video_seed`).

    Independent random streams are used for the background, the object's look, its motion,
    distractors, camera jitter and noise, so the motion of an appearance clip does not depend
    on its class, and a reversed motion class is the exact time reversal of its partner
    rendered from the same seed.
    """
    catalogue = _catalogue(spec.kind)
    if not 0 <= label < spec.num_labels:
        raise ValueError(f"label {label} out of range for {spec.num_labels} {spec.kind} classes")
    streams = np.random.SeedSequence(seed).spawn(6)
    rng_background, rng_look, rng_motion, rng_distractors, rng_camera, rng_noise = (
        np.random.default_rng(s) for s in streams
    )
    size, frames = spec.size, spec.frames
    margin = int(math.ceil(3 * spec.jitter)) + 1 if spec.jitter > 0 else 0
    side = size + 2 * margin

    background = _background(rng_background, side)
    radius = 0.5 * spec.object_size * size * rng_look.uniform(0.85, 1.15)
    if spec.kind == "motion":
        _, motion, backwards = catalogue[label]
        shape = SHAPES[rng_look.integers(len(SHAPES))]
        hue = rng_look.uniform(0, 360)
        rgb = _hsv_to_rgb(hue, rng_look.uniform(0.55, 1.0), rng_look.uniform(0.6, 1.0))
        # Always textured, so that turning is visible even on a disc.
        texture, params = _random_texture(rng_look, ("stripes", "checker", "gradient"))
        amplitude = rng_look.uniform(0.3, 0.45)
        mild = False
    else:
        _, shape, colour = catalogue[label]
        hue = COLOURS[colour] + rng_look.uniform(-10, 10)
        rgb = _hsv_to_rgb(hue, rng_look.uniform(0.65, 1.0), rng_look.uniform(0.65, 1.0))
        texture, params = _random_texture(rng_look, ("plain", "stripes", "checker", "gradient"))
        amplitude = rng_look.uniform(0.0, 0.2)
        motion = _APPEARANCE_MOTIONS[rng_motion.integers(len(_APPEARANCE_MOTIONS))]
        backwards = bool(rng_motion.integers(2))
        mild = True
    states = _trajectory(motion, rng_motion, frames, size, radius, mild)
    sprite = _Sprite(shape, rgb, texture, params, amplitude, **states)

    canvas = np.broadcast_to(background, (frames, side, side, 3)).copy()
    for _ in range(rng_distractors.integers(spec.max_distractors + 1)):
        _distractor(rng_distractors, frames, size, radius).draw(canvas, margin)
    without_object = canvas.copy()
    coverage = sprite.draw(canvas, margin)

    # Camera shake: each frame is a crop of the (larger) scene at a small random offset.
    if margin:
        shifts = np.clip(np.rint(rng_camera.normal(0, spec.jitter, size=(frames, 2))), -margin, margin).astype(int)
    else:
        shifts = np.zeros((frames, 2), int)
    rows = margin + shifts[:, 0]
    cols = margin + shifts[:, 1]
    crop = lambda a: np.stack([a[i, rows[i] : rows[i] + size, cols[i] : cols[i] + size] for i in range(frames)])
    noise = rng_noise.standard_normal((frames, size, size, 3), dtype=np.float32) * spec.noise
    to_uint8 = lambda a: np.clip(np.rint(crop(a) + noise), 0, 255).astype(np.uint8)
    clip = RenderedClip(
        frames=to_uint8(canvas),
        background=to_uint8(without_object),
        object_coverage=crop(coverage),
        states=dict(states, shape=shape, hue=float(hue % 360), motion=motion, reversed=backwards,
                    camera_shift=shifts),
    )
    if backwards:
        clip = _time_reversed(clip)
    return clip


def _time_reversed(clip: RenderedClip) -> RenderedClip:
    states = {k: (v[::-1].copy() if isinstance(v, np.ndarray) else v) for k, v in clip.states.items()}
    return RenderedClip(
        frames=clip.frames[::-1].copy(),
        background=clip.background[::-1].copy(),
        object_coverage=clip.object_coverage[::-1].copy(),
        states=states,
    )


def _distractor(rng: np.random.Generator, frames: int, size: int, object_radius: float) -> _Sprite:
    """A smaller object of random shape and colour drifting slowly in a random direction."""
    t = np.linspace(0.0, 1.0, frames)
    radius = object_radius * rng.uniform(0.3, 0.5)
    x0, y0 = rng.uniform(0, size, size=2)
    heading = rng.uniform(0, 2 * math.pi)
    travel = rng.uniform(0.0, 0.25) * size
    texture, params = _random_texture(rng, ("plain", "stripes", "gradient"))
    return _Sprite(
        shape=SHAPES[rng.integers(len(SHAPES))],
        rgb=_hsv_to_rgb(rng.uniform(0, 360), rng.uniform(0.2, 0.9), rng.uniform(0.4, 1.0)),
        texture=texture,
        texture_params=params,
        texture_amplitude=rng.uniform(0.0, 0.3),
        cx=x0 + travel * t * math.cos(heading),
        cy=y0 + travel * t * math.sin(heading),
        radius=np.full(frames, radius),
        angle=np.full(frames, rng.uniform(0, 2 * math.pi)),
        alpha=np.ones(frames),
    )


# ----------------------------------------------------------------------------------------
# Data set folders and the cache
# ----------------------------------------------------------------------------------------

MANIFEST = "manifest.json"
_FORMAT = "tanet-synthetic"
_OWN_ENTRIES = {"train.txt", "val.txt", "classes.txt", "videos", MANIFEST}


@dataclass(frozen=True)
class SyntheticDataset:
    """Where a generated set lives. List paths are relative to ``root``."""

    spec: SyntheticSpec
    root: Path
    train_list: Path
    val_list: Path
    classes_file: Path
    video_dir: Path
    class_names: tuple[str, ...]
    codec: str
    num_train: int
    num_val: int
    reused: bool
    seconds: float

    @property
    def data_root(self) -> Path:
        """Folder the list-file paths are relative to (pass it as the data root)."""
        return self.root

    def flip_label_map(self) -> dict[int, int]:
        """Labels after a horizontal flip (see :func:`horizontal_flip_label_map`)."""
        return horizontal_flip_label_map(self.class_names)

    def summary(self) -> str:
        how = "reused from cache" if self.reused else f"generated in {self.seconds:.1f} s"
        s = self.spec
        return (
            f"{s.kind} set: {len(self.class_names)} classes, {self.num_train} train + {self.num_val} val clips "
            f"of {s.frames} frames at {s.size}x{s.size} px, {s.fps} fps, {self.codec} ({how})\n"
            f"  root:    {self.root}\n  train:   {self.train_list}\n  val:     {self.val_list}\n"
            f"  classes: {self.classes_file}"
        )


def default_cache_dir() -> Path:
    """``$TANET_CACHE/synthetic`` if set, else ``~/.cache/tanet/synthetic``."""
    base = os.environ.get("TANET_CACHE")
    return (Path(base).expanduser() if base else Path.home() / ".cache" / "tanet") / "synthetic"


def dataset_dir(spec: SyntheticSpec, cache_dir: Union[str, Path, None] = None) -> Path:
    """``<cache_dir>/<kind>-<hash of spec>`` (cache_dir defaults to :func:`default_cache_dir`)."""
    base = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    return base / f"{spec.kind}-{spec.fingerprint()}"


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def _plan(spec: SyntheticSpec) -> list[tuple[str, int, int, str]]:
    """(split, label, index, relative path) of every clip, in list-file order."""
    jobs = []
    names = spec.class_names
    for split, per_class in (("train", spec.train_per_class), ("val", spec.val_per_class)):
        for label, name in enumerate(names):
            for index in range(per_class):
                jobs.append((split, label, index, f"videos/{split}/{label:02d}_{_slug(name)}/{index:04d}.mp4"))
    return jobs


def _render_and_encode(spec: SyntheticSpec, codec: str, tmp_root: str, job: tuple[str, int, int, str]) -> tuple[str, int]:
    split, label, index, rel = job
    clip = render_clip(spec, label, video_seed(spec, split, label, index))
    path = Path(tmp_root) / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    encode_video(path, clip.frames, spec.fps, codec=codec, crf=spec.crf)
    return rel, path.stat().st_size


def _read_manifest(root: Path) -> Optional[dict]:
    try:
        manifest = json.loads((root / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) and manifest.get("format") == _FORMAT else None


def _is_complete(root: Path, spec: SyntheticSpec) -> Optional[dict]:
    """The manifest if ``root`` holds a finished set of exactly ``spec``, else None."""
    manifest = _read_manifest(root)
    if manifest is None or manifest.get("version") != GENERATOR_VERSION or manifest.get("spec") != spec.to_dict():
        return None
    for rel, size in manifest.get("files", {}).items():
        try:
            if (root / rel).stat().st_size != size:
                return None
        except OSError:
            return None
    return manifest


def _info(spec: SyntheticSpec, root: Path, manifest: dict, reused: bool, seconds: float) -> SyntheticDataset:
    return SyntheticDataset(
        spec=spec,
        root=root,
        train_list=root / "train.txt",
        val_list=root / "val.txt",
        classes_file=root / "classes.txt",
        video_dir=root / "videos",
        class_names=tuple(manifest["class_names"]),
        codec=manifest["codec"],
        num_train=manifest["num_train"],
        num_val=manifest["num_val"],
        reused=reused,
        seconds=seconds,
    )


def _remove_stale_partials(root: Path) -> None:
    """Delete temp folders of earlier runs for ``root`` whose process is gone."""
    for candidate in root.parent.glob(f".{root.name}.partial-*"):
        try:
            pid = int(candidate.name.rsplit("-", 2)[-2])
        except ValueError:
            continue
        if pid != os.getpid() and _pid_alive(pid):
            continue
        shutil.rmtree(candidate, ignore_errors=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def generate(
    spec: SyntheticSpec,
    root: Union[str, Path, None] = None,
    *,
    cache_dir: Union[str, Path, None] = None,
    force: bool = False,
    workers: int = 1,
    progress: bool = False,
) -> SyntheticDataset:
    """Render ``spec`` to ``root`` (default :func:`dataset_dir`), or reuse a finished copy.

    The set is written to a temporary sibling folder and renamed into place only when all
    videos, list files and the manifest (spec, generator version, file sizes) are written,
    so an interrupted run never leaves a set that looks usable. A folder whose manifest does
    not match ``spec`` or whose files are missing or have the wrong size is regenerated; a
    non-empty folder that is not a generated set raises :class:`FileExistsError`.

    Args:
        workers: processes rendering in parallel (the output is identical for any number).
        progress: print a progress bar (tqdm) to stderr.
    """
    root = Path(root).expanduser() if root is not None else dataset_dir(spec, cache_dir)
    start = time.perf_counter()
    if not force:
        manifest = _is_complete(root, spec)
        if manifest is not None:
            return _info(spec, root, manifest, reused=True, seconds=time.perf_counter() - start)
    if root.exists():
        if not root.is_dir():
            raise FileExistsError(f"{root} exists and is not a folder")
        foreign = sorted(p.name for p in root.iterdir() if p.name not in _OWN_ENTRIES)
        if foreign:
            raise FileExistsError(
                f"{root} is not a tanet synthetic data set (it contains {', '.join(foreign[:5])}); "
                "refusing to overwrite it"
            )
    root.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_partials(root)

    codec = resolve_codec(spec.codec)
    tmp = root.parent / f".{root.name}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        jobs = _plan(spec)
        sizes = dict(_run_jobs(spec, codec, tmp, jobs, workers, progress))
        names = spec.class_names
        lists = {"train": [], "val": []}
        for split, label, _, rel in jobs:
            lists[split].append(f"{rel} {label}\n")
        for split, lines in lists.items():
            (tmp / f"{split}.txt").write_text("".join(lines))
        (tmp / "classes.txt").write_text("".join(f"{name}\n" for name in names))
        files = dict(sizes)
        for name in ("train.txt", "val.txt", "classes.txt"):
            files[name] = (tmp / name).stat().st_size
        import av

        manifest = {
            "format": _FORMAT,
            "version": GENERATOR_VERSION,
            "spec": spec.to_dict(),
            "codec": codec,
            "pyav": av.__version__,
            "class_names": names,
            "num_train": len(lists["train"]),
            "num_val": len(lists["val"]),
            "files": files,
        }
        # The manifest is written last: its presence marks a finished set.
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
        _move_into_place(tmp, root, spec)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    manifest = _is_complete(root, spec)
    if manifest is None:  # pragma: no cover - only if the folder was changed under us
        raise RuntimeError(f"generated synthetic set at {root} is incomplete")
    return _info(spec, root, manifest, reused=False, seconds=time.perf_counter() - start)


def _move_into_place(tmp: Path, root: Path, spec: SyntheticSpec) -> None:
    if root.exists():
        # An outdated or damaged set: move it aside first so `root` is never half-written.
        trash = root.parent / f".{root.name}.partial-{os.getpid()}-old{uuid.uuid4().hex[:8]}"
        os.rename(root, trash)
        shutil.rmtree(trash, ignore_errors=True)
    try:
        os.rename(tmp, root)
    except OSError:
        # Another process finished the same set first; keep theirs if it is complete.
        if _is_complete(root, spec) is None:
            raise


def _run_jobs(spec, codec, tmp, jobs, workers, progress):
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(jobs), desc=f"rendering {spec.kind} set", unit="clip", file=sys.stderr)
    try:
        if workers <= 1:
            for job in jobs:
                yield _render_and_encode(spec, codec, str(tmp), job)
                if bar is not None:
                    bar.update()
        else:
            from concurrent.futures import ProcessPoolExecutor
            from functools import partial

            work = partial(_render_and_encode, spec, codec, str(tmp))
            with ProcessPoolExecutor(max_workers=workers) as pool:
                for result in pool.map(work, jobs, chunksize=8):
                    yield result
                    if bar is not None:
                        bar.update()
    finally:
        if bar is not None:
            bar.close()


# ----------------------------------------------------------------------------------------
# Command line: tanet synth
# ----------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kind", choices=("motion", "appearance", "both"), default="both",
                        help="which set to generate (default: both)")
    parser.add_argument("--out", type=Path, default=None,
                        help="parent folder of the sets (default: $TANET_CACHE/synthetic or ~/.cache/tanet/synthetic)")
    parser.add_argument("--quick", action="store_true", help=f"smaller preset: {QUICK_PRESET}")
    parser.add_argument("--seed", type=int, default=None, help="base seed (default 0)")
    parser.add_argument("--size", type=int, default=None, help="frame side in pixels (even)")
    parser.add_argument("--frames", type=int, default=None, help="frames per clip")
    parser.add_argument("--classes", type=int, default=None, help="number of classes (first N of 12)")
    parser.add_argument("--per-class", type=int, default=None, dest="train_per_class",
                        help="training clips per class")
    parser.add_argument("--val-per-class", type=int, default=None, help="validation clips per class")
    parser.add_argument("--fps", type=int, default=None)
    parser.add_argument("--noise", type=float, default=None, help="pixel noise std (0-255)")
    parser.add_argument("--jitter", type=float, default=None, help="camera shake std in pixels")
    parser.add_argument("--distractors", type=int, default=None, help="max distractor objects per clip")
    parser.add_argument("--codec", choices=("auto", "h264", "mpeg4"), default=None)
    parser.add_argument("--workers", type=int, default=1, help="parallel rendering processes")
    parser.add_argument("--force", action="store_true", help="regenerate even if a cached copy exists")


def specs_from_args(args: argparse.Namespace) -> list[SyntheticSpec]:
    preset = QUICK_PRESET if args.quick else DEFAULT_PRESET
    kinds = KINDS if args.kind == "both" else (args.kind,)
    overrides = dict(
        seed=args.seed, size=args.size, frames=args.frames, num_classes=args.classes,
        train_per_class=args.train_per_class, val_per_class=args.val_per_class, fps=args.fps,
        noise=args.noise, jitter=args.jitter, max_distractors=args.distractors, codec=args.codec,
    )
    return [preset.spec(kind, **overrides) for kind in kinds]


def run(args: argparse.Namespace) -> int:
    try:
        specs = specs_from_args(args)
    except ValueError as error:
        print(f"tanet synth: {error}", file=sys.stderr)
        return 2
    for spec in specs:
        info = generate(spec, cache_dir=args.out, force=args.force, workers=args.workers,
                        progress=sys.stderr.isatty())
        print(info.summary())
        swaps = {a: b for a, b in info.flip_label_map().items() if a != b}
        if swaps:
            pairs = sorted({tuple(sorted(p)) for p in swaps.items()})
            print("  horizontal flip swaps labels " + ", ".join(f"{a}<->{b}" for a, b in pairs))
    return 0
