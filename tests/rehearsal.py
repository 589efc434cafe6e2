"""The rehearsal (issue 20): the dry run on files in the real layouts, so that the branches a
student's run takes with ImageNet weights and the real data (``kind == "imagenet"``,
``kind == "real"``) execute in CI, which has no network.

``python -m tests.rehearsal OUT`` writes

* ``OUT/mirror/``: small archives in each real dataset's published layout (file name, folders,
  formats, as ``helpers.datasets`` downloads and verifies them) and, under the names
  ``helpers.weights.BACKBONES`` gives them, no-top weight files in Keras's legacy h5 layout
  with random values: the folder a run serves as ``LAB_DATA_MIRROR``;
* ``OUT/checksums.json``: those files' own digests, which the real verification
  (``download.check_file``) checks them against while ``LAB_REHEARSAL=OUT``
  (``download.rehearsal``; the banner says ``REHEARSAL``).

Nothing in it is ImageNet or the real data: a rehearsal checks the branches' code (loaders,
layouts, ``keras.applications`` loading the files, shapes), never what is learned. It is test
infrastructure: ``helpers`` never imports it. The archive writers are shared with the datasets'
unit tests, which build their own small archives with them.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import subprocess
import sys
import tarfile
import time
import zipfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import numpy as np
from PIL import Image

from helpers import datasets, weights
from helpers.datasets import caltech256_horse_zebra as caltech
from helpers.datasets import cats_vs_dogs, cifar
from helpers.datasets.download import REHEARSAL_DIGESTS, file_digest

PHOTO = (48, 64)  # (height, width) of a rehearsal photo: not square, smaller than any model input
# The backbones full mode's notebooks use (quick mode's MobileNetV2_96 and paper mode's
# EfficientNetB5 are never rehearsed): keras.applications' constructor and the input size the
# notebook builds it at (the no-top weights do not depend on it).
BACKBONES = {
    "VGG16": ("VGG16", 150),  # 03, 04
    "MobileNetV2_224": ("MobileNetV2", 150),  # 04's exercise
    "MobileNetV2_160": ("MobileNetV2", 160),  # 05
    "EfficientNetB0": ("EfficientNetB0", 224),  # 06
    "MobileNet_224": ("MobileNet", 224),  # 07
}


def jpeg_bytes(seed: int, shape: tuple[int, int] = (16, 20)) -> bytes:
    """A random colour JPEG of ``shape`` (height, width), different per seed."""
    pixels = np.random.default_rng(seed).integers(0, 255, (*shape, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="JPEG")
    return buf.getvalue()


def tar_add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    """Add ``data`` to an open tar as member ``name``."""
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def tar_file(path: Path, members: Mapping[str, bytes], mode: str = "w") -> None:
    """A tar (``mode="w:gz"``: gzipped) at ``path`` holding ``members`` (name -> bytes)."""
    with tarfile.open(path, mode) as tar:
        for name, data in members.items():
            tar_add(tar, name, data)


def zip_bytes(files: Mapping[str, bytes]) -> bytes:
    """A zip holding ``files`` (member name -> bytes)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def mnist_npz(n_train: int, n_test: int, seed: int = 0) -> bytes:
    """``mnist.npz`` as ``keras.datasets.mnist`` downloads it: uint8 28x28 images and labels,
    every digit as often (to one) in each split."""
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    np.savez(
        buf,
        x_train=rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        y_train=rng.permutation(np.arange(n_train) % 10).astype(np.uint8),
        x_test=rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        y_test=rng.permutation(np.arange(n_test) % 10).astype(np.uint8),
    )
    return buf.getvalue()


def caltech_members(counts: Mapping[str, int], shape: tuple[int, int] = (16, 20)) -> dict:
    """``256_ObjectCategories.tar``'s members: ``256_ObjectCategories/105.horse/105_0001.jpg``,
    ``counts`` images per category folder."""
    return {
        f"{caltech.TOP}/{folder}/{folder.split('.')[0]}_{i:04d}.jpg": jpeg_bytes(i, shape)
        for folder, n in counts.items()
        for i in range(1, n + 1)
    }


def cats_dogs_members(per_folder: int, shape: tuple[int, int] = (16, 20)) -> dict:
    """``cats_and_dogs_filtered.zip``'s members: ``cats_and_dogs_filtered/train/cats/cat.0.jpg``,
    ``per_folder`` images in each split's class folder, numbered on as in the real archive, and
    its stray ``vectorize.py``."""
    names = [
        f"{cats_vs_dogs.TOP}/{split}/{cls}/{cls[:-1]}"
        for split in cats_vs_dogs.SPLITS
        for cls in cats_vs_dogs.CLASSES
        for _ in range(per_folder)
    ]
    members = {f"{name}.{n}.jpg": jpeg_bytes(n, shape) for n, name in enumerate(names)}
    return {**members, f"{cats_vs_dogs.TOP}/vectorize.py": b"print('not an image')\n"}


def flower_members(counts: Mapping[str, int], shape: tuple[int, int] = (16, 20)) -> dict:
    """``flower_photos.tgz``'s members: ``flower_photos/<class>/<n>_photo.jpg``, ``counts``
    per class folder, and its ``LICENSE.txt``."""
    names = [f"flower_photos/{cls}" for cls, n in counts.items() for _ in range(n)]
    members = {f"{name}/{1000 + n}_photo.jpg": jpeg_bytes(n, shape) for n, name in enumerate(names)}
    return {**members, "flower_photos/LICENSE.txt": b"CC-BY photos\n"}


def cifar_pickle(obj: Mapping[str, object], protocol: int = 3) -> bytes:
    """A batch as the CIFAR python version stores it: a dict with bytes keys.

    The real files are Python 2 pickles whose array buffers are ``str``, read back as ``bytes``;
    protocol 3 stores ``bytes`` natively, so the unpickler sees the same NumPy globals only.
    """
    return pickle.dumps({k.encode(): v for k, v in obj.items()}, protocol=protocol)


def cifar_batch(
    n: int, n_classes: int, rng: np.random.Generator, label_key: str
) -> tuple[np.ndarray, dict]:
    """``n`` random images (channels first, as the batches hold them) and their batch dict."""
    chw = rng.integers(0, 256, size=(n, 3, 32, 32), dtype=np.uint8)
    labels = [int(v) for v in rng.integers(0, n_classes, size=n)]
    return chw, {"data": chw.reshape(n, 3072), label_key: labels, "batch_label": b"x"}


def cifar10_members(per_batch: int, n_test: int, seed: int = 0) -> dict[str, bytes]:
    """``cifar-10-python.tar.gz``'s members: five training batches of ``per_batch`` images, the
    test batch and ``batches.meta``."""
    rng = np.random.default_rng(seed)
    folder = "cifar-10-batches-py"
    members = {f"{folder}/data_batch_{i}": cifar_pickle(cifar_batch(per_batch, 10, rng,
                                                                     "labels")[1])
               for i in range(1, 6)}
    members[f"{folder}/test_batch"] = cifar_pickle(cifar_batch(n_test, 10, rng, "labels")[1])
    names = [name.encode() for name in cifar.CIFAR10_CLASSES]
    members[f"{folder}/batches.meta"] = cifar_pickle({"label_names": names})
    return members


def cifar100_members(n_train: int, n_test: int, seed: int = 0) -> dict[str, bytes]:
    """``cifar-100-python.tar.gz``'s members: ``train``, ``test`` (fine and coarse labels) and
    ``meta``."""
    rng = np.random.default_rng(seed)
    members = {}
    for split, n in (("train", n_train), ("test", n_test)):
        _, batch = cifar_batch(n, 100, rng, "fine_labels")
        batch["coarse_labels"] = [label % 20 for label in batch["fine_labels"]]
        members[f"cifar-100-python/{split}"] = cifar_pickle(batch)
    meta = {"fine_label_names": [name.encode() for name in cifar.CIFAR100_CLASSES],
            "coarse_label_names": [f"superclass_{i}".encode() for i in range(20)]}
    members["cifar-100-python/meta"] = cifar_pickle(meta)
    return members


# Each real dataset's file, sized for the dry run on a CPU (``config._dry_run_sized`` takes at
# most 8 images per class and 16 in all): every class folder holds more than that, and
# Caltech's two categories the 40 images its loader draws, and one more.
ARCHIVES: dict[str, Callable[[Path], object]] = {
    "mnist": lambda p: p.write_bytes(mnist_npz(200, 50)),
    "caltech256_horse_zebra": lambda p: tar_file(p, caltech_members(
        {folder: 2 * caltech.PER_SPLIT + 1 for folder in caltech.CATEGORIES.values()}
        | {"001.ak47": 2}, PHOTO)),
    "cats_vs_dogs": lambda p: p.write_bytes(zip_bytes(cats_dogs_members(10, PHOTO))),
    "flowers_roses_tulips": lambda p: tar_file(p, flower_members(
        {"roses": 20, "tulips": 25, "daisy": 3}, PHOTO), "w:gz"),
    "cifar10": lambda p: tar_file(p, cifar10_members(8, 20), "w:gz"),
    "cifar100": lambda p: tar_file(p, cifar100_members(40, 20), "w:gz"),
}


def write_archives(mirror: Path) -> list[Path]:
    """Each dataset of ``ARCHIVES`` under its published file name in ``mirror``."""
    paths = []
    for name, write in ARCHIVES.items():
        (remote,) = datasets.get(name).remotes
        write(mirror / remote.filename)
        paths.append(mirror / remote.filename)
    return paths


def write_weights(mirror: Path, names: Iterable[str] = tuple(BACKBONES)) -> list[Path]:
    """Each backbone of ``names`` (keys of ``BACKBONES``): its no-top weight file under its
    published name, random values, in Keras's legacy h5 layout (``tests/rehearsal_weights.py``,
    on Keras's NumPy backend)."""
    files = {name: weights.BACKBONES[name].filename for name in names}
    specs = [f"{BACKBONES[name][0]}:{BACKBONES[name][1]}:{filename}"
             for name, filename in files.items()]
    subprocess.run([sys.executable, "-m", "tests.rehearsal_weights", str(mirror), *specs],
                   env={**os.environ, "KERAS_BACKEND": "numpy"}, check=True)
    return [mirror / filename for filename in files.values()]


def build(out: Path, backbones: Iterable[str] = tuple(BACKBONES)) -> dict[str, str]:
    """Write the rehearsal into ``out`` (module docstring), with the weight files of
    ``backbones``, and return its digests."""
    mirror = out / "mirror"
    mirror.mkdir(parents=True, exist_ok=True)
    files = write_archives(mirror) + (write_weights(mirror, backbones) if backbones else [])
    digests = {path.name: "sha256:" + file_digest(path, "sha256") for path in files}
    (out / REHEARSAL_DIGESTS).write_text(json.dumps(digests, indent=1) + "\n")
    return digests


def environment(out: Path) -> dict[str, str]:
    """The variables a run needs to use the rehearsal in ``out`` (as the Makefile sets them):
    its mirror and digests, and a cache and Keras home of its own."""
    return {"LAB_REHEARSAL": str(out), "LAB_DATA_MIRROR": str(out / "mirror"),
            "LAB_CACHE": str(out / "cache"), "KERAS_HOME": str(out / "keras"), "LAB_DRYRUN": "1"}


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m tests.rehearsal OUT")
    start = time.perf_counter()
    built = build(Path(sys.argv[1]).resolve())
    print(f"rehearsal: {len(built)} files in {sys.argv[1]} in "
          f"{time.perf_counter() - start:.1f} s")
