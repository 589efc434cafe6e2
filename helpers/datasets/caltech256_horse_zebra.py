"""Horse vs zebra from Caltech-256 (LECTURE, "ファインチューニング"): 40 + 40 images, 20/20 split.

Layout of the prepared root (the lecture's folders for ``flow_from_directory``)::

    train/horse/105_0001.jpg ...   20 + 20
    train/zebra/250_0001.jpg ...
    test/horse/ ...                20 + 20
    test/zebra/ ...

Real: ``256_ObjectCategories.tar`` (about 1.2 GB; only ``105.horse`` and ``250.zebra`` are
unpacked); unreadable images are skipped and counted (``Prepared.skipped``), then 40 per class
are drawn with a fixed seed, the first 20 for training and the next 20 for test.
Stand-in: drawn horses (solid coat) and zebras (striped coat), same layout and counts.
"""

from __future__ import annotations

import shutil
import tarfile
from pathlib import Path

import numpy as np

from helpers.datasets import UNPACKED, Dataset, Manifest, Remote, register, scan_image_folder
from helpers.datasets.folder import too_few
from helpers.runtime import DEFAULT_SEED
from helpers.synth.animals import horse_or_zebra, write_split

FILENAME = "256_ObjectCategories.tar"
# md5 as torchvision.datasets.Caltech256 checks it (the same archive, Caltech's record nyy15-4j048).
REMOTE = Remote(
    FILENAME,
    (
        "https://data.caltech.edu/records/nyy15-4j048/files/256_ObjectCategories.tar?download=1",
        "http://www.vision.caltech.edu/Image_Datasets/Caltech256/256_ObjectCategories.tar",
    ),
    "md5:67b4f42ca05d46448c6bb8ecd2220f6d",
)
TOP = "256_ObjectCategories"
CATEGORIES = {"horse": "105.horse", "zebra": "250.zebra"}
PER_SPLIT = 20  # per class: 20 for training and 20 for test (LECTURE)
SPLITS = ("train", "test")
STANDIN_SIZE = 96


def _unpack_categories(archive: Path, dest: Path) -> Path:
    """Extract only the two categories' members (the rest of the 1.2 GB tar is skipped)."""
    wanted = tuple(f"{TOP}/{folder}/" for folder in CATEGORIES.values())
    with tarfile.open(archive) as tar:
        members = [m for m in tar if m.isfile() and m.name.startswith(wanted)]
        tar.extractall(dest, members=members, filter="data")
    return dest / TOP


def _real(files: list[Path], out: Path) -> Manifest:
    root = _unpack_categories(files[0], out / UNPACKED)
    scan = scan_image_folder(root, list(CATEGORIES.values()))
    rng = np.random.default_rng(DEFAULT_SEED)
    for cls, folder in CATEGORIES.items():
        images = scan.images[folder]
        if len(images) < 2 * PER_SPLIT:
            raise too_few(f"{TOP}/{folder}", len(images), scan.skipped_counts(folder),
                          2 * PER_SPLIT, f" ({PER_SPLIT} for training, {PER_SPLIT} for test)")
        chosen = [images[i] for i in rng.choice(len(images), 2 * PER_SPLIT, replace=False)]
        for split, part in zip(SPLITS, (chosen[:PER_SPLIT], chosen[PER_SPLIT:]), strict=True):
            (out / split / cls).mkdir(parents=True, exist_ok=True)
            for path in part:
                shutil.copy2(path, out / split / cls / path.name)
    shutil.rmtree(out / UNPACKED)
    readable = {folder: len(scan.images[folder]) for folder in CATEGORIES.values()}
    return Manifest.of_folders(
        out, SPLITS, list(CATEGORIES), scan.skipped_counts(), {"readable": readable}
    )


def _standin(out: Path, seed: int) -> Manifest:
    counts = {cls: (cls, PER_SPLIT) for cls in CATEGORIES}
    for i, split in enumerate(SPLITS):
        write_split(out / split, horse_or_zebra, counts, STANDIN_SIZE, seed + i)
    return Manifest.of_folders(out, SPLITS, list(CATEGORIES))


register(
    Dataset(
        name="caltech256_horse_zebra",
        title="Caltech-256 horse vs zebra (20 + 20 train, 20 + 20 test)",
        document="LECTURE",
        remotes=(REMOTE,),
        build_real=_real,
        build_standin=_standin,
        quick_download=False,
        standin_label=f"stand-in (drawn horses and striped zebras, {STANDIN_SIZE}x{STANDIN_SIZE})",
    )
)
