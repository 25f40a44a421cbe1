"""Pixel measurements for the synthetic-set tests.

Class properties are measured from pixels (the rendered object coverage, the rendered frames
and the frames PyAV decodes from the written mp4 files), never from the generator's own
trajectory parameters.
"""
from __future__ import annotations

import math

import numpy as np

def centroids(weights: np.ndarray) -> np.ndarray:
    """(T, 2) x, y centroid of non-negative per-pixel weights (T, H, W)."""
    ys, xs = np.mgrid[0 : weights.shape[1], 0 : weights.shape[2]]
    total = weights.sum(axis=(1, 2))
    return np.stack([(weights * xs).sum(axis=(1, 2)) / total, (weights * ys).sum(axis=(1, 2)) / total], axis=1)


def largest_component(mask: np.ndarray) -> np.ndarray:
    """The largest 4-connected region of a 2-D boolean mask (flood fill)."""
    seen = np.zeros_like(mask)
    best: list = []
    height, width = mask.shape
    for start in zip(*np.nonzero(mask)):
        if seen[start]:
            continue
        seen[start] = True
        region, stack = [], [start]
        while stack:
            y, x = stack.pop()
            region.append((y, x))
            for ny, nx in ((y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)):
                if 0 <= ny < height and 0 <= nx < width and mask[ny, nx] and not seen[ny, nx]:
                    seen[ny, nx] = True
                    stack.append((ny, nx))
        if len(region) > len(best):
            best = region
    out = np.zeros_like(mask)
    if best:
        out[tuple(np.array(best).T)] = True
    return out


def erode(mask: np.ndarray) -> np.ndarray:
    inner = mask.copy()
    inner[1:] &= mask[:-1]
    inner[:-1] &= mask[1:]
    inner[:, 1:] &= mask[:, :-1]
    inner[:, :-1] &= mask[:, 1:]
    return inner


def rotation_between(frame_a, frame_b, mask_a, mask_b) -> float:
    """Angle (radians, + = clockwise on screen) that best maps the object in a onto b.

    Brute force: for each candidate angle, rotate b's object pixels back about b's centroid
    into a and compare colours (nearest-neighbour sampling).
    """
    ca, cb = centroids(mask_a[None].astype(float))[0], centroids(mask_b[None].astype(float))[0]
    # Compare interior pixels only: edges mix object and background (and blur when decoded).
    ys, xs = np.nonzero(erode(mask_b))
    rel = np.stack([xs - cb[0], ys - cb[1]])
    target = frame_b[ys, xs].astype(float)
    best, best_error = 0.0, math.inf
    for angle in np.deg2rad(np.arange(-40, 40.5, 1.0)):
        c, s = math.cos(angle), math.sin(angle)
        # point p in b came from q in a with p - cb = R(angle) (q - ca)  =>  q = ca + R(-angle)(p - cb)
        qx = np.rint(ca[0] + c * rel[0] + s * rel[1]).astype(int)
        qy = np.rint(ca[1] - s * rel[0] + c * rel[1]).astype(int)
        inside = (qx >= 0) & (qx < frame_a.shape[1]) & (qy >= 0) & (qy < frame_a.shape[0])
        inside &= mask_a[np.clip(qy, 0, frame_a.shape[0] - 1), np.clip(qx, 0, frame_a.shape[1] - 1)]
        if inside.sum() < 0.5 * len(xs):
            continue
        error = np.abs(frame_a[qy[inside], qx[inside]].astype(float) - target[inside]).mean()
        if error < best_error:
            best, best_error = angle, error
    return best


def check_motion_property(name: str, frames: np.ndarray, visibility: np.ndarray, mask: np.ndarray, size: int) -> None:
    """Assert that the pixels show what class ``name`` says.

    frames: (T, H, W, 3) colours; visibility: (T, H, W) how strongly the object shows;
    mask: (T, H, W) bool, where the object is.
    """
    t = len(frames)
    area = mask.sum(axis=(1, 2)).astype(float)
    visible = area > 0.3 * area.max()
    xy = centroids(np.where(visible[:, None, None], visibility, 1e-9))
    first, last = np.argmax(visible), len(visible) - 1 - np.argmax(visible[::-1])
    moved = xy[last] - xy[first]
    if name.endswith("from left to right"):
        assert moved[0] > 0.2 * size and abs(moved[1]) < moved[0], moved
    elif name.endswith("from right to left"):
        assert moved[0] < -0.2 * size and abs(moved[1]) < -moved[0], moved
    elif name == "moving something up":
        assert moved[1] < -0.2 * size and abs(moved[0]) < -moved[1], moved  # y grows downwards
    elif name == "moving something down":
        assert moved[1] > 0.2 * size and abs(moved[0]) < moved[1], moved
    elif name.endswith("closer to the camera"):
        assert area[-1] > 2.0 * area[0] and np.all(np.diff(area) > -0.1 * area.max()), area
    elif name.endswith("away from the camera"):
        assert area[0] > 2.0 * area[-1] and np.all(np.diff(area) < 0.1 * area.max()), area
    elif "clockwise" in name:
        steps = [rotation_between(frames[i], frames[i + 1], mask[i], mask[i + 1]) for i in range(t - 1)]
        total = math.degrees(sum(steps))
        sign = -1 if "counterclockwise" in name else 1
        # The true turn is 72-144 degrees; per-step estimates on tiny decoded objects are noisy.
        signs = np.sign(sign * np.array(steps))
        assert sign * total > 30 and (signs > 0).sum() > 2 * (signs < 0).sum(), (name, total, steps)
        assert np.linalg.norm(xy[-1] - xy[0]) < 0.15 * size  # turning in place
    elif name in ("something appearing", "something disappearing"):
        strength = visibility.sum(axis=(1, 2))
        if name == "something disappearing":
            strength = strength[::-1]
        assert strength[0] < 0.1 * strength.max() and strength[-1] > 0.8 * strength.max(), strength
        assert np.all(np.diff(strength) > -0.1 * strength.max()), strength
    elif name in ("moving something and then stopping", "holding something still and then moving it"):
        path = xy if name.startswith("moving") else xy[::-1]
        head, tail = path[: t // 3 + 1], path[-(t // 3) :]
        moving = np.linalg.norm(head[-1] - head[0])
        still = np.max(np.linalg.norm(tail - tail.mean(axis=0), axis=1))
        assert moving > 0.12 * size and still < 0.06 * size, (moving, still)
    else:  # pragma: no cover
        raise AssertionError(f"no property check for class {name!r}")


def hue_of(rgb: np.ndarray) -> float:
    r, g, b = rgb / 255.0
    mx, mn = max(r, g, b), min(r, g, b)
    if mx == mn:
        return 0.0
    if mx == r:
        h = (g - b) / (mx - mn) % 6
    elif mx == g:
        h = (b - r) / (mx - mn) + 2
    else:
        h = (r - g) / (mx - mn) + 4
    return 60.0 * h


def hue_distance(a: float, b: float) -> float:
    return abs((a - b + 180) % 360 - 180)


def shape_from_mask(mask: np.ndarray) -> str:
    """Rotation- and scale-invariant shape guess from a binary object mask."""
    ys, xs = np.nonzero(mask)
    cx, cy = xs.mean(), ys.mean()
    dist = np.hypot(xs - cx, ys - cy)
    r_max = dist.max() + 0.5
    fill = len(xs) / (math.pi * r_max**2)
    grid_y, grid_x = np.mgrid[0 : mask.shape[0], 0 : mask.shape[1]]
    grid_dist = np.hypot(grid_x - cx, grid_y - cy)
    centre = mask[grid_dist <= 0.2 * r_max].mean()
    inner = mask[grid_dist <= 0.65 * r_max].mean()
    cov = np.cov(np.stack([xs, ys]))
    eig = np.linalg.eigvalsh(cov)
    elongation = eig[1] / max(eig[0], 1e-6)
    if elongation > 2.5:
        return "bar"
    if centre < 0.3:
        return "ring"
    if fill > 0.8:
        return "disc"
    if fill < 0.5:
        return "triangle"
    return "square" if inner > 0.9 else "cross"
