"""MobileNetV2's source set (issue 21): notebook 05 fine-tunes it on two stand-ins, cats vs dogs
and roses vs tulips, so its source holds both ``creatures``'s heads (the cats-vs-dogs
stand-in's primitives) and ``blossoms``'s garden photos (the roses-vs-tulips stand-in's), none
of them a class of either target.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from helpers.synth import blossoms, creatures

DRAWERS = {"creature": creatures.creature, "blossom": blossoms.blossom}


def classes() -> list[dict]:
    """Every creature-head class, then every blossom class, each with its ``set``."""
    return ([{"set": "creature", **c} for c in creatures.classes()]
            + [{"set": "blossom", **c} for c in blossoms.classes()])


def draw(spec: dict, size: int, rng: np.random.Generator) -> Image.Image:
    """One image of the class ``spec``, by its set's drawing routine."""
    return DRAWERS[spec["set"]]({k: v for k, v in spec.items() if k != "set"}, size, rng)


def source_set(specs: list[dict], per_class: int, size: int,
               seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(images uint8 (n, size, size, 3), labels int)`` of ``per_class`` images of each class,
    shuffled; the same for the same arguments."""
    return creatures.source_set(specs, per_class, size, seed, draw=draw)
