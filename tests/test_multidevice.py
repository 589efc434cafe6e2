"""Training and evaluation over several JAX devices when the device count does not divide a batch.

On a TPU VM's 8 cores ``helpers.distribute.distribution`` sets ``DataParallel`` globally; an epoch's
last batch (05's 289 validation images in batches of 32, a generator's, a NumPy array's) is not
divisible by 8. Eight CPU devices stand in for the cores (XLA's host device count, which must be
set before JAX starts, hence a subprocess); a run on one device is the reference.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

_RUN = """
import json, sys
from pathlib import Path
import keras, numpy as np
from PIL import Image
from helpers import distribute, pipelines, runtime
from helpers.augment import ImageDataGenerator

platforms = runtime.device_platforms()
dist = distribute.distribution(runtime.accelerator(platforms), platforms)
rng = np.random.default_rng(0)
x = rng.integers(0, 256, (37, 6, 6, 3), dtype=np.uint8)  # 37 = 2 batches of 16 and 5
y = (x[..., 0].mean(axis=(1, 2)) > 127).astype("int32")
folder = Path(sys.argv[1])
for i, (image, label) in enumerate(zip(x, y)):
    (folder / str(label)).mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(folder / str(label) / f"{i}.png")


def trained(train, evaluate, fit_kwargs=None):
    keras.utils.set_random_seed(1)
    with dist.scope():
        model = keras.Sequential([keras.Input((6, 6, 3)), keras.layers.Rescaling(1 / 255),
                                  keras.layers.Flatten(), keras.layers.Dense(2, "softmax")])
    model.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(*train, epochs=2, verbose=0, **(fit_kwargs or {}))
    loss, accuracy = model.evaluate(*evaluate, verbose=0)
    predictions = model.predict(evaluate[0], verbose=0)
    return {"loss": loss, "accuracy": accuracy, "predictions": predictions.tolist(),
            "weights": [w.tolist() for w in model.get_weights()]}


generator = ImageDataGenerator()
image_folder = [pipelines.image_folder(folder, 6, 16, label_mode="int", shuffle=shuffle)[0]
                for shuffle in (True, False)]
runs = {
    "batches": trained([pipelines.batches(x, y, 16, shuffle=True)], [pipelines.batches(x, y, 16)]),
    "image_folder": trained(image_folder[:1], image_folder[1:]),
    # unshuffled: the legacy iterator's shuffle draws from NumPy's global generator
    "generator": trained([generator.flow(x, y, batch_size=16, shuffle=False)],
                         [generator.flow(x, y, batch_size=16, shuffle=False)]),
    "arrays": trained([x, y], [x, y], {"batch_size": 16, "shuffle": False}),
}
labels = {"image_folder": np.concatenate([b for _, b in image_folder[1]]).tolist()}
print(json.dumps({"devices": len(platforms), "labels": labels, "runs": runs}))
"""


def _run(devices: int, folder: Path) -> dict:
    env = {**os.environ, "KERAS_BACKEND": "jax", "LAB_BACKEND": "jax",
           "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}"}
    done = subprocess.run([sys.executable, "-c", _RUN, str(folder)], env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-1500:]
    return json.loads(done.stdout.splitlines()[-1])


@pytest.mark.skipif(
    importlib.util.find_spec("jax") is None or importlib.util.find_spec("tensorflow") is not None,
    reason="runs in the JAX environment (the JAX half of make test), where TensorFlow is absent")
def test_partial_batches_over_eight_devices_count_every_image_once(tmp_path) -> None:
    one, eight = _run(1, tmp_path / "one"), _run(8, tmp_path / "eight")
    assert (one["devices"], eight["devices"]) == (1, 8)
    x = np.random.default_rng(0).integers(0, 256, (37, 6, 6, 3), dtype=np.uint8)
    y = (x[..., 0].mean(axis=(1, 2)) > 127).astype("int32")
    for name, run in eight["runs"].items():
        reference = one["runs"][name]
        labels = np.asarray(eight["labels"].get(name, y))
        predictions = np.asarray(run["predictions"])
        assert predictions.shape == (37, 2), name  # predict: one row per image, no padding
        # evaluate counts each of the 37 images once: its accuracy is the predictions' own
        assert run["accuracy"] == pytest.approx(np.mean(predictions.argmax(1) == labels)), name
        assert run["accuracy"] == pytest.approx(reference["accuracy"]), name
        assert run["loss"] == pytest.approx(reference["loss"], rel=1e-5), name
        # fit took the same steps, partial batches included, as on one device
        for w8, w1 in zip(run["weights"], reference["weights"], strict=True):
            np.testing.assert_allclose(w8, w1, rtol=1e-4, atol=1e-6, err_msg=name)
        np.testing.assert_allclose(predictions, reference["predictions"], atol=1e-5,
                                   err_msg=name)


def test_compiled_metrics_count_rows_of_weight_zero() -> None:
    """Why a partial batch is not padded with weight-0 rows: Keras 3 gives ``sample_weight``
    to the loss and ``weighted_metrics`` only, so ``metrics=["accuracy"]`` would count them."""
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(2, "softmax")])
    model.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"],
                  weighted_metrics=["accuracy"])
    x = np.zeros((8, 1), "float32")
    predicted = int(model.predict(x[:1], verbose=0).argmax())
    y = np.full(8, predicted)
    y[4:] = 1 - predicted  # the padding: wrong answers of weight 0
    weight = np.r_[np.ones(4), np.zeros(4)]
    result = model.evaluate(x, y, sample_weight=weight, batch_size=8, verbose=0,
                            return_dict=True)
    accuracies = sorted(v for k, v in result.items() if "accuracy" in k)
    assert accuracies == pytest.approx([0.5, 1.0])  # metrics counts the padding; weighted not
