"""Stand-in for CIFAR-10/100 (CIFAR): 32x32 colour images whose class is drawn into the pixels.

Each class is one (pattern, hue) pair: the pattern (stripes in three directions, checkerboard,
disc, ring, square, cross, corner gradient, dots) is drawn in the class's hue over a background of
the complementary hue. Position, phase, brightness and pixel noise vary per image, so a CNN has a
real, learnable signal to find, and nothing identifies a class by one pixel.

The stand-ins use the hues ``k / 10``; ``classes()`` and ``source_set()`` are the course's
stand-in for ImageNet for notebook 06 (``helpers.pretrain``, issue 21): the same ten patterns at
the ten hues halfway between, ``(k + 0.5) / 10``, 100 classes none of which is a class of either
stand-in, so what transfers is features (patterns, hues), never the target's labels.
"""

from __future__ import annotations

import colorsys

import numpy as np

SIDE = 32
PATTERNS = 10


def _pattern(kind: int, rng: np.random.Generator) -> np.ndarray:
    """A 32x32 mask in [0, 1] for pattern ``kind`` with a random offset and period."""
    yy, xx = np.mgrid[0:SIDE, 0:SIDE].astype(np.float32)
    cy, cx = rng.uniform(10, 22, size=2)
    period = rng.uniform(6, 9)
    phase = rng.uniform(0, period)
    r = np.hypot(yy - cy, xx - cx)
    if kind == 0:
        return ((yy + phase) % period < period / 2).astype(np.float32)
    if kind == 1:
        return ((xx + phase) % period < period / 2).astype(np.float32)
    if kind == 2:
        return ((xx + yy + phase) % period < period / 2).astype(np.float32)
    if kind == 3:
        return (((xx + phase) // 6 + (yy + phase) // 6) % 2).astype(np.float32)
    if kind == 4:
        return (r < rng.uniform(6, 10)).astype(np.float32)
    if kind == 5:
        return (np.abs(r - rng.uniform(7, 10)) < 2).astype(np.float32)
    if kind == 6:
        half = rng.uniform(5, 9)
        return ((np.abs(yy - cy) < half) & (np.abs(xx - cx) < half)).astype(np.float32)
    if kind == 7:
        return ((np.abs(yy - cy) < 2) | (np.abs(xx - cx) < 2)).astype(np.float32)
    if kind == 8:
        return np.clip((xx + yy) / (2 * SIDE) + rng.uniform(-0.1, 0.1), 0, 1)
    return (((xx + phase) % 8 < 3) & ((yy + phase) % 8 < 3)).astype(np.float32)


def _hue_rgb(hue: float, value: float) -> np.ndarray:
    return np.array(colorsys.hsv_to_rgb(hue % 1.0, 0.8, value), dtype=np.float32)


def _draw(pattern: int, hue: float, rng: np.random.Generator) -> np.ndarray:
    """One uint8 image of ``pattern`` in ``hue`` over the complementary hue."""
    mask = _pattern(pattern, rng)[..., None]
    value = rng.uniform(0.6, 1.0)
    fg, bg = _hue_rgb(hue, value), _hue_rgb(hue + 0.5, value * 0.5)
    img = mask * fg + (1 - mask) * bg + rng.normal(0, 0.08, (SIDE, SIDE, 3))
    return np.clip(img * 255, 0, 255).astype(np.uint8)


def cifar_like(n_per_class: int, n_classes: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n_per_class`` images of each of ``n_classes`` classes, shuffled.

    Returns uint8 images ``(N, 32, 32, 3)`` and uint8 labels ``(N, 1)``, as keras.datasets.cifar
    gives them. Class ``c`` uses pattern ``c % 10`` and one of ``ceil(n_classes / 10)`` hues.
    """
    rng = np.random.default_rng(seed)
    hues = max(1, -(-n_classes // PATTERNS))
    images = np.empty((n_per_class * n_classes, SIDE, SIDE, 3), dtype=np.uint8)
    labels = np.repeat(np.arange(n_classes, dtype=np.uint8), n_per_class)
    for i, c in enumerate(labels):
        hue = (c // PATTERNS) / hues if n_classes > PATTERNS else c / n_classes
        images[i] = _draw(int(c) % PATTERNS, hue, rng)
    order = rng.permutation(len(labels))
    return images[order], labels[order].reshape(-1, 1)


def classes() -> list[dict]:
    """The source classes (module docstring): every pattern at every in-between hue."""
    return [{"pattern": p, "hue": (k + 0.5) / 10} for k in range(10) for p in range(PATTERNS)]


def source_set(specs: list[dict], per_class: int, size: int,
               seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(images uint8 (n, 32, 32, 3), labels int)`` of ``per_class`` images of each class,
    shuffled; the same for the same arguments. ``size`` must be CIFAR's 32."""
    if size != SIDE:
        raise ValueError(f"the CIFAR source is drawn at {SIDE} px, not {size}")
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(len(specs)), per_class)
    x = np.stack([_draw(specs[c]["pattern"], specs[c]["hue"], rng) for c in y])
    order = rng.permutation(len(y))
    return x[order], y[order]
