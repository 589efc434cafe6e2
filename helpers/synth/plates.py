"""The course's stand-in for ImageNet for notebook 07 (issue 21): "steel plates", a many-class
source set to pretrain MobileNet on when ImageNet's weights cannot be had (``helpers.pretrain``).

Drawn with ``motor``'s primitives (its blue-light steel, lit rims, placement a quarter to a half
in frame, and its six defect kinds with their shapes and sizes), on parts that are not motor
cores. Each class is one combination of

* part: a ``washer`` (a plain ring), a ``gear`` (teeth on its rim) or a ``flange`` (a disc with
  a ring of bolt holes);
* texture of the steel: concentric ``rings``, straight ``brushed`` lines or ``matte``;
* mark: one of ``motor.KINDS`` (scratch, dent, chip, misalignment, rust, discolouration), or
  none;

63 classes, none of them a stator or a rotor, so none is a class of the motor-core stand-in
(defect or ok): what transfers is features (steel, edges, marks), never the target's labels.
Images are drawn at quick mode's motor-core size with its larger defects
(``motor_cores_small``: 64 px, defects 2.5x) and enlarged to the size asked for, as notebook 07
enlarges its cores.
"""

from __future__ import annotations

import itertools

import numpy as np
from PIL import Image

from helpers.synth import motor

PARTS = ("washer", "gear", "flange")
TEXTURES = ("rings", "brushed", "matte")
MARKS = (*motor.KINDS, "none")
DRAWN = 64  # motor_cores_small's size and defect scale
SCALE = 2.5
VIEW = 128  # notebook 07's smallest quick input size: the cores are enlarged to it


def classes() -> list[dict]:
    """Every part x texture x mark (module docstring)."""
    return [{"part": p, "texture": t, "mark": m}
            for p, t, m in itertools.product(PARTS, TEXTURES, MARKS)]


def draw_plate(size: int, part: str, texture: str, rng: np.random.Generator) -> motor.Core:
    """A defect-free ``part`` in ``texture``, a quarter to a half of it in frame."""
    outer, centre = motor.place(size, rng)
    r, theta = motor._polar(size, centre)
    if part == "washer":
        bore = outer * rng.uniform(0.35, 0.6)
        metal, edges = (r >= bore) & (r <= outer), (outer, bore)
    elif part == "gear":
        bore = outer * rng.uniform(0.3, 0.5)
        teeth = int(rng.integers(10, 25))
        depth = outer * rng.uniform(0.06, 0.1)
        phase = np.mod((theta + rng.uniform(0, 2 * np.pi)) * teeth / (2 * np.pi), 1.0)
        root = outer - depth
        metal = (r >= bore) & ((r <= root) | ((r <= outer) & (np.abs(phase - 0.5) < 0.25)))
        edges = (root, bore)
    elif part == "flange":
        hole = outer * rng.uniform(0.1, 0.2)
        bolts = int(rng.integers(4, 9))
        ring = outer * rng.uniform(0.55, 0.75)
        phase = np.mod((theta + rng.uniform(0, 2 * np.pi)) * bolts / (2 * np.pi), 1.0)
        bolt = np.hypot(r - ring, (phase - 0.5) * 2 * np.pi * ring / bolts) < outer * 0.07
        metal, edges = (r >= hole) & (r <= outer) & ~bolt, (outer, hole)
    else:
        raise ValueError(f"part must be one of {PARTS}, not {part!r}")
    return motor.steel(metal, r, rng, part, centre, edges, texture)


def plate_image(spec: dict, size: int, rng: np.random.Generator, view: int = VIEW) -> np.ndarray:
    """One RGB uint8 image of the class ``spec``: drawn at ``DRAWN`` px, enlarged to ``view``
    px, and of that a ``size`` px crop holding a pixel of the mark (anywhere for no mark): a
    network trained on the crops sees the marks at the scale notebook 07 shows them, at the
    cost of ``size`` px."""
    core = draw_plate(DRAWN, spec["part"], spec["texture"], rng)
    image, mask = core.image, np.zeros_like(core.metal)
    if spec["mark"] != "none":
        image, mask = motor.add_defect(core, spec["mark"], rng, SCALE)
    grey = Image.fromarray((image * 255).round().astype(np.uint8))
    grey = np.asarray(grey.resize((view, view), Image.Resampling.BILINEAR))
    if size >= view:
        return np.repeat(grey[..., None], 3, axis=-1)
    ys, xs = np.nonzero(mask) if mask.any() else (np.array([DRAWN // 2]), np.array([DRAWN // 2]))
    k = rng.integers(len(xs))
    centre = np.array([ys[k], xs[k]]) * view / DRAWN + rng.integers(4 - size // 2, size // 2 - 3, 2)
    if not mask.any():
        centre = rng.integers(size // 2, view - size // 2 + 1, 2)
    top, left = np.clip(centre - size // 2, 0, view - size).astype(int)
    crop = grey[top:top + size, left:left + size]
    return np.repeat(crop[..., None], 3, axis=-1)


def source_set(specs: list[dict], per_class: int, size: int,
               seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(images uint8 (n, size, size, 3), labels int)`` of ``per_class`` plates of each class,
    shuffled; the same for the same arguments."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(len(specs)), per_class)
    x = np.stack([plate_image(specs[c], size, rng) for c in y])
    order = rng.permutation(len(y))
    return x[order], y[order]


def factor_labels(specs: list[dict], y: np.ndarray) -> dict[str, np.ndarray]:
    """Each factor of each image's class as an integer label (``helpers.pretrain``'s factor
    heads): part, texture and mark."""
    return {name: np.array([values.index(c[name]) for c in specs])[y]
            for name, values in (("part", PARTS), ("texture", TEXTURES), ("mark", MARKS))}
