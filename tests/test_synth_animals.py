"""helpers.synth.animals: deterministic stand-ins whose classes differ by a learnable feature."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score

from helpers.synth.animals import cat_or_dog, horse_or_zebra, write_split


def _batch(draw, kinds: tuple[str, str], n: int, size: int = 48) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    images = np.stack([np.asarray(draw(kinds[i % 2], size, rng)) for i in range(n)])
    return images, np.arange(n) % 2


def test_same_seed_same_image_and_rgb() -> None:
    for draw, kind in ((cat_or_dog, "dog"), (horse_or_zebra, "zebra")):
        a = draw(kind, 40, np.random.default_rng(3))
        b = draw(kind, 40, np.random.default_rng(3))
        assert a.mode == "RGB" and a.size == (40, 40)
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
        assert not np.array_equal(
            np.asarray(a), np.asarray(draw(kind, 40, np.random.default_rng(4)))
        )


def test_cats_and_dogs_are_learnable_from_pixels() -> None:
    images, labels = _batch(cat_or_dog, ("cat", "dog"), 120)
    x = images.mean(axis=-1).reshape(len(images), -1) / 255.0
    scores = cross_val_score(LogisticRegression(max_iter=2000), x, labels, cv=3)
    assert scores.mean() > 0.75


def test_zebras_are_striped_horses_are_not() -> None:
    """The zebra coat's stripes give far more fine detail (horizontal gradient energy)."""
    images, labels = _batch(horse_or_zebra, ("horse", "zebra"), 80)
    grey = images.mean(axis=-1)
    detail = np.abs(np.diff(grey, axis=2)).mean(axis=(1, 2))
    threshold = np.median(detail)
    accuracy = ((detail > threshold) == labels.astype(bool)).mean()
    assert accuracy > 0.85


def test_write_split_layout(tmp_path: Path) -> None:
    write_split(tmp_path, horse_or_zebra, {"horse": ("horse", 3), "zebra": ("zebra", 2)}, 32, 0)
    assert sorted(p.name for p in (tmp_path / "horse").iterdir()) == [
        "horse.0.jpg",
        "horse.1.jpg",
        "horse.2.jpg",
    ]
    assert len(list((tmp_path / "zebra").glob("*.jpg"))) == 2
    with Image.open(tmp_path / "zebra" / "zebra.0.jpg") as img:
        assert img.size == (32, 32)


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="'cat' or 'dog'"):
        cat_or_dog("horse", 32, np.random.default_rng(0))
    with pytest.raises(ValueError, match="'horse' or 'zebra'"):
        horse_or_zebra("cat", 32, np.random.default_rng(0))
