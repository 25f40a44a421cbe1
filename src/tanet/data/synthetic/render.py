"""Rendering one clip with numpy: sprites, textures, backgrounds, trajectories, distractors.

Independent random streams drive the background, the object's look, its motion, the
distractors, the camera shake and the noise (see :func:`render_clip`), so each can change
without disturbing the others.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence, Union

import numpy as np

from .spec import COLOURS, SHAPES, SyntheticSpec, catalogue

__all__ = ["RenderedClip", "render_clip"]

# Motions an appearance-set clip may have (drawn independently of its class). Fading is left
# out so the object is always visible.
_APPEARANCE_MOTIONS = ("horizontal", "vertical", "scale", "rotation", "move_stop", "drift")


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
        # max(): when the travel spans the whole range, hi - travel can round to just below lo
        start = rng.uniform(lo, max(lo, hi - travel))
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
    classes = catalogue(spec.kind)
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
        _, motion, backwards = classes[label]
        shape = SHAPES[rng_look.integers(len(SHAPES))]
        hue = rng_look.uniform(0, 360)
        rgb = _hsv_to_rgb(hue, rng_look.uniform(0.55, 1.0), rng_look.uniform(0.6, 1.0))
        # Always textured, so that turning is visible even on a disc.
        texture, params = _random_texture(rng_look, ("stripes", "checker", "gradient"))
        amplitude = rng_look.uniform(0.3, 0.45)
        mild = False
    else:
        _, shape, colour = classes[label]
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
