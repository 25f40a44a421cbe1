"""Class labels under a horizontal flip: which class a mirrored clip belongs to.

One rule for every data set, built from the class *names*: a name is split into words at spaces,
underscores, hyphens and case changes (``pushing_something_from_left_to_right``,
``Move-Left``, ``LeftToRight``), and mirroring exchanges ``left`` with ``right`` and ``clockwise``
with ``counterclockwise`` / ``anticlockwise``. Two classes pair up when mirroring the words of one
gives the words of the other.
"""
from __future__ import annotations

import re
from typing import Sequence

__all__ = ["name_words", "mirrored_words", "flip_label_map"]

_MIRROR = {
    "left": "right",
    "right": "left",
    "clockwise": "counterclockwise",
    "counterclockwise": "clockwise",
    "anticlockwise": "clockwise",
}
# A case change starts a word: "LeftToRight" -> Left, To, Right; "HTTPServer" -> HTTP, Server.
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_SEPARATORS = re.compile(r"[\s_\-\[\]()/.,;:]+")


def name_words(name: str) -> tuple[str, ...]:
    """Lower-case words of a class name (spaces, underscores, hyphens, brackets and case changes split).

    ``counter clockwise`` and ``counter-clockwise`` are read as one word, ``counterclockwise``.
    """
    words = [w.lower() for part in _SEPARATORS.split(name) for w in _CAMEL.split(part) if w]
    joined: list[str] = []
    for word in words:
        if word == "clockwise" and joined and joined[-1] in ("counter", "anti"):
            joined[-1] = joined[-1] + "clockwise"
        else:
            joined.append(word)
    return tuple(joined)


def mirrored_words(words: Sequence[str]) -> tuple[str, ...]:
    """The words of the mirror-image action (anticlockwise is read as counterclockwise)."""
    return tuple(_MIRROR.get(word, word) for word in words)


def flip_label_map(class_names: Sequence[str]) -> dict[int, int]:
    """``{label: label of its mirror image}`` for every class that has a mirrored partner.

    Both directions of each pair are in the map and nothing else, so ``map.get(label, label)``
    applies it. Raises ``ValueError`` for two names with the same words.
    """
    canonical = lambda words: tuple("counterclockwise" if w == "anticlockwise" else w for w in words)  # noqa: E731
    by_words: dict[tuple[str, ...], int] = {}
    for index, name in enumerate(class_names):
        key = canonical(name_words(name))
        if key in by_words:
            raise ValueError(f"duplicate class names {class_names[by_words[key]]!r} and {name!r} (classes "
                             f"{by_words[key]} and {index}) are the same words")
        by_words[key] = index
    mapping: dict[int, int] = {}
    for key, index in by_words.items():
        partner = by_words.get(canonical(mirrored_words(key)))
        if partner is not None and partner != index:
            mapping[index] = partner
    return mapping
