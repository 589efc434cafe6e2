"""Cats vs dogs, filtered (BLOG; also RATIO): Google's 2,000-image subset of Kaggle Dogs vs. Cats.

Layout of the prepared root (as in ``cats_and_dogs_filtered.zip``)::

    train/cats/cat.0.jpg ...        1,000 + 1,000 (real)
    train/dogs/dog.0.jpg ...
    validation/cats/cat.2000.jpg ... 500 + 500 (real)
    validation/dogs/dog.2000.jpg ...

No checksum is published for the archive, so it is verified by its structure: it must open,
every member must pass its CRC, and each class folder must hold roughly its real count
(``LAYOUT``). Unreadable JPEGs are skipped and counted (``Prepared.skipped``). BLOG's 400 + 400
validation images are a choice of the notebook, not of this dataset.
Stand-in: drawn cat and dog heads (``helpers.synth.animals``), same layout, fewer images.
"""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

from helpers.datasets import (
    UNPACKED,
    Dataset,
    Manifest,
    Remote,
    copy_valid,
    register,
    scan_image_folder,
)
from helpers.datasets.unpack import extract
from helpers.synth.animals import cat_or_dog, write_split

FILENAME = "cats_and_dogs_filtered.zip"
TOP = "cats_and_dogs_filtered"
SPLITS = ("train", "validation")
CLASSES = ["cats", "dogs"]
REAL_COUNTS = {"train": 1000, "validation": 500}  # per class, in the archive
# Each class folder must hold at least 90% of its real count (a different or cut archive fails).
LAYOUT = {
    f"{TOP}/{split}/{cls}": int(0.9 * n) for split, n in REAL_COUNTS.items() for cls in CLASSES
}
# No checksum is published with the archive (keras.utils.get_file calls in the TensorFlow
# tutorials pass none), so none is invented here: LAYOUT is checked instead.
REMOTE = Remote(
    FILENAME,
    (
        "https://storage.googleapis.com/mledu-datasets/cats_and_dogs_filtered.zip",
        "https://download.mlcc.google.com/mledu-datasets/cats_and_dogs_filtered.zip",
    ),
    None,
    LAYOUT,
)
STANDIN_SIZE = 96
STANDIN_COUNTS = {"train": 200, "validation": 100}  # per class


def _real(files: list[Path], out: Path) -> Manifest:
    unpacked = extract(files[0], out / UNPACKED)
    skipped: Counter[str] = Counter()
    for split in SPLITS:
        scan = scan_image_folder(unpacked / TOP / split, CLASSES)
        copy_valid(scan, out / split)
        skipped.update(scan.skipped_counts())
    shutil.rmtree(unpacked)
    return Manifest.of_folders(out, SPLITS, CLASSES, skipped)


def _standin(out: Path, seed: int) -> Manifest:
    for i, split in enumerate(SPLITS):
        n = STANDIN_COUNTS[split]
        write_split(
            out / split,
            cat_or_dog,
            {"cats": ("cat", n), "dogs": ("dog", n)},
            STANDIN_SIZE,
            seed + i,
        )
    return Manifest.of_folders(out, SPLITS, CLASSES)


register(
    Dataset(
        name="cats_vs_dogs",
        title="Cats vs dogs (cats_and_dogs_filtered)",
        document="BLOG",
        remotes=(REMOTE,),
        build_real=_real,
        build_standin=_standin,
        standin_label=f"stand-in (drawn cat/dog heads, {STANDIN_SIZE}x{STANDIN_SIZE})",
    )
)
