"""What a generated set is: its specification, the named presets and the class catalogues.

A set is determined by its :class:`SyntheticSpec` (the cache key is a hash of it and of
:data:`GENERATOR_VERSION`); every clip is drawn from the seed :func:`video_seed` gives it.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import Optional

from tanet.errors import UsageError

__all__ = [
    "APPEARANCE_CLASSES",
    "COLOURS",
    "DEFAULT_PRESET",
    "GENERATOR_VERSION",
    "KINDS",
    "MOTION_CLASSES",
    "PRESETS",
    "QUICK_PRESET",
    "SHAPES",
    "SyntheticPreset",
    "SyntheticSpec",
    "catalogue",
    "class_names",
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

    Raises :class:`~tanet.errors.UsageError` (a ``ValueError``) for a value that cannot work.
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
            raise UsageError(f"SyntheticSpec.kind must be one of {KINDS}, got {self.kind!r}")
        catalogue_size = len(catalogue(self.kind))
        if self.num_classes is not None and not 1 <= self.num_classes <= catalogue_size:
            raise UsageError(
                f"SyntheticSpec.num_classes must be in 1..{catalogue_size} for kind "
                f"{self.kind!r}, got {self.num_classes}"
            )
        if self.size < 16 or self.size % 2:
            raise UsageError(f"SyntheticSpec.size must be an even number >= 16, got {self.size}")
        if self.frames < 4:
            raise UsageError(f"SyntheticSpec.frames must be >= 4, got {self.frames}")
        if self.train_per_class < 0 or self.val_per_class < 0:
            raise UsageError("SyntheticSpec.train_per_class / val_per_class must be >= 0")
        if self.train_per_class + self.val_per_class == 0:
            raise UsageError("SyntheticSpec needs at least one clip per class")
        if self.seed < 0:
            raise UsageError(f"SyntheticSpec.seed must be >= 0, got {self.seed}")
        if self.fps <= 0:
            raise UsageError(f"SyntheticSpec.fps must be > 0, got {self.fps}")
        if not 0.1 <= self.object_size <= 0.5:
            raise UsageError(f"SyntheticSpec.object_size must be in [0.1, 0.5], got {self.object_size}")
        if self.max_distractors < 0 or self.jitter < 0 or self.noise < 0:
            raise UsageError("SyntheticSpec.max_distractors, jitter and noise must be >= 0")
        if self.codec not in ("auto", "h264", "mpeg4"):
            raise UsageError(f"SyntheticSpec.codec must be 'auto', 'h264' or 'mpeg4', got {self.codec!r}")

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
    # Object diameter (fraction of the frame side) of the appearance set's clips; None: the spec's default.
    appearance_object_size: Optional[float] = None

    def spec(self, kind: str, **overrides) -> SyntheticSpec:
        """The spec of ``kind`` at this size; ``overrides`` (SyntheticSpec fields) that are not None win."""
        values = dict(
            kind=kind,
            num_classes=self.num_classes,
            train_per_class=self.train_per_class,
            val_per_class=self.val_per_class,
            frames=self.frames,
            size=self.size,
        )
        if kind == "appearance" and self.appearance_object_size is not None:
            values["object_size"] = self.appearance_object_size
        values.update({k: v for k, v in overrides.items() if v is not None})
        return SyntheticSpec(**values)

    def describe(self) -> str:
        """In words, e.g. ``6 classes, 24+8 clips per class, 12 frames of 48 px``."""
        classes = self.num_classes if self.num_classes is not None else "all"
        return (f"{classes} classes, {self.train_per_class}+{self.val_per_class} clips per class, "
                f"{self.frames} frames of {self.size} px")


# Sized for training tiny models on a couple of CPU cores. 54 test clips per class: the 12 motion classes give
# 648, enough that one run's top-1 near 50 % has a binomial standard deviation of 2 points (144 gave 4).
# Appearance objects at 0.4 of the frame: at 0.3 (about 12 px after the demo's resize to a 40-pixel crop) the
# weaker training seeds told a disc from a triangle of one colour barely above chance and settled on colour
# alone (4 of 6 classes); at 0.4 the appearance cells' sd over seeds 0-4 fell from 2.0-9.2 to 1.2-4.7 points.
DEFAULT_PRESET = SyntheticPreset("default", None, train_per_class=48, val_per_class=54, frames=16, size=64,
                                 appearance_object_size=0.4)
# Three class pairs (left/right, up/down, closer/away) or the first six appearance classes.
QUICK_PRESET = SyntheticPreset("quick", 6, train_per_class=24, val_per_class=8, frames=12, size=48)
PRESETS = {p.name: p for p in (DEFAULT_PRESET, QUICK_PRESET)}


def catalogue(kind: str) -> tuple:
    """The class table of ``kind``: :data:`MOTION_CLASSES` or :data:`APPEARANCE_CLASSES`."""
    return MOTION_CLASSES if kind == "motion" else APPEARANCE_CLASSES


def class_names(kind: str, num_classes: Optional[int] = None) -> list[str]:
    """Human-readable class names of a kind, in label order."""
    if kind not in KINDS:
        raise UsageError(f"kind must be one of {KINDS}, got {kind!r}")
    entries = catalogue(kind)
    return [entry[0] for entry in entries[: num_classes or len(entries)]]


def video_seed(spec: SyntheticSpec, split: str, label: int, index: int) -> tuple[int, ...]:
    """Entropy of clip ``index`` of class ``label`` in ``split`` (``"train"`` or ``"val"``)."""
    return (spec.seed, _KIND_CODE[spec.kind], _SPLIT_CODE[split], label, index)
