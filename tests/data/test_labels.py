"""The flip label rule: mirrored pairs from class names, direction classes without a partner, SSv2's official map."""
from __future__ import annotations

from pathlib import Path

import pytest

from tanet.data import flip_label_map, flip_labels
from tanet.data.labels import names_a_direction

# Something-Something V2's 174 classes in label order (something-something-v2-labels.json, index order;
# the official TAM code's category.txt).
SSV2_CLASSES = [line for line in (Path(__file__).parent / "sthv2_classes.txt").read_text().splitlines() if line]


@pytest.mark.parametrize("names,expected", [
    (["left_to_right", "right_to_left"], {0: 1, 1: 0}),
    (["pushing_something_from_left_to_right", "x", "pushing_something_from_right_to_left"], {0: 2, 2: 0}),
    (["move-left", "move-right"], {0: 1, 1: 0}),
    (["LeftToRight", "RightToLeft"], {0: 1, 1: 0}),
    (["rotate_clockwise", "rotate_counterclockwise"], {0: 1, 1: 0}),
    (["rotate clockwise", "rotate anticlockwise"], {0: 1, 1: 0}),
    (["Rotate-Clockwise", "RotateCounterClockwise"], {0: 1, 1: 0}),
    (["swipe_leftwards", "swipe_rightwards"], {0: 1, 1: 0}),
])
def test_pairs_in_ordinary_class_names(names, expected):
    assert flip_label_map(names) == expected
    rule = flip_labels(names)
    assert rule.mapping == expected and rule.unpaired == ()


def test_direction_classes_without_partner_are_listed():
    names = ["left_to_right", "right_to_left", "turn_left", "spin_clockwise", "wave"]
    rule = flip_labels(names)
    assert rule.mapping == {0: 1, 1: 0} and rule.unpaired == (2, 3)
    message = rule.describe()
    assert "'left_to_right' (0) <-> 'right_to_left' (1)" in message
    assert "never flipped: 'turn_left' (2), 'spin_clockwise' (3)" in message
    assert "wave" not in message
    assert flip_labels(["abseiling", "writing"]).describe() is None


def test_something_something_v2_gives_exactly_the_official_pairs():
    assert len(SSV2_CLASSES) == 174
    rule = flip_labels(SSV2_CLASSES)
    # official TAM main.py lines 79-82 (and ops/models.py 455-467): the label_transforms of SSv2
    assert rule.mapping == {86: 87, 87: 86, 93: 94, 94: 93, 166: 167, 167: 166}
    # class 50 ("... pulling it right out ...") uses "right" in another sense: not a direction
    assert "right" in SSV2_CLASSES[50] and not names_a_direction(SSV2_CLASSES[50])
    assert rule.unpaired == ()
    message = rule.describe()
    assert "never flipped" not in message and "Plugging" not in message
    assert "'Turning the camera left while filming something' (166) <-> " in message
