"""A built-in still-image classification set: the stand-in for ImageNet in the paper's protocol.

The paper starts every video model from an ImageNet-trained 2D ResNet. No ImageNet weights can be
downloaded here, so ``tanet pretrain-2d`` trains a 2D ResNet on this procedurally rendered set instead.
Its classes are disjoint from the video sets' (other shapes, and classes of texture, layout and colour
field), so the 2D start carries generic features (edges, shapes, textures, colours), not the answer:

* 8 shapes (none of the video sets' disc/square/triangle/cross/ring/bar) × 4 fills (solid, stripes,
  checker, dots) = 32 classes; colours, size, position, rotation and background random;
* 4 layouts of several small random shapes (a row, a column, a diagonal, a 2×2 grid);
* 4 colour fields without an object (vertical split, horizontal split, linear and radial gradient).

Every image is drawn from ``numpy.random.default_rng([seed, split, label, index])``: the set is a pure
function of its seed and size (numpy only; uint8 (N, H, W, 3)).
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["STILL_SHAPES", "STILL_FILLS", "STILL_LAYOUTS", "STILL_FIELDS", "still_class_names", "render_still",
           "render_stills"]

STILL_SHAPES = ("star", "hexagon", "pentagon", "heart", "crescent", "arrow", "ellipse", "semicircle")
STILL_FILLS = ("solid", "stripes", "checker", "dots")
STILL_LAYOUTS = ("row", "column", "diagonal", "grid")
STILL_FIELDS = ("vertical split", "horizontal split", "linear gradient", "radial gradient")
_SPLIT_CODE = {"train": 0, "val": 1}


def still_class_names() -> list[str]:
    """The 40 class names, in label order."""
    return ([f"{fill} {shape}" for shape in STILL_SHAPES for fill in STILL_FILLS]
            + [f"{layout} of shapes" for layout in STILL_LAYOUTS] + [f"{field} field" for field in STILL_FIELDS])


def _colour(rng: np.random.Generator) -> np.ndarray:
    return rng.uniform(0.0, 1.0, 3)


def _shape_mask(shape: str, x: np.ndarray, y: np.ndarray, radius: float, angle: float) -> np.ndarray:
    """Boolean mask of ``shape`` centred at 0 with size ``radius`` (x, y: coordinates relative to the centre)."""
    c, s = math.cos(angle), math.sin(angle)
    u, v = (c * x + s * y) / radius, (-s * x + c * y) / radius
    r, theta = np.hypot(u, v), np.arctan2(v, u)
    if shape in ("hexagon", "pentagon"):
        n = 6 if shape == "hexagon" else 5
        sector = np.mod(theta, 2 * math.pi / n) - math.pi / n
        return r * np.cos(sector) <= math.cos(math.pi / n)
    if shape == "star":
        sector = np.abs(np.mod(theta, 2 * math.pi / 5) - math.pi / 5) / (math.pi / 5)  # 0 at a tip, 1 between
        return r <= 1.0 - 0.55 * sector
    if shape == "heart":
        a, b = u * 1.1, -v * 1.1 + 0.25
        return (a * a + b * b - 0.55) ** 3 - a * a * b ** 3 * 0.9 <= 0
    if shape == "crescent":
        return (r <= 1.0) & (np.hypot(u - 0.45, v) > 0.8)
    if shape == "arrow":
        shaft = (np.abs(v) <= 0.22) & (u >= -1.0) & (u <= 0.2)
        head = (u >= 0.2) & (u <= 1.0) & (np.abs(v) <= (1.0 - u) * 0.9)
        return shaft | head
    if shape == "ellipse":
        return (u / 1.0) ** 2 + (v / 0.5) ** 2 <= 1.0
    if shape == "semicircle":
        return (r <= 1.0) & (v >= -0.1)
    raise ValueError(f"unknown still shape {shape!r}")


def _fill(fill: str, x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(H, W, 3) texture of ``fill`` in two random colours."""
    first, second = _colour(rng), _colour(rng)
    while np.abs(first - second).sum() < 0.6:
        second = _colour(rng)
    if fill == "solid":
        weight = np.zeros_like(x)
    else:
        angle = rng.uniform(0, math.pi)
        period = rng.uniform(4.0, 9.0)
        a = (math.cos(angle) * x + math.sin(angle) * y) / period
        b = (-math.sin(angle) * x + math.cos(angle) * y) / period
        if fill == "stripes":
            weight = (np.mod(a, 1.0) < 0.5).astype(np.float64)
        elif fill == "checker":
            weight = ((np.floor(a) + np.floor(b)) % 2).astype(np.float64)
        elif fill == "dots":
            weight = (np.hypot(np.mod(a, 1.0) - 0.5, np.mod(b, 1.0) - 0.5) < 0.28).astype(np.float64)
        else:
            raise ValueError(f"unknown fill {fill!r}")
    return first[None, None] * (1 - weight[..., None]) + second[None, None] * weight[..., None]


def _background(x: np.ndarray, y: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    base = _colour(rng) * 0.8 + 0.1
    tilt = rng.uniform(-0.15, 0.15, 3)
    ramp = (x / size)[..., None] * tilt[None, None]
    return np.clip(base[None, None] + ramp + rng.normal(0, 0.03, (size, size, 3)), 0, 1)


def render_still(label: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """One (size, size, 3) uint8 image of class ``label``."""
    names = still_class_names()
    if not 0 <= label < len(names):
        raise ValueError(f"label must be in 0..{len(names) - 1}, got {label}")
    coords = np.arange(size, dtype=np.float64)
    y, x = np.meshgrid(coords, coords, indexing="ij")
    image = _background(x, y, size, rng)
    shapes = len(STILL_SHAPES) * len(STILL_FILLS)
    if label < shapes:
        shape, fill = STILL_SHAPES[label // len(STILL_FILLS)], STILL_FILLS[label % len(STILL_FILLS)]
        radius = size * rng.uniform(0.25, 0.4)
        cx, cy = rng.uniform(radius * 0.8, size - radius * 0.8, 2)
        mask = _shape_mask(shape, x - cx, y - cy, radius, rng.uniform(0, 2 * math.pi))
        image = np.where(mask[..., None], _fill(fill, x, y, rng), image)
    elif label < shapes + len(STILL_LAYOUTS):
        layout = STILL_LAYOUTS[label - shapes]
        radius = size * rng.uniform(0.09, 0.13)
        spacing = size * rng.uniform(0.25, 0.32)
        cx, cy = size / 2 + rng.uniform(-0.08, 0.08, 2) * size
        offsets = {"row": [(-1, 0), (0, 0), (1, 0)], "column": [(0, -1), (0, 0), (0, 1)],
                   "diagonal": [(-1, -1), (0, 0), (1, 1)] if rng.random() < 0.5 else [(-1, 1), (0, 0), (1, -1)],
                   "grid": [(-0.5, -0.5), (0.5, -0.5), (-0.5, 0.5), (0.5, 0.5)]}[layout]
        colour = _colour(rng)
        for dx, dy in offsets:
            shape = STILL_SHAPES[rng.integers(len(STILL_SHAPES))]
            mask = _shape_mask(shape, x - cx - dx * spacing, y - cy - dy * spacing, radius, rng.uniform(0, 2 * math.pi))
            image = np.where(mask[..., None], colour[None, None], image)
    else:
        field = STILL_FIELDS[label - shapes - len(STILL_LAYOUTS)]
        first, second = _colour(rng), _colour(rng)
        position = rng.uniform(0.3, 0.7) * size
        if field == "vertical split":
            weight = (x > position).astype(np.float64)
        elif field == "horizontal split":
            weight = (y > position).astype(np.float64)
        elif field == "linear gradient":
            angle = rng.uniform(0, 2 * math.pi)
            weight = np.clip(((x - size / 2) * math.cos(angle) + (y - size / 2) * math.sin(angle)) / size + 0.5, 0, 1)
        else:
            weight = np.clip(np.hypot(x - position, y - rng.uniform(0.3, 0.7) * size) / (0.6 * size), 0, 1)
        image = first[None, None] * (1 - weight[..., None]) + second[None, None] * weight[..., None]
    image = image + rng.normal(0, 0.04, image.shape)
    return (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)


def render_stills(split: str, per_class: int, *, size: int = 64, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``per_class`` images of every class: uint8 (N, size, size, 3) and int64 labels (N,)."""
    if split not in _SPLIT_CODE:
        raise ValueError(f"split must be 'train' or 'val', got {split!r}")
    count = len(still_class_names())
    images = np.empty((count * per_class, size, size, 3), dtype=np.uint8)
    labels = np.repeat(np.arange(count, dtype=np.int64), per_class)
    for n, label in enumerate(labels):
        rng = np.random.default_rng([seed, _SPLIT_CODE[split], int(label), n % per_class])
        images[n] = render_still(int(label), size, rng)
    return images, labels
