"""helpers.synth.motor: masks cover the drawn defects; the same seed gives the same files."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from PIL import Image

from helpers.synth import motor


@pytest.mark.parametrize("kind", motor.KINDS)
@pytest.mark.parametrize("scale", [1.0, 4.0])
def test_mask_covers_every_changed_pixel(kind, scale):
    for seed in range(3):
        core = motor.draw_core(96, np.random.default_rng([seed, 1]))
        image, mask = motor.add_defect(core, kind, np.random.default_rng([seed, 2]), scale)
        changed = np.abs(image - core.image) > 1.5 / 255
        assert changed.sum() >= 8, "the defect must be visible"
        assert not (changed & ~mask).any(), "a changed pixel lies outside the mask"
        # the mask is tight: most of it is the defect itself, not padding
        assert changed.sum() >= 0.3 * mask.sum()


def test_core_in_frame_is_about_a_quarter_to_a_half():
    for seed in range(20):
        core = motor.draw_core(96, np.random.default_rng(seed))
        r, _ = motor._polar(96, core.centre)
        outer = core.edges[0]
        in_frame = (r <= outer).sum() / (np.pi * outer**2)
        assert 0.15 < in_frame < 0.55, in_frame
        assert core.metal.mean() > 0.05


def test_write_dataset_layout_and_determinism(tmp_path):
    for out in (tmp_path / "a", tmp_path / "b"):
        motor.write_dataset(out, size=48, n_defect=12, n_ok=10, seed=5)
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.png"))
    assert len([f for f in files if f.parts[0] != "masks"]) == 22
    assert len(list((tmp_path / "a" / "validation" / "defect").glob("*.png"))) == 3  # 24% of 12
    for rel in files:
        a = np.asarray(Image.open(tmp_path / "a" / rel))
        np.testing.assert_array_equal(a, np.asarray(Image.open(tmp_path / "b" / rel)))
    with open(tmp_path / "a" / "defects.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 12 and {r["kind"] for r in rows} == set(motor.KINDS)
    for row in rows:
        mask = np.asarray(Image.open(tmp_path / "a" / "masks" / row["file"]))
        assert mask.shape == (48, 48) and mask.max() == 255
    # a defect image is the view of an ok image of its split with the defect added
    for row in rows:
        split, _, name = row["file"].split("/")
        index = int(name[:4])
        twin = index if split == "train" else 8 + (index - 9) % 2  # 8 train ok, 9 train defect
        twin = twin % 8 if split == "train" else twin
        defect = np.asarray(Image.open(tmp_path / "a" / row["file"]), dtype=int)
        ok = np.asarray(Image.open(tmp_path / "a" / split / "ok" / f"{twin:04d}.png"), dtype=int)
        mask = np.asarray(Image.open(tmp_path / "a" / "masks" / row["file"])) > 0
        changed = defect != ok
        assert changed.any() and not (changed & ~mask).any()
    motor.write_dataset(tmp_path / "c", size=48, n_defect=12, n_ok=10, seed=6)
    assert not np.array_equal(np.asarray(Image.open(tmp_path / "a" / files[-1])),
                              np.asarray(Image.open(tmp_path / "c" / files[-1])))
