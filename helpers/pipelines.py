"""Input pipelines on either Keras backend, chosen here once (docs/architecture.md, "Backends").

Where Keras runs on TensorFlow the batches come from ``tf.data`` (parallel decoding, ``cache``,
``prefetch``); where it does not (Colab's TPU runtime has JAX and no TensorFlow) from a
``keras.utils.PyDataset`` over NumPy arrays. ``model.fit`` takes either, and both give the same
batches: ``(images, labels)`` with float32 images in 0-255 unless a ``transform`` rescales them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np

from helpers.datasets.folder import IMAGE_SUFFIXES

Transform = Callable[[Any], Any]


class ArrayBatches(keras.utils.PyDataset):
    """Batches of ``(x, y)`` arrays, reshuffled every epoch when ``shuffle``; ``transform``
    (written with ``keras.ops``) is applied to each image batch."""

    def __init__(self, x: np.ndarray, y: np.ndarray, batch_size: int, shuffle: bool = False,
                 seed: int = 0, transform: Transform | None = None) -> None:
        super().__init__()
        self.x, self.y, self.batch_size = x, y, batch_size
        self.shuffle, self.transform = shuffle, transform
        self.rng = np.random.default_rng(seed)
        self.order = self.rng.permutation(len(x)) if shuffle else np.arange(len(x))

    def __len__(self) -> int:
        return math.ceil(len(self.x) / self.batch_size)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        rows = np.sort(self.order[index * self.batch_size:(index + 1) * self.batch_size])
        images = self.x[rows].astype("float32")
        if self.transform is not None:
            images = keras.ops.convert_to_numpy(self.transform(images))
        return images, self.y[rows]

    def on_epoch_end(self) -> None:
        if self.shuffle:
            self.order = self.rng.permutation(len(self.x))


def batches(x: np.ndarray, y: np.ndarray, batch_size: int, shuffle: bool = False,
            seed: int = 0, transform: Transform | None = None) -> Any:
    """Training or evaluation batches of in-memory arrays, ``transform`` applied per batch (for
    example resizing uint8 images on the fly, so the float copies never all sit in memory).

    On TensorFlow the shuffle permutes indices, not images, and each batch is gathered from the
    NumPy array itself: the whole set is reshuffled each epoch while neither the shuffle buffer
    nor a ``tf.constant`` holds a second copy of the images (``tf.constant`` of 07's 640-pixel
    cores, gigabytes, would add twice their size to the host's memory; tests/test_pipelines.py
    measures it)."""
    if keras.backend.backend() != "tensorflow":
        return ArrayBatches(x, y, batch_size, shuffle, seed, transform)
    import tensorflow as tf

    def gather(rows: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        images, labels = tf.numpy_function(lambda r: (x[r], y[r]), [rows],
                                           (tf.as_dtype(x.dtype), tf.as_dtype(y.dtype)),
                                           stateful=False)
        return (tf.cast(tf.ensure_shape(images, (None, *x.shape[1:])), tf.float32),
                tf.ensure_shape(labels, (None, *y.shape[1:])))

    data = tf.data.Dataset.range(len(x))
    if shuffle:
        data = data.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    data = data.batch(batch_size).map(gather)
    if transform is not None:
        data = data.map(lambda a, b: (transform(a), b), num_parallel_calls=tf.data.AUTOTUNE)
    return data.prefetch(tf.data.AUTOTUNE)


def _files(folder: Path, class_names: Sequence[str]) -> tuple[list[Path], np.ndarray]:
    files, labels = [], []
    for label, name in enumerate(class_names):
        found = sorted(p for p in (folder / name).rglob("*")
                       if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))
        files += found
        labels += [label] * len(found)
    return files, np.asarray(labels)


def image_folder(folder: Path | str, image_size: int, batch_size: int,
                 label_mode: str = "binary", shuffle: bool = False, seed: int = 0,
                 limit: int | None = None) -> tuple[Any, list[str]]:
    """A folder with one subfolder per class as batches, and its class names (sorted).

    Images are resized to ``image_size`` (bilinear); labels are ``(n, 1)`` floats for
    ``label_mode="binary"``, integers for ``"int"``. ``limit`` keeps the first ``limit`` images
    of the (seeded) file order. ``shuffle`` reshuffles the training batches every epoch.
    """
    folder = Path(folder)
    size = (image_size, image_size)
    class_names = sorted(p.name for p in folder.iterdir() if p.is_dir())
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        data = keras.utils.image_dataset_from_directory(
            folder, label_mode=label_mode, class_names=class_names, image_size=size,
            batch_size=None, shuffle=True, seed=seed, verbose=False,
        )
        if limit is not None:
            data = data.take(limit)
        data = data.cache()
        if shuffle:
            data = data.shuffle(1000, seed=seed, reshuffle_each_iteration=True)
        return data.batch(batch_size).prefetch(tf.data.AUTOTUNE), class_names
    files, labels = _files(folder, class_names)
    order = np.random.default_rng(seed).permutation(len(files))[:limit]
    x = np.stack([keras.utils.img_to_array(keras.utils.load_img(files[i], target_size=size,
                                                                interpolation="bilinear"))
                  for i in order]).astype("uint8")
    y = labels[order].astype("float32")[:, None] if label_mode == "binary" else labels[order]
    return ArrayBatches(x, y, batch_size, shuffle, seed), class_names
