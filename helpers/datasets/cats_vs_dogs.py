"""Cats vs dogs, filtered (BLOG; also RATIO): Google's 2,000-image subset of Kaggle Dogs vs. Cats.

Layout of the prepared root (as in ``cats_and_dogs_filtered.zip``)::

    train/cats/cat.0.jpg ...        1,000 + 1,000 (real)
    train/dogs/dog.0.jpg ...
    validation/cats/cat.2000.jpg ... 500 + 500 (real)
    validation/dogs/dog.2000.jpg ...

Unreadable JPEGs are skipped and counted (``scan.txt`` in the root keeps the summary). BLOG's
400 + 400 validation images are a choice of the notebook, not of this dataset.
Stand-in: drawn cat and dog heads (``helpers.synth.animals``), same layout, fewer images.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from helpers.datasets import (
    Dataset,
    FolderScan,
    Remote,
    copy_valid,
    register,
    scan_image_folder,
)
from helpers.datasets.download import extract
from helpers.synth.animals import cat_or_dog, write_split

FILENAME = "cats_and_dogs_filtered.zip"
# No checksum is published with the archive (keras.utils.get_file calls in the TensorFlow
# tutorials pass none), so none is invented here.
REMOTE = Remote(
    FILENAME,
    (
        "https://storage.googleapis.com/mledu-datasets/cats_and_dogs_filtered.zip",
        "https://download.mlcc.google.com/mledu-datasets/cats_and_dogs_filtered.zip",
    ),
    None,
)
SPLITS = ("train", "validation")
CLASSES = ["cats", "dogs"]
SCAN_FILE = "scan.txt"
STANDIN_SIZE = 96
STANDIN_COUNTS = {"train": 200, "validation": 100}  # per class


def scan_line(split: str, scan: FolderScan) -> str:
    """``train: cats 1000, dogs 1000 images; skipped 1 (corrupt)`` (no temporary paths)."""
    return f"{split}: " + scan.summary().removeprefix(f"{scan.root}: ")


def _real(files: list[Path], out: Path) -> None:
    unpacked = extract(files[0], out / "_unpacked")
    top = unpacked / "cats_and_dogs_filtered"
    summaries = []
    for split in SPLITS:
        scan = scan_image_folder(top / split, CLASSES)
        copy_valid(scan, out / split)
        summaries.append(scan_line(split, scan))
    shutil.rmtree(unpacked)
    (out / SCAN_FILE).write_text("\n".join(summaries) + "\n")


def _standin(out: Path, seed: int) -> None:
    for i, split in enumerate(SPLITS):
        n = STANDIN_COUNTS[split]
        write_split(
            out / split,
            cat_or_dog,
            {"cats": ("cat", n), "dogs": ("dog", n)},
            STANDIN_SIZE,
            seed + i,
        )
    (out / SCAN_FILE).write_text(
        "\n".join(scan_line(s, scan_image_folder(out / s, CLASSES)) for s in SPLITS) + "\n"
    )


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
