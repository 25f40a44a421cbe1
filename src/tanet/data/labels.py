"""Class labels under a horizontal flip: which class a mirrored clip belongs to.

One rule for every data set, built from the class *names*: a name is split into words at spaces,
underscores, hyphens and case changes (``pushing_something_from_left_to_right``,
``Move-Left``, ``LeftToRight``), and mirroring exchanges ``left`` with ``right`` (``leftward(s)`` with
``rightward(s)``) and ``clockwise`` with ``counterclockwise`` / ``anticlockwise``. Two classes pair up
when mirroring the words of one gives the words of the other.

A class whose name holds a direction word but has no mirrored partner cannot be labelled after a flip:
:func:`flip_labels` lists it, and the dataset never flips its clips. On Something-Something V2's 174
classes the rule gives exactly the official pairs (official TAM ``main.py`` lines 79-82:
``{86: 87, 87: 86, 93: 94, 94: 93, 166: 167, 167: 166}``); its class 50, "... pulling it right out ...",
uses "right" in another sense and is known not to be a direction.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional, Sequence

__all__ = ["name_words", "mirrored_words", "names_a_direction", "flip_label_map", "FlipLabels", "flip_labels"]

_MIRROR = {
    "left": "right",
    "right": "left",
    "leftward": "rightward",
    "rightward": "leftward",
    "leftwards": "rightwards",
    "rightwards": "leftwards",
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


def _canonical(words: Sequence[str]) -> tuple[str, ...]:
    return tuple("counterclockwise" if w == "anticlockwise" else w for w in words)


# Class names in which a direction word is no direction (Something-Something V1 and V2, V2's class 50).
_NOT_A_DIRECTION = frozenset({
    _canonical(name_words("Plugging something into something but pulling it right out as you remove your hand")),
})


def names_a_direction(name: str) -> bool:
    """Whether a horizontal flip changes what the class name means (a left/right or rotation word)."""
    words = _canonical(name_words(name))
    return words not in _NOT_A_DIRECTION and any(word in _MIRROR for word in words)


def flip_label_map(class_names: Sequence[str]) -> dict[int, int]:
    """``{label: label of its mirror image}`` for every class that has a mirrored partner.

    Both directions of each pair are in the map and nothing else, so ``map.get(label, label)``
    applies it. Raises ``ValueError`` for two names with the same words.
    """
    canonical = _canonical
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


@dataclass(frozen=True)
class FlipLabels:
    """What a horizontal flip does to the labels of a set of classes.

    ``mapping``: label -> its mirrored partner's label (both ways); ``unpaired``: classes that name a
    direction but have no partner, whose clips must never be flipped.
    """

    class_names: tuple[str, ...]
    mapping: dict
    unpaired: tuple[int, ...]

    @property
    def direction_sensitive(self) -> bool:
        return bool(self.mapping or self.unpaired)

    def describe(self) -> Optional[str]:
        """One message naming every direction-sensitive class (None when there is none)."""
        if not self.direction_sensitive:
            return None
        name = lambda label: f"{self.class_names[label]!r} ({label})"  # noqa: E731
        parts = []
        pairs = sorted((a, b) for a, b in self.mapping.items() if a < b)
        if pairs:
            parts.append("a mirrored clip takes its partner's label: "
                         + "; ".join(f"{name(a)} <-> {name(b)}" for a, b in pairs))
        if self.unpaired:
            parts.append("no mirrored partner, so their clips are never flipped: "
                         + ", ".join(name(label) for label in self.unpaired))
        count = len(self.mapping) + len(self.unpaired)
        return (f"horizontal flip on a data set whose class names give a direction ({count} classes); "
                + ". ".join(parts) + ". Set data.flip=false to train without flipping.")


def flip_labels(class_names: Sequence[str]) -> FlipLabels:
    """The flip rule of ``class_names``: the mirrored pairs and the direction classes without a partner."""
    mapping = flip_label_map(class_names)
    unpaired = tuple(index for index, name in enumerate(class_names)
                     if index not in mapping and names_a_direction(name))
    return FlipLabels(tuple(class_names), mapping, unpaired)
