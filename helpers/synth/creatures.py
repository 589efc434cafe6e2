"""The course's stand-in for ImageNet (issue 21): "creature heads", a many-class source set to
pretrain the backbones on when ImageNet's weights cannot be had (``helpers.pretrain``).

Drawn with ``animals``'s primitives (its cluttered background, fur palette, noise, head ellipse,
eyes and nose, as ``animals.cat_or_dog`` draws them), with the parts that carry the cats-vs-dogs
stand-in's class signal varied as factors. Each class is one combination of

* ear shape: triangle, ellipse, rectangle, or no ears;
* ear placement: upright on top, hanging at the sides, or sticking out at a slant;
* muzzle: none, or a snout ellipse below the head;
* head: wide (as a cat's) or tall (as a dog's);
* ear tone: the fur's colour, or darker (as a dog's ears);

leaving out every combination with the cat's parts (triangle ears upright, no muzzle) or the
dog's (ellipse ears hanging, a muzzle): the source is disjoint from the target's two classes,
so what transfers is features, never the target's labels. ``classes(coat=True)`` adds a coat
factor (solid, or zebra stripes from ``animals``), doubling the classes.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw

from helpers.synth import animals

EARS = ("triangle", "ellipse", "rectangle", "none")
PLACEMENTS = ("up", "hang", "out")
MUZZLES = (False, True)
HEADS = ("wide", "tall")
TONES = ("same", "darker")
COATS = ("solid", "stripes")
TARGET_PARTS = {("triangle", "up", False), ("ellipse", "hang", True)}  # cat's, dog's


def classes(coat: bool = False) -> list[dict]:
    """Every factor combination, without the target's parts (see the module docstring)."""
    found = []
    coats = COATS if coat else ("solid",)
    for ear, place, muzzle, head, tone, fur in itertools.product(
            EARS, PLACEMENTS, MUZZLES, HEADS, TONES, coats):
        if ear == "none" and (place, tone) != ("up", "same"):
            continue  # without ears, placement and tone mean nothing
        if (ear, place, muzzle) in TARGET_PARTS:
            continue
        found.append({"ear": ear, "place": place, "muzzle": muzzle, "head": head,
                      "tone": tone, "coat": fur})
    return found


def _ear(draw: ImageDraw.ImageDraw, shape: str, x: float, y: float, s: float, side: int,
         place: str, colour: tuple[int, ...]) -> None:
    """One ear of half-size ``s * 0.4`` centred near ``(x, y)``."""
    r = s * 0.4
    if place == "up":
        tip = (x + side * s * 0.15, y - s * 1.05)
        base = [(x - r, y), (x + r, y)]
    elif place == "hang":
        tip = (x + side * s * 0.1, y + s * 1.1)
        base = [(x - r, y), (x + r, y)]
    else:  # out: the tip pointing outwards and up at a slant
        tip = (x + side * s * 0.95, y - s * 0.75)
        base = [(x, y - r), (x, y + r)]
    if shape == "triangle":
        draw.polygon([*base, tip], fill=colour)
        return
    mid = ((base[0][0] + base[1][0]) / 2, (base[0][1] + base[1][1]) / 2)
    cx, cy = (mid[0] + tip[0]) / 2, (mid[1] + tip[1]) / 2
    half_long = float(np.hypot(tip[0] - mid[0], tip[1] - mid[1])) / 2
    half_w, half_h = (r * 0.85, half_long) if place != "out" else (half_long, r * 0.85)
    box = [cx - half_w, cy - half_h, cx + half_w, cy + half_h]
    if shape == "ellipse":
        draw.ellipse(box, fill=colour)
    else:
        draw.rectangle(box, fill=colour)


def creature(spec: dict, size: int, rng: np.random.Generator) -> Image.Image:
    """One head of the class ``spec``, drawn as ``animals.cat_or_dog`` draws a cat or a dog."""
    img = animals._background(size, rng)
    draw = ImageDraw.Draw(img)
    fur = animals._colour(animals.FUR, rng)
    s = size * rng.uniform(0.22, 0.3)
    cx = size * rng.uniform(0.38, 0.62)
    cy = size * rng.uniform(0.45, 0.62)
    ear_colour = fur if spec["tone"] == "same" else tuple(max(0, c - 50) for c in fur)
    head = ([cx - s, cy - s * 0.9, cx + s, cy + s * 0.9] if spec["head"] == "wide"
            else [cx - s * 0.9, cy - s, cx + s * 0.9, cy + s * 0.9])
    mask = Image.new("L", (size, size), 0)
    mdraw = ImageDraw.Draw(mask)
    behind = spec["place"] == "up"  # upright ears go behind the head, others over its sides
    ears = []
    if spec["ear"] != "none":
        for side in (-1, 1):
            if spec["place"] == "up":
                x, y = cx + side * s * 0.55, cy - s * 0.5
            elif spec["place"] == "hang":
                x, y = cx + side * s * 0.95, cy - s * 0.7
            else:
                x, y = cx + side * s * 0.85, cy - s * 0.35
            ears.append((x, y, side))
    if behind:
        for x, y, side in ears:
            _ear(draw, spec["ear"], x, y, s, side, spec["place"], ear_colour)
    mdraw.ellipse(head, fill=255)
    if spec["muzzle"]:
        mdraw.ellipse([cx - s * 0.5, cy + s * 0.2, cx + s * 0.5, cy + s * 1.2], fill=255)
    if spec["coat"] == "stripes":
        coat = animals._stripes(size, rng)
    else:
        coat = Image.new("RGB", (size, size), fur)
    img.paste(coat, (0, 0), mask)
    if not behind:
        for x, y, side in ears:
            _ear(draw, spec["ear"], x, y, s, side, spec["place"], ear_colour)
    eye = max(1.0, s * 0.12)
    for side in (-1, 1):
        ex, ey = cx + side * s * 0.4, cy - s * 0.15
        draw.ellipse([ex - eye, ey - eye, ex + eye, ey + eye], fill=(20, 20, 20))
    nose_y = cy + (s * 0.75 if spec["muzzle"] else s * 0.25)
    draw.ellipse([cx - eye, nose_y - eye, cx + eye, nose_y + eye], fill=(30, 20, 20))
    if rng.random() < 0.5:
        img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return animals._noise(img, rng)


def source_set(specs: list[dict], per_class: int, size: int, seed: int,
               draw: Callable[[dict, int, np.random.Generator], Image.Image] = creature,
               ) -> tuple[np.ndarray, np.ndarray]:
    """``(images uint8 (n, size, size, 3), labels int)`` of ``per_class`` heads of each class
    (``draw(spec, size, rng)`` draws one), shuffled; the same for the same arguments."""
    rng = np.random.default_rng(seed)
    x = np.empty((len(specs) * per_class, size, size, 3), np.uint8)
    y = np.repeat(np.arange(len(specs)), per_class)
    for i, label in enumerate(y):
        x[i] = np.asarray(draw(specs[label], size, rng))
    order = rng.permutation(len(y))
    return x[order], y[order]


def factor_labels(specs: list[dict], y: np.ndarray) -> dict[str, np.ndarray]:
    """Each factor of each image's class as an integer label, for the factors that vary: the
    extra targets of a pretraining with one softmax head per factor (``helpers.pretrain``)."""
    out = {}
    for name in specs[0]:
        values = sorted({str(c[name]) for c in specs})
        if len(values) > 1:
            index = np.array([values.index(str(c[name])) for c in specs])
            out[name] = index[y]
    return out
