"""MNIST (LECTURE, "MNISTデータセット"): 28x28 grayscale digits, 60,000 train / 10,000 test.

Real: the ``mnist.npz`` that ``keras.datasets.mnist`` downloads (same URL and checksum).
Stand-in: scikit-learn's bundled handwritten digits (1,797 images of 8x8), each scaled into a
20x20 box centred in 28x28 as MNIST's digits are, split 6:1 like MNIST's 60,000:10,000.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from helpers.datasets import Dataset, Manifest, Remote, register

FILENAME = "mnist.npz"
REMOTE = Remote(
    FILENAME,
    ("https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz",),
    "sha256:731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1",
)
MNIST_TEST_SHARE = 10_000 / 70_000
CLASS_NAMES = [str(digit) for digit in range(10)]


def _manifest(out: Path) -> Manifest:
    with np.load(out / FILENAME, allow_pickle=False) as f:
        return Manifest.of_labels(CLASS_NAMES, {"train": f["y_train"], "test": f["y_test"]})


def _real(files: list[Path], out: Path) -> Manifest:
    shutil.copy2(files[0], out / FILENAME)
    return _manifest(out)


def _digits_28x28() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    digits = load_digits()
    small = (digits.images / 16.0 * 255.0).astype(np.uint8)
    images = np.zeros((len(small), 28, 28), dtype=np.uint8)
    for i, img in enumerate(small):
        box = Image.fromarray(img).resize((20, 20), Image.Resampling.BILINEAR)
        images[i, 4:24, 4:24] = np.asarray(box)
    return images, digits.target.astype(np.uint8)


def _standin(out: Path, seed: int) -> Manifest:
    from sklearn.model_selection import train_test_split

    x, y = _digits_28x28()
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=MNIST_TEST_SHARE, stratify=y, random_state=seed
    )
    np.savez_compressed(
        out / FILENAME, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test
    )
    return _manifest(out)


def load_data(root: Path) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """``(x_train, y_train), (x_test, y_test)`` as ``keras.datasets.mnist.load_data`` returns."""
    with np.load(root / FILENAME, allow_pickle=False) as f:
        return (f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])


register(
    Dataset(
        name="mnist",
        title="MNIST handwritten digits",
        document="LECTURE",
        remotes=(REMOTE,),
        build_real=_real,
        build_standin=_standin,
        load=load_data,
        standin_label="stand-in (scikit-learn digits, 8x8 resized to 28x28)",
    )
)
