"""A folder of real-photo JPEGs from scikit-learn's two sample photos (LECTURE, "データ拡張").

Used to measure input-pipeline throughput (``flow_from_directory`` vs tf.data) on real JPEG
decoding without a download: random square crops of ``china.jpg`` and ``flower.jpg``, one class
folder per photo, the layout ``flow_from_directory`` and ``image_dataset_from_directory`` read.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

PHOTOS = ("china.jpg", "flower.jpg")


def sample_photo(name: str) -> np.ndarray:
    """One of scikit-learn's bundled sample photos, ``(427, 640, 3)`` uint8 RGB."""
    from sklearn.datasets import load_sample_image

    return load_sample_image(name)


def write_photo_folder(out: Path, per_class: int, size: int, seed: int = 0) -> Path:
    """Write ``per_class`` random ``size``x``size`` crops of each sample photo as JPEGs into
    ``out/<photo name>/``; returns ``out``. Deterministic for a given ``seed``."""
    rng = np.random.default_rng(seed)
    for photo in PHOTOS:
        image = Image.fromarray(sample_photo(photo))
        folder = Path(out) / photo.removesuffix(".jpg")
        folder.mkdir(parents=True, exist_ok=True)
        short = min(image.size)
        for i in range(per_class):
            side = int(rng.uniform(0.4, 0.9) * short)
            left = int(rng.integers(0, image.size[0] - side + 1))
            top = int(rng.integers(0, image.size[1] - side + 1))
            crop = image.crop((left, top, left + side, top + side)).resize((size, size))
            crop.save(folder / f"{i:05d}.jpg", quality=90)
    return Path(out)
