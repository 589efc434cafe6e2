"""helpers.synth.photos: a deterministic folder of JPEG crops of scikit-learn's sample photos."""

from __future__ import annotations

import numpy as np
from PIL import Image

from helpers.synth import photos


def test_write_photo_folder_layout_and_determinism(tmp_path):
    first = photos.write_photo_folder(tmp_path / "a", per_class=3, size=40, seed=5)
    again = photos.write_photo_folder(tmp_path / "b", per_class=3, size=40, seed=5)
    assert sorted(p.name for p in first.iterdir()) == ["china", "flower"]
    files = sorted(first.rglob("*.jpg"))
    assert len(files) == 6
    for path in files:
        with Image.open(path) as img:
            assert (img.format, img.mode, img.size) == ("JPEG", "RGB", (40, 40))
        twin = again / path.relative_to(first)
        assert path.read_bytes() == twin.read_bytes()
    china = np.asarray(Image.open(first / "china" / "00000.jpg"), dtype=float)
    flower = np.asarray(Image.open(first / "flower" / "00000.jpg"), dtype=float)
    assert np.abs(china - flower).mean() > 10, "the two classes must look different"


def test_sample_photo_is_the_real_photo():
    image = photos.sample_photo("china.jpg")
    assert image.shape == (427, 640, 3) and image.dtype == np.uint8
