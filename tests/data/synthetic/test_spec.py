"""The spec, presets and class names of the built-in synthetic sets (tanet.data.synthetic.spec)."""
from __future__ import annotations

from pathlib import Path

import pytest

from tanet.data.labels import flip_label_map
from tanet.data.synthetic import APPEARANCE_CLASSES, DEFAULT_PRESET, QUICK_PRESET, SyntheticSpec, class_names, dataset_dir


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(kind="sports"), "kind"),
        (dict(size=33), "even"),
        (dict(num_classes=13), "num_classes"),
        (dict(frames=2), "frames"),
        (dict(codec="vp9"), "codec"),
        (dict(train_per_class=0, val_per_class=0), "at least one"),
    ],
)
def test_spec_rejects_bad_values(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SyntheticSpec(**kwargs)


def test_presets_and_fingerprint():
    quick = QUICK_PRESET.spec("motion", seed=3)
    assert (quick.kind, quick.seed, quick.num_labels) == ("motion", 3, 6)
    assert DEFAULT_PRESET.spec("appearance").num_labels == len(APPEARANCE_CLASSES)
    assert quick.fingerprint() == QUICK_PRESET.spec("motion", seed=3).fingerprint()
    assert quick.fingerprint() != QUICK_PRESET.spec("motion", seed=4).fingerprint()
    assert dataset_dir(quick, "/x").parent == Path("/x")


def test_the_default_preset_draws_larger_appearance_objects_only():
    assert DEFAULT_PRESET.spec("appearance").object_size == 0.4
    assert DEFAULT_PRESET.spec("motion").object_size == SyntheticSpec().object_size == 0.3
    assert QUICK_PRESET.spec("appearance").object_size == 0.3
    assert DEFAULT_PRESET.spec("appearance", object_size=0.25).object_size == 0.25


def test_the_default_motion_test_split_pins_one_runs_top1_to_two_points():
    # binomial standard deviation of a top-1 near 50 % on the test split: sqrt(0.25 / n) <= 0.02 needs n >= 625
    test_clips = DEFAULT_PRESET.spec("motion").num_labels * DEFAULT_PRESET.val_per_class
    assert test_clips >= 625 and (0.25 / test_clips) ** 0.5 <= 0.02


def test_flip_label_map_swaps_left_right_and_rotation_sense():
    names = class_names("motion")
    mapping = flip_label_map(names)
    swapped = {names[a]: names[b] for a, b in mapping.items()}
    assert swapped == {
        "moving something from left to right": "moving something from right to left",
        "moving something from right to left": "moving something from left to right",
        "turning something clockwise": "turning something counterclockwise",
        "turning something counterclockwise": "turning something clockwise",
    }
    assert flip_label_map(class_names("appearance")) == {}
