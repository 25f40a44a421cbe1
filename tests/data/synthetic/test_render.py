"""Rendered clips show their class in their pixels (tanet.data.synthetic.render)."""
from __future__ import annotations

import numpy as np
import pytest

from tanet.data.synthetic import APPEARANCE_CLASSES, MOTION_CLASSES, SyntheticSpec, render_clip, video_seed
from tanet.data.synthetic.spec import COLOURS

from .conftest import PROBE
from .pixels import centroids, check_motion_property, hue_distance, hue_of, shape_from_mask


def test_mirroring_a_clockwise_clip_turns_it_counterclockwise():
    spec = SyntheticSpec(kind="motion", **PROBE)
    clip = render_clip(spec, 6, seed=11)
    mirrored = clip.frames[:, :, ::-1]
    mask = clip.object_coverage[:, :, ::-1] > 0.9
    check_motion_property("turning something counterclockwise", mirrored, mask.astype(float), mask, spec.size)


@pytest.mark.parametrize("label", range(len(MOTION_CLASSES)))
def test_motion_class_property_holds_in_rendered_frames(label):
    spec = SyntheticSpec(kind="motion", **PROBE)
    name = MOTION_CLASSES[label][0]
    for index in range(4):
        clip = render_clip(spec, label, video_seed(spec, "train", label, index))
        assert clip.frames.shape == (spec.frames, spec.size, spec.size, 3) and clip.frames.dtype == np.uint8
        coverage = clip.object_coverage
        check_motion_property(name, clip.frames, coverage, coverage > 0.5, spec.size)


@pytest.mark.parametrize("pair", range(0, len(MOTION_CLASSES), 2))
def test_paired_motion_classes_are_exact_time_reversals(pair):
    # Same seed: the second class of a pair is the first played backwards, so the bag of
    # frames is identical and only temporal order separates the two classes.
    spec = SyntheticSpec(kind="motion", **PROBE)
    for seed in (0, 1):
        forward = render_clip(spec, pair, seed)
        backward = render_clip(spec, pair + 1, seed)
        np.testing.assert_array_equal(backward.frames, forward.frames[::-1])
        assert not np.array_equal(backward.frames, forward.frames)


def test_motion_set_look_is_random_per_clip():
    spec = SyntheticSpec(kind="motion", **PROBE)
    hues, shapes = [], []
    for index in range(12):
        clip = render_clip(spec, 0, video_seed(spec, "train", 0, index))
        solid = clip.object_coverage > 0.99
        hues.append(hue_of(np.median(clip.frames[solid], axis=0)))
        shapes.append(shape_from_mask(clip.object_coverage[0] > 0.5))
    assert np.ptp(hues) > 90 and len(set(shapes)) >= 3


def test_appearance_motion_and_scene_do_not_depend_on_class():
    spec = SyntheticSpec(kind="appearance", **PROBE)
    for seed in (5, 6, 7):
        clips = [render_clip(spec, label, seed) for label in range(len(APPEARANCE_CLASSES))]
        reference = clips[0]
        track = centroids(reference.object_coverage)
        for clip in clips[1:]:
            # Same background, distractors, camera shake and noise; object at the same place.
            np.testing.assert_array_equal(clip.background, reference.background)
            np.testing.assert_allclose(centroids(clip.object_coverage), track, atol=0.6)
            assert not np.array_equal(clip.frames, reference.frames)


@pytest.mark.parametrize("label", range(len(APPEARANCE_CLASSES)))
def test_appearance_class_is_what_is_there(label):
    spec = SyntheticSpec(kind="appearance", **PROBE)
    name, shape, colour = APPEARANCE_CLASSES[label]
    for index in range(4):
        clip = render_clip(spec, label, video_seed(spec, "train", label, index))
        solid = clip.object_coverage > 0.99
        assert hue_distance(hue_of(np.median(clip.frames[solid], axis=0)), COLOURS[colour]) < 25
        middle = spec.frames // 2
        assert shape_from_mask(clip.object_coverage[middle] > 0.5) == shape, (name, index)


@pytest.mark.parametrize("kind", ["motion", "appearance"])
def test_the_largest_object_size_the_spec_accepts_renders(kind):
    # At object_size 0.5 a horizontal travel can span the whole free range; the start must not be drawn from an
    # interval whose upper end rounded below its lower end (numpy's uniform raised "high - low < 0").
    spec = SyntheticSpec(kind=kind, object_size=0.5, size=64, frames=8)
    for label in range(len(MOTION_CLASSES if kind == "motion" else APPEARANCE_CLASSES)):
        for index in range(6):
            clip = render_clip(spec, label, video_seed(spec, "train", label, index))
            assert clip.object_coverage.max() > 0.9  # the object is there, whole pixels of it
