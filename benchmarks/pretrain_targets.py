"""Feasibility of the course recipes for notebooks 06 and 07 (issue 21, step 3): a backbone
trained by ``helpers.pretrain``'s recipe (with the seed changed per row) against the same
backbone randomly initialised, on the notebook's target stand-in at its quick budget.

* ``EfficientNetB0`` (06): a linear probe (standardised GAP features, LogisticRegression) on
  the CIFAR-100 and CIFAR-10 stand-ins at 06's quick sizes (480 / 300 and 256 / 128 images),
  and 06's own experiment 2: B0 + GAP + a 100-way softmax, Adam 1e-3, 2 epochs of batch 32 on
  the 480 images, its test accuracy on the 300.
* ``MobileNet_224`` (07): the motor-core stand-in as quick mode draws it (``motor_cores_small``,
  every training image and MOTOR's 3x augmentation, at 128 px), a linear probe, and 07's own
  transfer learning (the softmax layer on the frozen features, Adam 1e-3, 10 epochs), scored
  on 520 cores drawn afresh (seed 5): 07's 72 validation images are too few to rank recipes.
  A random MobileNet gets its BatchNorm statistics from the training images, as 07 gives it.

    .venv/bin/python benchmarks/pretrain_targets.py EfficientNetB0 --seeds 0 1
    .venv/bin/python benchmarks/pretrain_targets.py MobileNet_224 --seeds 0 1
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

import helpers  # noqa: F401  (chooses the Keras backend first)

# isort: split
import keras
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from helpers import models, pretrain
from helpers.datasets import cifar as cifar_data
from helpers.datasets import motor_cores
from helpers.synth import cifar, motor
from helpers.verdicts import accuracy_interval


def probe(features_train, y_train, features_test, y_test) -> float:
    scaler = StandardScaler().fit(features_train)
    clf = LogisticRegression(max_iter=5000).fit(scaler.transform(features_train), y_train)
    return float(clf.score(scaler.transform(features_test), y_test))


def pooling(base: keras.Model):
    """``features(x, scale=1, offset=0)``: ``base``'s GAP features of ``x * scale + offset``,
    from one model per base (one traced predict step)."""
    gap = keras.Model(base.input, keras.layers.GlobalAveragePooling2D()(base.output))
    return lambda x, scale=1.0, offset=0.0: gap.predict(x.astype("float32") * scale + offset,
                                                        batch_size=64, verbose=0)


def efficientnet(path: str | None, seed: int) -> dict[str, tuple[float, int]]:
    """06's targets (module docstring): ``{row: (accuracy, test images)}``."""
    per_class = cifar_data.STANDIN_PER_CLASS
    (x10, y10), (t10, u10) = (cifar.cifar_like(per_class["cifar10"][i], 10, i) for i in (0, 1))
    (x100, y100), (t100, u100) = (cifar.cifar_like(per_class["cifar100"][i], 100, i)
                                  for i in (0, 1))
    x10, y10, t10, u10 = x10[:256], y10[:256, 0], t10[:128], u10[:128, 0]
    x100, y100, t100, u100 = x100[:480], y100[:480, 0], t100[:300], u100[:300, 0]
    base = keras.applications.EfficientNetB0(include_top=False, weights=path,
                                             input_shape=(32, 32, 3))
    pooled = pooling(base)
    rows = {"probe CIFAR-100": (probe(pooled(x100), y100, pooled(t100), u100), 300),
            "probe CIFAR-10": (probe(pooled(x10), y10, pooled(t10), u10), 128)}
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((32, 32, 3))
    b0 = keras.applications.EfficientNetB0(include_top=False, weights=path, input_tensor=inputs)
    outputs = keras.layers.Dense(100, activation="softmax")(
        keras.layers.GlobalAveragePooling2D()(b0.output))
    model = keras.Model(inputs, outputs)
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x100.astype("float32"), y100, batch_size=32, epochs=2, verbose=0)
    rows["06 experiment 2"] = (model.evaluate(t100.astype("float32"), u100, verbose=0)[1], 300)
    return rows


def mobilenet(path: str | None, seed: int) -> dict[str, tuple[float, int]]:
    """07's targets (module docstring): ``{row: (accuracy, test images)}``."""
    small = motor_cores.SMALL
    with tempfile.TemporaryDirectory() as tmp:
        motor.write_dataset(Path(tmp) / "quick", **small, seed=0)
        motor.write_dataset(Path(tmp) / "test", size=small["size"], n_defect=260, n_ok=260,
                            scale=small["scale"], seed=5)
        quick = motor_cores.load_images(Path(tmp) / "quick", 128)
        test = motor_cores.load_images(Path(tmp) / "test", 128)
    turned = np.rot90(quick.x_train, 2, axes=(1, 2))
    x = np.concatenate([quick.x_train, turned, turned[:, :, ::-1]])
    y = np.concatenate([quick.y_train] * 3)
    xt, yt = np.concatenate([test.x_train, test.x_val]), np.concatenate([test.y_train, test.y_val])
    base = keras.applications.MobileNet(include_top=False, weights=path,
                                        input_shape=(128, 128, 3))
    if path is None:
        models.calibrate_batch_norm(base, x[::2][:128].astype("float32") / 127.5 - 1)
    pooled = pooling(base)
    features, features_test = (pooled(a, 1 / 127.5, -1.0) for a in (x, xt))
    keras.utils.set_random_seed(seed)
    head = keras.Sequential([keras.Input(features.shape[1:]),
                             keras.layers.Dense(2, activation="softmax")])
    head.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy",
                 metrics=["accuracy"])
    head.fit(features, y, batch_size=32, epochs=10, verbose=0)
    return {"probe motor cores": (probe(features, y, features_test, yt), len(yt)),
            "07 transfer learning": (head.evaluate(features_test, yt, verbose=0)[1], len(yt))}


TARGETS = {"EfficientNetB0": efficientnet, "MobileNet_224": mobilenet}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recipe", choices=TARGETS)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    args = parser.parse_args()
    recipe = pretrain.recipe(args.recipe)
    print(f"{args.recipe}: {recipe}")
    print(f"{'backbone init':<14} {'seed':>4} {'row':<22} {'accuracy':>8} {'95% Wilson':>15} "
          f"{'n':>4}  note")
    with tempfile.TemporaryDirectory() as tmp:
        for init in ("pretrained", "random init"):
            for seed in args.seeds:
                start, note, path = time.perf_counter(), "", None
                if init == "pretrained":
                    base, trained = pretrain.fit_recipe(dataclasses.replace(recipe, seed=seed))
                    path = str(Path(tmp) / f"{seed}.weights.h5")
                    base.save_weights(path)
                    note = (f"pretrained in {time.perf_counter() - start:.0f} s, source "
                            f"accuracy {trained['source_accuracy']:.3f}")
                else:
                    keras.utils.set_random_seed(seed)
                for row, (acc, n) in TARGETS[args.recipe](path, seed).items():
                    low, high = accuracy_interval(acc, n)
                    print(f"{init:<14} {seed:>4} {row:<22} {acc:>8.3f} [{low:.3f}, {high:.3f}] "
                          f"{n:>4}  {note}", flush=True)


if __name__ == "__main__":
    main()
