"""Stand-in flower photos: roses vs tulips (RATIO §5.3, the TensorFlow flowers set).

Each image is one or a few drawn blooms on a garden or sky background. The classes differ by the
features a person would name:

* rose: a round bloom of concentric, overlapping petal rings (a spiral texture seen from above);
* tulip: a cup seen from the side, three pointed petal tips on top, on a long green stem with a
  leaf.

Colours overlap (both come in red, pink, white and yellow, roses lean to red, tulips to yellow and
orange). As in RATIO's data, some images are "noisy": a few small tulips far away in a landscape,
or a rose on a painted frame.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROSE = [(190, 20, 40), (150, 10, 30), (235, 120, 160), (245, 240, 235), (240, 210, 60)]
TULIP = [(245, 200, 30), (240, 120, 30), (235, 120, 160), (245, 240, 235), (200, 30, 40)]
ROSE_WEIGHTS = [0.35, 0.25, 0.2, 0.1, 0.1]
TULIP_WEIGHTS = [0.3, 0.25, 0.2, 0.1, 0.15]
CLASSES = ("roses", "tulips")
Colour = tuple[int, int, int]


def _pick(palette: list[tuple[int, int, int]], weights: list[float],
          rng: np.random.Generator) -> tuple[int, int, int]:
    base = np.array(palette[rng.choice(len(palette), p=weights)]) + rng.integers(-25, 26, 3)
    return tuple(int(v) for v in np.clip(base, 0, 255))


def _shade(colour: tuple[int, int, int], factor: float) -> tuple[int, int, int]:
    return tuple(int(np.clip(c * factor, 0, 255)) for c in colour)


def _background(size: int, rng: np.random.Generator) -> Image.Image:
    """Blurred foliage (green blobs), or sky over a field."""
    leaves = (int(rng.integers(40, 90)), int(rng.integers(90, 150)), 50)
    img = Image.new("RGB", (size, size), leaves)
    draw = ImageDraw.Draw(img)
    if rng.random() < 0.4:
        horizon = int(size * rng.uniform(0.3, 0.6))
        draw.rectangle([0, 0, size, horizon], fill=(140, 180, int(rng.integers(210, 250))))
    for _ in range(int(rng.integers(4, 9))):
        x, y = rng.integers(0, size, 2)
        r = int(rng.integers(size // 14, size // 5))
        green = (int(rng.integers(20, 90)), int(rng.integers(80, 170)), int(rng.integers(20, 80)))
        draw.ellipse([x - r, y - r, x + r, y + r], fill=green)
    return img


def _rose(draw: ImageDraw.ImageDraw, cx: float, cy: float, r: float, colour: tuple[int, int, int],
          rng: np.random.Generator) -> None:
    """Concentric rings of petals, darker towards the centre."""
    rings = 4
    for k in range(rings):
        radius = r * (1 - k / rings)
        petals = 6 + 2 * (rings - k)
        offset = rng.uniform(0, 2 * np.pi)
        for p in range(petals):
            a = offset + 2 * np.pi * p / petals
            px, py = cx + np.cos(a) * radius * 0.45, cy + np.sin(a) * radius * 0.45
            pr = radius * 0.55
            draw.ellipse([px - pr, py - pr, px + pr, py + pr], fill=_shade(colour, 1 - 0.12 * k),
                         outline=_shade(colour, 0.55 - 0.05 * k))
    draw.ellipse([cx - r * 0.12, cy - r * 0.12, cx + r * 0.12, cy + r * 0.12],
                 fill=_shade(colour, 0.45))


def _stem(draw: ImageDraw.ImageDraw, cx: float, cy: float, r: float, size: int) -> None:
    """A green stem from below a bloom of radius ``r`` at ``(cx, cy)`` down to the edge, with
    one leaf."""
    draw.line([(cx, cy + r * 0.8), (cx, size)], fill=(40, 120, 40), width=max(1, int(r * 0.18)))
    draw.polygon([(cx, cy + r * 2.2), (cx - r * 0.9, cy + r * 1.2), (cx - r * 0.1, cy + r * 1.6)],
                 fill=(50, 140, 50))


def _cup(draw: ImageDraw.ImageDraw, cx: float, cy: float, r: float,
         colour: tuple[int, int, int]) -> None:
    """A cup seen from the side with three pointed petal tips."""
    draw.chord([cx - r * 0.75, cy - r * 0.6, cx + r * 0.75, cy + r * 0.9], 0, 180, fill=colour)
    draw.rectangle([cx - r * 0.75, cy - r * 0.2, cx + r * 0.75, cy + r * 0.15], fill=colour)
    dark = _shade(colour, 0.7)
    for tip in (-0.5, 0.0, 0.5):
        x = cx + tip * r
        draw.polygon([(x - r * 0.3, cy - r * 0.15), (x + r * 0.3, cy - r * 0.15),
                      (x, cy - r * (0.95 if tip == 0 else 0.75))],
                     fill=colour if tip else dark)


def _tulip(draw: ImageDraw.ImageDraw, cx: float, cy: float, r: float, colour: tuple[int, int, int],
           size: int) -> None:
    """A cup with three pointed petal tips, on a stem with one leaf."""
    _stem(draw, cx, cy, r, size)
    _cup(draw, cx, cy, r, colour)


def photo(size: int, rng: np.random.Generator, colour: Callable[[np.random.Generator], Colour],
          bloom: Callable[..., None], frame: float = 0.0) -> Image.Image:
    """A garden photo of one or a few blooms (sometimes tiny, in a landscape), each drawn by
    ``bloom(draw, cx, cy, r, colour, rng)`` in one ``colour(rng)``; a painted frame around it
    with probability ``frame``."""
    img = _background(size, rng)
    draw = ImageDraw.Draw(img)
    far = rng.random() < 0.15  # RATIO: "a few small flowers in a landscape"
    count = int(rng.integers(3, 6)) if far else int(rng.integers(1, 3))
    scale = rng.uniform(0.06, 0.09) if far else rng.uniform(0.18, 0.3)
    tone = colour(rng)
    for _ in range(count):
        r = size * scale * rng.uniform(0.85, 1.15)
        cx = size * rng.uniform(0.2, 0.8)
        cy = size * rng.uniform(0.25, 0.7)
        bloom(draw, cx, cy, r, tone, rng)
    if frame and rng.random() < frame:  # RATIO: a rose on a painting's frame
        w = int(size * 0.06)
        draw.rectangle([0, 0, size - 1, size - 1], outline=(150, 110, 50), width=w)
    arr = np.asarray(img, dtype=np.float32) + rng.normal(0, 10, (size, size, 3))
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def rose_or_tulip(kind: str, size: int, rng: np.random.Generator) -> Image.Image:
    """One photo of ``"rose"`` or ``"tulip"`` blooms (sometimes tiny, sometimes several)."""
    if kind == "rose":
        return photo(size, rng, lambda g: _pick(ROSE, ROSE_WEIGHTS, g), _rose, frame=0.08)
    if kind == "tulip":
        return photo(size, rng, lambda g: _pick(TULIP, TULIP_WEIGHTS, g),
                     lambda draw, cx, cy, r, colour, _: _tulip(draw, cx, cy, r, colour, size))
    raise ValueError(f"kind must be 'rose' or 'tulip', not {kind!r}")


def write_flower_photos(folder: Path, counts: dict[str, int], size: int, seed: int) -> None:
    """Write ``folder/{roses,tulips}/<i>.jpg`` (``counts = {"roses": n, "tulips": m}``), the
    class-folder layout of ``flower_photos.tgz``."""
    rng = np.random.default_rng(seed)
    kinds = {"roses": "rose", "tulips": "tulip"}
    for cls, n in counts.items():
        (folder / cls).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            rose_or_tulip(kinds[cls], size, rng).save(folder / cls / f"{kinds[cls]}_{i}.jpg",
                                                      quality=90)
