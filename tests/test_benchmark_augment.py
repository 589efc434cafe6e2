"""benchmarks/augment_throughput.py: both pipelines on one folder; the ratio printed last.

TensorFlow only: the benchmark is about tf.data. On the JAX backend the module is skipped.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import keras
import numpy as np
import pytest

if keras.backend.backend() != "tensorflow":  # Colab's TPU runtime: JAX, no TensorFlow
    pytest.skip(
        "the benchmark measures tf.data, TensorFlow's input pipeline; Keras runs on "
        f"{keras.backend.backend()} here",
        allow_module_level=True,
    )

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "augment_throughput.py"


def load_script():
    spec = importlib.util.spec_from_file_location("augment_throughput", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_both_pipelines_yield_the_same_batches_shape(tmp_path):
    bench = load_script()
    folder = bench.photos.write_photo_folder(tmp_path, per_class=3, size=48)
    x1, y1 = next(iter(bench.datagen_batches(folder, 32, 4)))
    x2, y2 = next(iter(bench.tf_data_batches(folder, 32, 4)))
    assert x1.shape == tuple(x2.shape) == (4, 32, 32, 3)
    assert y1.shape == tuple(y2.shape) == (4, 2)
    for x in (x1, np.asarray(x2)):  # rescale=1/255 applied by both
        assert 0.0 <= x.min() and x.max() <= 1.0 and x.max() > 0.2


def test_prints_rates_and_the_ratio_last(capsys):
    bench = load_script()
    ratio = bench.main(
        ["--per-class", "4", "--size", "32", "--batch-size", "4", "--seconds", "0.4"]
    )
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1] == f"{ratio:.2f}" and ratio > 0
    rates = [line for line in lines if "images/s" in line]
    assert len(rates) == 3  # the generator augmenting, tf.data, the generator rescaling only
    assert rates[2].startswith("flow_from_directory, rescaling only: ")
