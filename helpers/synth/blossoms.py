"""Blossom classes for the course's stand-in for ImageNet (issue 21): the part of MobileNetV2's
source set (``helpers.synth.garden``) that shares the roses-vs-tulips stand-in's primitives.

Drawn as ``flowers.rose_or_tulip`` draws its photos (its garden background, layout, blooms and
noise), with the parts that carry the roses-vs-tulips class signal varied as factors. Each class
is one combination of

* bloom: concentric petal rings (as a rose's), a cup with three petal tips (as a tulip's), a
  five-pointed star, a bell hanging from its top, or a daisy (one ring of long petals);
* stem: none, or a green stem with a leaf (as a tulip's);
* tone: warm (reds and pinks) or light (yellows, oranges and whites);

leaving out the rose's parts (rings without a stem) and the tulip's (a cup on a stem) in either
tone: the source is disjoint from the target's two classes, so what transfers is features,
never the target's labels.
"""

from __future__ import annotations

import itertools

import numpy as np
from PIL import Image, ImageDraw

from helpers.synth import flowers

BLOOMS = ("rings", "cup", "star", "bell", "daisy")
STEMS = (False, True)
TONES = {"warm": [(190, 20, 40), (150, 10, 30), (235, 120, 160)],
         "light": [(245, 240, 235), (240, 210, 60), (245, 200, 30), (240, 120, 30)]}
TARGET_PARTS = {("rings", False), ("cup", True)}  # the rose's, the tulip's


def classes() -> list[dict]:
    """Every factor combination, without the target's parts (see the module docstring)."""
    return [{"bloom": bloom, "stem": stem, "tone": tone}
            for bloom, stem, tone in itertools.product(BLOOMS, STEMS, TONES)
            if (bloom, stem) not in TARGET_PARTS]


def _star(draw: ImageDraw.ImageDraw, cx: float, cy: float, r: float,
          colour: flowers.Colour) -> None:
    """Five pointed petals around a darker centre."""
    points = [(cx + np.cos(a) * r * (1.0 if k % 2 == 0 else 0.45),
               cy + np.sin(a) * r * (1.0 if k % 2 == 0 else 0.45))
              for k, a in enumerate(-np.pi / 2 + np.pi * np.arange(10) / 5)]
    draw.polygon(points, fill=colour, outline=flowers._shade(colour, 0.6))
    draw.ellipse([cx - r * 0.2, cy - r * 0.2, cx + r * 0.2, cy + r * 0.2],
                 fill=flowers._shade(colour, 0.5))


def _bell(draw: ImageDraw.ImageDraw, cx: float, cy: float, r: float,
          colour: flowers.Colour) -> None:
    """A dome open downwards, with a scalloped rim."""
    draw.pieslice([cx - r * 0.7, cy - r * 0.8, cx + r * 0.7, cy + r * 0.8], 180, 360, fill=colour)
    draw.rectangle([cx - r * 0.7, cy - r * 0.05, cx + r * 0.7, cy + r * 0.35], fill=colour)
    for k in (-1, 0, 1):
        x = cx + k * r * 0.47
        draw.ellipse([x - r * 0.24, cy + r * 0.15, x + r * 0.24, cy + r * 0.6],
                     fill=flowers._shade(colour, 0.8))


def _daisy(draw: ImageDraw.ImageDraw, cx: float, cy: float, r: float,
           colour: flowers.Colour, rng: np.random.Generator) -> None:
    """One ring of long narrow petals around a yellow-brown centre."""
    offset = rng.uniform(0, 2 * np.pi)
    for a in offset + 2 * np.pi * np.arange(12) / 12:
        tip = (cx + np.cos(a) * r, cy + np.sin(a) * r)
        side = (np.cos(a + np.pi / 2) * r * 0.12, np.sin(a + np.pi / 2) * r * 0.12)
        mid = (cx + np.cos(a) * r * 0.5, cy + np.sin(a) * r * 0.5)
        draw.polygon([(cx, cy), (mid[0] + side[0], mid[1] + side[1]), tip,
                      (mid[0] - side[0], mid[1] - side[1])], fill=colour)
    draw.ellipse([cx - r * 0.25, cy - r * 0.25, cx + r * 0.25, cy + r * 0.25],
                 fill=(200, 150, 30))


def blossom(spec: dict, size: int, rng: np.random.Generator) -> Image.Image:
    """One garden photo of the class ``spec``, drawn as ``flowers.rose_or_tulip`` draws its."""
    palette = TONES[spec["tone"]]

    def bloom(draw: ImageDraw.ImageDraw, cx: float, cy: float, r: float,
              colour: flowers.Colour, g: np.random.Generator) -> None:
        if spec["stem"]:
            flowers._stem(draw, cx, cy, r, size)
        if spec["bloom"] == "rings":
            flowers._rose(draw, cx, cy, r, colour, g)
        elif spec["bloom"] == "cup":
            flowers._cup(draw, cx, cy, r, colour)
        elif spec["bloom"] == "star":
            _star(draw, cx, cy, r, colour)
        elif spec["bloom"] == "bell":
            _bell(draw, cx, cy, r, colour)
        else:
            _daisy(draw, cx, cy, r, colour, g)

    return flowers.photo(size, rng, lambda g: flowers._pick(palette, [1 / len(palette)] *
                                                            len(palette), g), bloom)
