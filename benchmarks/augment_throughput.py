"""Throughput: ``ImageDataGenerator.flow_from_directory`` vs tf.data (LECTURE, "データ拡張").

Both pipelines read the same folder of JPEGs (crops of scikit-learn's sample photos), resize to
the lecture's 150x150, apply the lecture's augmentation and batch by 32; tf.data runs the same
augmentation as Keras 3 layers in a parallel ``map`` with ``prefetch``. They are measured side
by side in one run, with the generator's rescaling-only rate (the lecture's validation
generator) beside them: on a 2-core CPU (Colab's 2 vCPUs) these are ``helpers.budget``'s
``FEED_RATE`` for the lecture's generator. The last line printed is the ratio tf.data /
ImageDataGenerator.
TensorFlow only (tf.data is TensorFlow's); notebook 02 teaches the same comparison.

    python benchmarks/augment_throughput.py --per-class 100 --seconds 6
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import keras
import tensorflow as tf

from helpers import augment
from helpers.synth import photos


def datagen_batches(folder: Path, size: int, batch_size: int, augmented: bool = True):
    """The lecture's generator: the legacy class, reading and augmenting on the Python side
    (``augmented=False``: rescaling only, as the lecture's validation generator)."""
    settings = augment.LECTURE_DATAGEN if augmented else {"rescale": 1.0 / 255.0}
    datagen = augment.ImageDataGenerator(**settings)  # the class tf.keras names
    return datagen.flow_from_directory(
        folder, target_size=(size, size), batch_size=batch_size, class_mode="categorical", seed=0
    )


def tf_data_batches(folder: Path, size: int, batch_size: int) -> tf.data.Dataset:
    """Keras 3: decode in tf.data, the same augmentation as layers, parallel map, prefetch."""
    augmentation = augment.datagen_layers(seed=0, **augment.LECTURE_DATAGEN)
    dataset = keras.utils.image_dataset_from_directory(
        folder,
        image_size=(size, size),
        batch_size=batch_size,
        label_mode="categorical",
        seed=0,
        verbose=False,
    )
    return (
        dataset.repeat()
        .map(lambda x, y: (augmentation(x, training=True), y), num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=100, help="JPEGs per class (2 classes)")
    parser.add_argument("--size", type=int, default=150, help="target size (LECTURE: 150)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=6.0, help="measuring time per pipeline")
    parser.add_argument("--folder", type=Path, help="existing class folders of JPEGs to read")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.folder or photos.write_photo_folder(Path(tmp), args.per_class, 256)
        rates = augment.compare_throughput(
            {
                "ImageDataGenerator.flow_from_directory": datagen_batches(
                    folder, args.size, args.batch_size
                ),
                "tf.data + preprocessing layers": tf_data_batches(
                    folder, args.size, args.batch_size
                ),
                "flow_from_directory, rescaling only": datagen_batches(
                    folder, args.size, args.batch_size, augmented=False
                ),
            },
            seconds=args.seconds,
        )
    for name, rate in rates.items():
        print(f"{name}: {rate:.1f} images/s")
    ratio = (
        rates["tf.data + preprocessing layers"] / rates["ImageDataGenerator.flow_from_directory"]
    )
    print(f"{ratio:.2f}")
    return ratio


if __name__ == "__main__":
    main()
