"""Roses vs tulips (RATIO §5.3): two classes of the TensorFlow flowers set, split 80/20.

Real: ``flower_photos.tgz`` (five class folders ``flower_photos/<class>/*.jpg``, about 220 MB);
only ``roses`` (641) and ``tulips`` (799) are kept. Unreadable files are skipped and counted, then
each class is split 80% train / 20% validation with a fixed seed. Layout of the prepared root::

    train/roses/*.jpg       train/tulips/*.jpg
    validation/roses/*.jpg  validation/tulips/*.jpg

The files skipped as unreadable are counted in ``Prepared.skipped``.

Stand-in: drawn roses and tulips (``helpers.synth.flowers``) written in the archive's class-folder
layout and split by the same code.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from sklearn.model_selection import train_test_split

from helpers.datasets import (
    UNPACKED,
    Dataset,
    FolderScan,
    Manifest,
    Remote,
    copy_valid,
    register,
    scan_image_folder,
)
from helpers.datasets.folder import too_few
from helpers.datasets.unpack import extract
from helpers.synth.flowers import write_flower_photos

FILENAME = "flower_photos.tgz"
# sha256 from tensorflow_datasets (tensorflow_datasets/url_checksums/tf_flowers.txt).
REMOTE = Remote(
    FILENAME,
    ("https://storage.googleapis.com/download.tensorflow.org/example_images/flower_photos.tgz",),
    "sha256:4c54ace7911aaffe13a365c34f650e71dd5bf1be0a58b464e5a7183e3e595d9c",
)
CLASSES = ["roses", "tulips"]
SPLITS = ("train", "validation")
VALIDATION_SHARE = 0.2
SPLIT_SEED = 123
MIN_PER_CLASS = 2  # one image for each split
STANDIN_SIZE = 96
STANDIN_COUNTS = {"roses": 160, "tulips": 200}  # RATIO's 641 : 799, scaled down


def split(scan: FolderScan, seed: int = SPLIT_SEED) -> dict[str, FolderScan]:
    """Each class's readable images split 80/20 into ``{"train": ..., "validation": ...}``."""
    parts: dict[str, FolderScan] = {s: FolderScan(root=scan.root, images={}) for s in SPLITS}
    for cls, files in scan.images.items():
        if len(files) < MIN_PER_CLASS:
            raise too_few(scan.root / cls, len(files), scan.skipped_counts(cls), MIN_PER_CLASS,
                          " to split it 80/20")
        train, validation = train_test_split(
            sorted(files), test_size=VALIDATION_SHARE, random_state=seed, shuffle=True
        )
        parts["train"].images[cls] = sorted(train)
        parts["validation"].images[cls] = sorted(validation)
    return parts


def arrange(flower_photos: Path, out: Path) -> Manifest:
    """Scan ``flower_photos/{roses,tulips}``, drop unreadable files, split, copy into ``out``."""
    scan = scan_image_folder(flower_photos, CLASSES)
    for name, part in split(scan).items():
        copy_valid(part, out / name)
    return Manifest.of_folders(out, SPLITS, CLASSES, scan.skipped_counts())


def _real(files: list[Path], out: Path) -> Manifest:
    unpacked = extract(files[0], out / UNPACKED)
    manifest = arrange(unpacked / "flower_photos", out)
    shutil.rmtree(unpacked)
    return manifest


def _standin(out: Path, seed: int) -> Manifest:
    generated = out / "_generated"
    write_flower_photos(generated, STANDIN_COUNTS, STANDIN_SIZE, seed)
    manifest = arrange(generated, out)
    shutil.rmtree(generated)
    return manifest


register(
    Dataset(
        name="flowers_roses_tulips",
        title="Roses vs tulips (TensorFlow flower_photos)",
        document="RATIO",
        remotes=(REMOTE,),
        build_real=_real,
        build_standin=_standin,
        quick_download=False,
        standin_label=f"stand-in (drawn roses/tulips, {STANDIN_SIZE}x{STANDIN_SIZE})",
    )
)
