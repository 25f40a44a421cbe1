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

Modules: :mod:`.spec` (spec, presets, class catalogues), :mod:`.render` (one clip as numpy
frames), :mod:`.cache` (set folders, the cache, :func:`synthesize`). The frames are written by
:func:`tanet.data.encode.encode_video`.
"""
from tanet.data.encode import encode_video

from .cache import SyntheticDataset, dataset_dir, default_cache_dir, generate, synthesize
from .render import RenderedClip, render_clip
from .spec import (
    APPEARANCE_CLASSES,
    DEFAULT_PRESET,
    GENERATOR_VERSION,
    MOTION_CLASSES,
    PRESETS,
    QUICK_PRESET,
    SyntheticPreset,
    SyntheticSpec,
    class_names,
    video_seed,
)

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
    "render_clip",
    "synthesize",
    "video_seed",
]
