"""The built-in still images: deterministic, every class drawn, classes disjoint from the video sets'."""
import numpy as np

from tanet.data.stills import STILL_SHAPES, render_stills, still_class_names
from tanet.data.synthetic.spec import APPEARANCE_CLASSES, MOTION_CLASSES, SHAPES


def test_stills_are_a_pure_function_of_the_seed():
    images, labels = render_stills("train", 2, size=32, seed=3)
    again, _ = render_stills("train", 2, size=32, seed=3)
    other, _ = render_stills("train", 2, size=32, seed=4)
    val, _ = render_stills("val", 2, size=32, seed=3)
    assert images.shape == (2 * len(still_class_names()), 32, 32, 3) and images.dtype == np.uint8
    assert np.array_equal(images, again)
    assert not np.array_equal(images, other) and not np.array_equal(images, val)
    assert labels.tolist() == sorted(labels.tolist()) and set(labels.tolist()) == set(range(40))
    assert all(image.std() > 5 for image in images)  # nothing blank


def test_still_classes_are_disjoint_from_the_video_classes():
    video = {name for name, *_ in MOTION_CLASSES + APPEARANCE_CLASSES}
    assert len(still_class_names()) == 40 == len(set(still_class_names()))
    assert not video & set(still_class_names())
    assert not set(SHAPES) & set(STILL_SHAPES)
