"""Stand-in animal photos: cats vs dogs (BLOG) and horses vs zebras (LECTURE, Caltech-256).

Simple drawn silhouettes on a cluttered background, with random colours, positions, sizes and
mirroring. Each pair differs by the feature a person would name:

* cat: a round head with two pointed ears standing up; dog: a longer head with a muzzle and two
  rounded ears hanging down at the sides;
* horse: a body of one solid coat colour; zebra: the same silhouette in black and white stripes.

The classes are learnable by a small convnet from a few dozen images, but not trivially: the fur
colours, background and pose are shared between the two classes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

Draw = Callable[[str, int, np.random.Generator], Image.Image]

FUR = [(120, 80, 40), (200, 160, 100), (90, 90, 90), (230, 220, 200), (60, 40, 30), (170, 110, 60)]
COATS = [(110, 70, 35), (150, 100, 55), (80, 50, 30), (60, 45, 35), (190, 150, 100)]


def _colour(palette: list[tuple[int, int, int]], rng: np.random.Generator) -> tuple[int, ...]:
    base = np.array(palette[rng.integers(len(palette))]) + rng.integers(-20, 21, 3)
    return tuple(int(v) for v in np.clip(base, 0, 255))


def _background(size: int, rng: np.random.Generator, sky: bool = False) -> Image.Image:
    """Soft random blobs (indoor clutter) or sky over grass (outdoors)."""
    img = Image.new("RGB", (size, size), tuple(int(v) for v in rng.integers(90, 200, 3)))
    draw = ImageDraw.Draw(img)
    if sky:
        horizon = int(size * rng.uniform(0.35, 0.55))
        draw.rectangle([0, 0, size, horizon], fill=(int(rng.integers(120, 180)), 180, 230))
        draw.rectangle([0, horizon, size, size], fill=(90, int(rng.integers(120, 170)), 60))
    for _ in range(int(rng.integers(3, 7))):
        x, y = rng.integers(0, size, 2)
        r = int(rng.integers(size // 12, size // 5))
        shade = tuple(int(v) for v in rng.integers(60, 220, 3))
        draw.ellipse([x - r, y - r, x + r, y + r], fill=shade)
    return img


def _noise(img: Image.Image, rng: np.random.Generator, amount: float = 12.0) -> Image.Image:
    arr = np.asarray(img, dtype=np.float32) + rng.normal(0, amount, (img.height, img.width, 3))
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def cat_or_dog(kind: str, size: int, rng: np.random.Generator) -> Image.Image:
    """One ``"cat"`` (pointed upright ears) or ``"dog"`` (muzzle, hanging ears) head."""
    img = _background(size, rng)
    draw = ImageDraw.Draw(img)
    fur = _colour(FUR, rng)
    s = size * rng.uniform(0.22, 0.3)  # head radius
    cx = size * rng.uniform(0.38, 0.62)
    cy = size * rng.uniform(0.45, 0.62)
    if kind == "cat":
        for side in (-1, 1):
            base = cx + side * s * 0.55
            draw.polygon(
                [
                    (base - s * 0.4, cy - s * 0.5),
                    (base + s * 0.4, cy - s * 0.5),
                    (base + side * s * 0.15, cy - s * 1.55),
                ],
                fill=fur,
            )
        draw.ellipse([cx - s, cy - s * 0.9, cx + s, cy + s * 0.9], fill=fur)
        nose_y = cy + s * 0.25
    elif kind == "dog":
        draw.ellipse([cx - s * 0.9, cy - s, cx + s * 0.9, cy + s * 0.9], fill=fur)
        ear = tuple(max(0, c - 50) for c in fur)
        for side in (-1, 1):
            x = cx + side * s * 0.95
            draw.ellipse([x - s * 0.35, cy - s * 0.7, x + s * 0.35, cy + s * 0.7], fill=ear)
        draw.ellipse([cx - s * 0.5, cy + s * 0.2, cx + s * 0.5, cy + s * 1.2], fill=fur)
        nose_y = cy + s * 0.75
    else:
        raise ValueError(f"kind must be 'cat' or 'dog', not {kind!r}")
    eye = max(1.0, s * 0.12)
    for side in (-1, 1):
        ex, ey = cx + side * s * 0.4, cy - s * 0.15
        draw.ellipse([ex - eye, ey - eye, ex + eye, ey + eye], fill=(20, 20, 20))
    draw.ellipse([cx - eye, nose_y - eye, cx + eye, nose_y + eye], fill=(30, 20, 20))
    if rng.random() < 0.5:
        img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return _noise(img, rng)


def _stripes(size: int, rng: np.random.Generator) -> Image.Image:
    """Black and white bands at a slight random angle (a zebra's coat)."""
    period = size * rng.uniform(0.06, 0.1)
    angle = rng.uniform(-0.4, 0.4)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    phase = (xx * np.cos(angle) + yy * np.sin(angle)) / period
    white = rng.integers(215, 250)
    band = np.where(np.sin(phase * 2 * np.pi) > 0, white, 25).astype(np.uint8)
    return Image.fromarray(np.stack([band] * 3, axis=-1))


def horse_or_zebra(kind: str, size: int, rng: np.random.Generator) -> Image.Image:
    """One side-view ``"horse"`` (solid coat) or ``"zebra"`` (striped coat) on grass."""
    img = _background(size, rng, sky=True)
    mask = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(mask)
    w = size * rng.uniform(0.45, 0.6)  # body length
    h = w * 0.42
    x0 = size * rng.uniform(0.08, 0.95 - w / size - 0.12)
    y0 = size * rng.uniform(0.3, 0.45)
    draw.ellipse([x0, y0, x0 + w, y0 + h], fill=255)
    leg = max(2.0, w * 0.08)
    for fx in (0.12, 0.3, 0.7, 0.85):
        lx = x0 + w * fx
        bottom = min(size - 1, y0 + h * 1.9)
        draw.rectangle([lx - leg / 2, y0 + h * 0.6, lx + leg / 2, bottom], fill=255)
    nx = x0 + w * 0.92
    draw.polygon(
        [
            (nx - w * 0.1, y0 + h * 0.4),
            (nx + w * 0.08, y0 - h * 0.7),
            (nx + w * 0.2, y0 - h * 0.5),
            (nx + w * 0.05, y0 + h * 0.5),
        ],
        fill=255,
    )
    draw.ellipse([nx + w * 0.02, y0 - h * 0.95, nx + w * 0.32, y0 - h * 0.45], fill=255)
    if kind == "horse":
        coat = Image.new("RGB", (size, size), _colour(COATS, rng))
    elif kind == "zebra":
        coat = _stripes(size, rng)
    else:
        raise ValueError(f"kind must be 'horse' or 'zebra', not {kind!r}")
    img.paste(coat, (0, 0), mask)
    if rng.random() < 0.5:
        img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return _noise(img, rng)


def write_split(
    folder: Path, draw: Draw, counts: dict[str, tuple[str, int]], size: int, seed: int
) -> None:
    """Write ``folder/<class>/<stem>.<i>.jpg`` for ``counts = {class: (kind, n)}``."""
    rng = np.random.default_rng(seed)
    for cls, (kind, n) in counts.items():
        (folder / cls).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            draw(kind, size, rng).save(folder / cls / f"{kind}.{i}.jpg", quality=90)
