"""Synthetic motor cores (MOTOR §6.1, データセット): laminations under blue light, defect masks.

MOTOR's photographs are proprietary, so the course draws its own: grayscale images of a stator
(a ring with slots and teeth on its bore) or a rotor (a disc with closed bar slots near the rim
and a shaft hole), 1/2 to 1/4 of the core in frame, at a random position, rotation and
illumination, with the fine concentric texture of stacked steel sheets. A defect image carries
one defect of a kind MOTOR names, and its pixel mask marks every pixel the defect changed:

==================  ========  ====================================================
kind                MOTOR     drawn as
==================  ========  ====================================================
``scratch``         線傷       a thin straight line, brighter or darker than the face
``dent``            打痕       a small shaded bowl (lit on one side, shadowed on the other)
``chip``            欠け       a bite missing from an edge of the core
``misalignment``    鋼板ずれ   a sheet sticking out of the stack along an edge
``rust``            錆び       a dark mottled blotch
``discolouration``  変色       a large soft patch of different brightness (after annealing)
==================  ========  ====================================================

``write_dataset`` writes MOTOR's layout (300 defect + 800 good images at 640x640, 76/24 split)::

    train/defect/0000_scratch.png   train/ok/0000.png
    validation/defect/...           validation/ok/...
    masks/train/defect/0000_scratch.png ...   (255 = defect pixel; same names as the images)
    defects.csv                     split, file, kind, core  (one row per defect image)
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

KINDS = ("scratch", "dent", "chip", "misalignment", "rust", "discolouration")
JAPANESE = {
    "scratch": "線傷",
    "dent": "打痕",
    "chip": "欠け",
    "misalignment": "鋼板ずれ",
    "rust": "錆び",
    "discolouration": "変色",
}
CLASSES = ("defect", "ok")
SPLITS = ("train", "validation")
VALIDATION_SHARE = 0.24
MASK_LEVEL = 0.5 / 255  # a pixel changed by more than this (visible in uint8) is in the mask


@dataclass
class Core:
    """One drawn core: the clean image (floats in [0, 1]), where the steel is, and its circles."""

    image: np.ndarray
    metal: np.ndarray
    part: str  # "stator" or "rotor"
    centre: tuple[float, float]
    edges: tuple[float, ...]  # radii of the circular edges (outer rim, bore or shaft hole)
    background: float


def _polar(size: int, centre: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    dx, dy = xx - centre[0], yy - centre[1]
    return np.hypot(dx, dy), np.arctan2(dy, dx)


def _profile(n: int, rng: np.random.Generator, smooth: float) -> np.ndarray:
    """A smooth random 1-D profile (rolling marks of the sheets, varying along the radius)."""
    return ndimage.gaussian_filter1d(rng.normal(size=n), smooth, mode="wrap")


def place(size: int, rng: np.random.Generator) -> tuple[float, tuple[float, float]]:
    """A circular part's outer radius and centre, a quarter to a half of it in frame."""
    outer = size * rng.uniform(0.75, 1.05)
    towards = rng.uniform(0, 2 * np.pi)
    offset = outer * rng.uniform(0.45, 0.8)
    return outer, (size / 2 + offset * np.cos(towards), size / 2 + offset * np.sin(towards))


def draw_core(size: int, rng: np.random.Generator) -> Core:
    """A defect-free stator or rotor, a quarter to a half of it in frame (MOTOR §6.1)."""
    part = "stator" if rng.random() < 0.5 else "rotor"
    outer, centre = place(size, rng)
    r, theta = _polar(size, centre)
    spin = rng.uniform(0, 2 * np.pi)
    if part == "stator":
        bore = outer * rng.uniform(0.55, 0.68)
        slots = int(rng.integers(24, 49))
        depth = (outer - bore) * rng.uniform(0.35, 0.55)
        phase = np.mod((theta + spin) * slots / (2 * np.pi), 1.0)
        slot = (r < bore + depth) & (np.abs(phase - 0.5) < rng.uniform(0.18, 0.26))
        metal = (r >= bore) & (r <= outer) & ~slot
        edges = (outer, bore)
    else:
        shaft = outer * rng.uniform(0.18, 0.3)
        bars = int(rng.integers(18, 37))
        rim = outer * rng.uniform(0.03, 0.05)
        depth = outer * rng.uniform(0.08, 0.14)
        phase = np.mod((theta + spin) * bars / (2 * np.pi), 1.0)
        bar = (r > outer - rim - depth) & (r < outer - rim) & (np.abs(phase - 0.5) < 0.2)
        vents = int(rng.integers(4, 9))
        vent_r = (shaft + outer - rim - depth) / 2
        vphase = np.mod((theta + spin / 3) * vents / (2 * np.pi), 1.0)
        vent = np.hypot(r - vent_r, (vphase - 0.5) * 2 * np.pi * vent_r / vents) < outer * 0.05
        metal = (r >= shaft) & (r <= outer) & ~bar & ~vent
        edges = (outer, shaft)
    return steel(metal, r, rng, part, centre, edges)


def steel(metal: np.ndarray, r: np.ndarray, rng: np.random.Generator, part: str,
          centre: tuple[float, float], edges: tuple[float, ...],
          texture: str = "rings") -> Core:
    """The part whose steel is ``metal`` (``r``: each pixel's distance from ``centre``) under
    blue light: a sloped and a spot light, lit rims, a dark background, and the sheets'
    ``texture``: concentric rolling ``"rings"`` (a motor core's stacked laminations),
    straight ``"brushed"`` lines at a random angle, or ``"matte"`` (blotches, no lines)."""
    size = metal.shape[0]
    face = rng.uniform(0.42, 0.62)
    angle = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    light = rng.uniform(0.1, 0.25) * ((xx - 0.5) * np.cos(angle) + (yy - 0.5) * np.sin(angle))
    hx, hy = rng.uniform(0, 1, 2)
    light += rng.uniform(0.05, 0.15) * np.exp(-((xx - hx) ** 2 + (yy - hy) ** 2) / 0.08)
    if texture == "matte":
        lines = ndimage.gaussian_filter(rng.normal(size=(size, size)), max(1.0, size / 40))
        lines = lines / (lines.std() + 1e-6) * rng.uniform(0.025, 0.045)
    else:
        rings = _profile(2 * size + 8, rng, smooth=max(0.7, size / 400))
        rings = rings / (rings.std() + 1e-6) * rng.uniform(0.025, 0.045)
        if texture == "brushed":
            turn = rng.uniform(0, np.pi)
            r = np.abs((xx * np.cos(turn) + yy * np.sin(turn)) * size)
        lines = rings[np.clip((r * 2).astype(int), 0, len(rings) - 1)]
    streak = ndimage.gaussian_filter(rng.normal(size=(size, size)), (0.3, 0.3)) * 0.015
    face = face + light + lines + streak
    soft = ndimage.gaussian_filter(metal.astype(np.float32), max(0.6, size / 500))
    rim_light = np.clip(soft - ndimage.gaussian_filter(soft, max(1.0, size / 250)), 0, 1)
    background = rng.uniform(0.04, 0.14)
    image = background + soft * (face - background) + 0.6 * rim_light
    image += rng.normal(0, 0.012, (size, size))
    return Core(np.clip(image, 0, 1).astype(np.float32), metal, part, centre, edges, background)


def _metal_point(core: Core, rng: np.random.Generator, margin: int) -> tuple[int, int]:
    """A random pixel (x, y) on the steel face, away from the frame border."""
    size = core.metal.shape[0]
    inner = np.zeros_like(core.metal)
    inner[margin:size - margin, margin:size - margin] = True
    eroded = ndimage.binary_erosion(core.metal, iterations=max(1, margin // 2)) & inner
    ys, xs = np.nonzero(eroded if eroded.any() else core.metal)
    k = int(rng.integers(len(xs)))
    return int(xs[k]), int(ys[k])


def _edge_point(core: Core, rng: np.random.Generator, margin: int) -> tuple[float, float, float]:
    """A visible point on one of the core's circular edges: (radius, angle, outward sign)."""
    size = core.metal.shape[0]
    cx, cy = core.centre
    angles = np.linspace(0, 2 * np.pi, 720, endpoint=False)
    for radius, sign in rng.permutation(np.array([(core.edges[0], 1.0), (core.edges[1], -1.0)])):
        x, y = cx + radius * np.cos(angles), cy + radius * np.sin(angles)
        inside = (x > margin) & (x < size - margin) & (y > margin) & (y < size - margin)
        # keep edge points next to steel (not at a slot opening)
        xi = np.clip((x - sign * 2 * np.cos(angles)).astype(int), 0, size - 1)
        yi = np.clip((y - sign * 2 * np.sin(angles)).astype(int), 0, size - 1)
        ok = inside & core.metal[yi, xi]
        if ok.any():
            return float(radius), float(rng.choice(angles[ok])), float(sign)
    raise ValueError("no core edge in frame")


def _scratch(core: Core, rng: np.random.Generator, scale: float) -> np.ndarray:
    size = core.metal.shape[0]
    x, y = _metal_point(core, rng, size // 10)
    length = max(24.0, size * rng.uniform(0.12, 0.3)) * scale
    a = rng.uniform(0, np.pi)
    dx, dy = np.cos(a) * length / 2, np.sin(a) * length / 2
    canvas = Image.new("L", (size, size), 0)
    width = max(1, int(round(size * rng.uniform(0.003, 0.006) * scale)))
    ImageDraw.Draw(canvas).line([(x - dx, y - dy), (x + dx, y + dy)], fill=255, width=width)
    line = np.asarray(canvas, dtype=np.float32) / 255
    sign = 1.0 if rng.random() < 0.5 else -1.0
    return sign * rng.uniform(0.22, 0.32) * line * core.metal


def _dent(core: Core, rng: np.random.Generator, scale: float) -> np.ndarray:
    size = core.metal.shape[0]
    x, y = _metal_point(core, rng, size // 10)
    a = max(5.0, size * rng.uniform(0.02, 0.035)) * scale
    b = a * rng.uniform(0.6, 1.0)
    tilt, light = rng.uniform(0, np.pi), rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    u = ((xx - x) * np.cos(tilt) + (yy - y) * np.sin(tilt)) / a
    v = (-(xx - x) * np.sin(tilt) + (yy - y) * np.cos(tilt)) / b
    bowl = np.clip(1 - u**2 - v**2, 0, None)
    side = (xx - x) * np.cos(light) + (yy - y) * np.sin(light)
    shade = -0.18 * bowl + 0.35 * bowl * np.tanh(side / a * 2)
    return shade * core.metal


def _chip(core: Core, rng: np.random.Generator, scale: float) -> np.ndarray:
    size = core.metal.shape[0]
    radius, angle, _ = _edge_point(core, rng, size // 10)
    cx, cy = core.centre
    ex, ey = cx + radius * np.cos(angle), cy + radius * np.sin(angle)
    bite = max(7.0, size * rng.uniform(0.03, 0.055)) * scale
    corners = int(rng.integers(5, 8))
    turns = (np.arange(corners) + rng.uniform(-0.3, 0.3, corners)) * 2 * np.pi / corners
    reach = bite * rng.uniform(0.5, 1.0, corners)
    points = [(ex + d * np.cos(t), ey + d * np.sin(t)) for t, d in zip(turns, reach, strict=True)]
    canvas = Image.new("L", (size, size), 0)
    ImageDraw.Draw(canvas).polygon(points, fill=255)
    gone = (np.asarray(canvas) > 0) & core.metal
    return np.where(gone, core.background - core.image, 0.0).astype(np.float32)


def _misalignment(core: Core, rng: np.random.Generator, scale: float) -> np.ndarray:
    size = core.metal.shape[0]
    radius, angle, sign = _edge_point(core, rng, size // 10)
    r, theta = _polar(size, core.centre)
    span = size * rng.uniform(0.1, 0.22) * scale / radius
    near = np.abs(np.angle(np.exp(1j * (theta - angle)))) < span / 2
    step = max(3.0, size * rng.uniform(0.008, 0.014)) * scale
    out = sign * (r - radius)
    sheet = near & (out > 0) & (out < step) & ~core.metal
    lip = near & (out > -step) & (out <= 0) & core.metal
    change = np.zeros_like(core.image)
    change[sheet] = (rng.uniform(0.55, 0.75) - core.image[sheet])
    change[lip] = -rng.uniform(0.15, 0.25)
    return change


def _rust(core: Core, rng: np.random.Generator, scale: float) -> np.ndarray:
    size = core.metal.shape[0]
    x, y = _metal_point(core, rng, size // 10)
    radius = max(6.0, size * rng.uniform(0.03, 0.06)) * scale
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    blob = ndimage.gaussian_filter(rng.normal(size=(size, size)), radius / 3)
    blob = blob / (blob.std() + 1e-6)
    inside = np.hypot(xx - x, yy - y) / radius + 0.25 * blob < 1.0
    grain = np.clip(0.7 + 0.5 * ndimage.gaussian_filter(rng.normal(size=(size, size)), 0.8), 0, 1.5)
    return -rng.uniform(0.2, 0.3) * grain * (inside & core.metal)


def _discolouration(core: Core, rng: np.random.Generator, scale: float) -> np.ndarray:
    size = core.metal.shape[0]
    x, y = _metal_point(core, rng, size // 6)
    radius = size * rng.uniform(0.08, 0.15) * scale
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    d = np.hypot((xx - x) * rng.uniform(0.7, 1.0), yy - y)
    plateau = np.clip((radius - d) / (radius * 0.3), 0, 1)
    sign = 1.0 if rng.random() < 0.5 else -1.0
    return sign * rng.uniform(0.15, 0.22) * plateau * core.metal


_DEFECTS = {
    "scratch": _scratch,
    "dent": _dent,
    "chip": _chip,
    "misalignment": _misalignment,
    "rust": _rust,
    "discolouration": _discolouration,
}


def add_defect(
    core: Core, kind: str, rng: np.random.Generator, scale: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """``core`` with one defect of ``kind`` drawn in: (image in [0, 1], boolean mask).
    ``scale`` multiplies the defect's size (larger defects for small quick-mode images)."""
    if kind not in _DEFECTS:
        raise ValueError(f"defect kind must be one of {KINDS}, not {kind!r}")
    change = _DEFECTS[kind](core, rng, scale)
    image = np.clip(core.image + change, 0, 1)
    mask = np.abs(image - core.image) > MASK_LEVEL
    mask = ndimage.binary_dilation(mask, iterations=1) if mask.any() else mask
    return image.astype(np.float32), mask


def motor_image(
    size: int, kind: str | None, rng: np.random.Generator, scale: float = 1.0
) -> tuple[np.ndarray, np.ndarray, str]:
    """One grayscale core image as uint8 (``kind=None``: defect-free), its mask (uint8, 255 on
    the defect) and the part drawn (``"stator"`` or ``"rotor"``)."""
    core = draw_core(size, rng)
    if kind is None:
        image, mask = core.image, np.zeros_like(core.metal)
    else:
        image, mask = add_defect(core, kind, rng, scale)
    return (image * 255).round().astype(np.uint8), mask.astype(np.uint8) * 255, core.part


def write_dataset(
    out: Path,
    size: int = 640,
    n_defect: int = 300,
    n_ok: int = 800,
    validation_share: float = VALIDATION_SHARE,
    seed: int = 0,
    kinds: tuple[str, ...] = KINDS,
    scale: float = 1.0,
) -> None:
    """Write MOTOR's layout (module docstring) into ``out``; the same seed gives the same files.

    Defect kinds take turns, so each kind has about ``n_defect / len(kinds)`` images; each
    class is split ``1 - validation_share`` / ``validation_share`` (MOTOR: 76% / 24%);
    ``scale`` enlarges every defect (see ``add_defect``). As in MOTOR, where a few cores were
    photographed again and again, a defect image shows the same view of a core as one of the
    ok images of its split, with the defect added: the defect is then the only difference a
    model can use between the classes.
    """
    out = Path(out)
    n_train = {"defect": int(round(n_defect * (1 - validation_share))),
               "ok": int(round(n_ok * (1 - validation_share)))}
    rows = []
    for cls, n in (("defect", n_defect), ("ok", n_ok)):
        for i in range(n):
            split = SPLITS[int(i >= n_train[cls])]
            if cls == "ok":
                view = i
            elif split == "train":
                view = i % n_train["ok"]
            else:
                view = n_train["ok"] + (i - n_train["defect"]) % max(1, n_ok - n_train["ok"])
            core = draw_core(size, np.random.default_rng([seed, 1, view]))
            kind = kinds[i % len(kinds)] if cls == "defect" else None
            if kind:
                image, mask = add_defect(core, kind, np.random.default_rng([seed, 0, i]), scale)
            else:
                image, mask = core.image, np.zeros_like(core.metal)
            name = f"{i:04d}_{kind}.png" if kind else f"{i:04d}.png"
            folder = out / split / cls
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray((image * 255).round().astype(np.uint8)).save(folder / name)
            if kind:
                masks = out / "masks" / split / cls
                masks.mkdir(parents=True, exist_ok=True)
                Image.fromarray(mask.astype(np.uint8) * 255).save(masks / name)
                rows.append({"split": split, "file": f"{split}/{cls}/{name}", "kind": kind,
                             "core": core.part})
    with open(out / "defects.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["split", "file", "kind", "core"])
        writer.writeheader()
        writer.writerows(rows)
