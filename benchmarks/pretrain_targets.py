"""Feasibility of the course recipes (issue 21, step 3): a backbone trained by
``helpers.pretrain``'s recipe (with the seed changed per row) against the same backbone
randomly initialised, on the notebook's target stand-in at its quick budget.

* ``VGG16`` (03, 04, 48 px): linear probes (standardised GAP features, LogisticRegression) on
  the horse-vs-zebra stand-in (03: 40 training, 40 test images) and the cats-vs-dogs stand-in
  (04's quick 40 training, 200 validation images). 03's fine-tuning and 04's staircase are
  asserted by the notebooks themselves.
* ``MobileNetV2_96`` (05, 96 px): linear probes on the cats-vs-dogs and roses-vs-tulips
  stand-ins at 05's quick sizes (192 training images, every validation image).
* ``EfficientNetB0`` (06): a linear probe (standardised GAP features, LogisticRegression) on
  the CIFAR-100 and CIFAR-10 stand-ins at 06's quick sizes (480 / 300 and 256 / 128 images),
  and 06's own experiment 2: B0 + GAP + a 100-way softmax, Adam 1e-3, 2 epochs of batch 32 on
  the 480 images, its test accuracy on the 300.
* ``MobileNet_224`` (07): the motor-core stand-in as quick mode draws it (``motor_cores_small``,
  every training image and MOTOR's 3x augmentation, at 128 px), a linear probe, and 07's own
  transfer learning (the softmax layer on the frozen features, Adam 1e-3, 10 epochs), scored
  on 520 cores drawn afresh (seed 5): 07's 72 validation images are too few to rank recipes.
  A random MobileNet gets its BatchNorm statistics from the training images, as 07 gives it.

    .venv/bin/python benchmarks/pretrain_targets.py VGG16 --seeds 0 1
    .venv/bin/python benchmarks/pretrain_targets.py MobileNetV2_96 --seeds 0 1
    .venv/bin/python benchmarks/pretrain_targets.py EfficientNetB0 --seeds 0 1
    .venv/bin/python benchmarks/pretrain_targets.py MobileNet_224 --seeds 0 1
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import helpers  # noqa: F401  (chooses the Keras backend first)

# isort: split
import keras
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from helpers import models, pipelines, pretrain, runtime
from helpers.datasets import caltech256_horse_zebra, cats_vs_dogs, flowers_roses_tulips, motor_cores
from helpers.datasets import cifar as cifar_data
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


def folders(module, size: int, limits: tuple[int | None, int | None]):
    """A stand-in (``module._standin``, as ``helpers.datasets`` builds it) read at ``size`` px
    as the notebooks read it: ``(x_train, y_train, x_test, y_test)``, the first ``limits``."""
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        module._standin(Path(tmp), 0)
        for split, limit in zip(module.SPLITS, limits, strict=True):
            batches, _ = pipelines.image_folder(Path(tmp) / split, size, 64, label_mode="int",
                                                seed=runtime.DEFAULT_SEED, limit=limit)
            xs, ys = zip(*((keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
                           for a, b in batches), strict=True)
            out += [np.concatenate(xs), np.concatenate(ys).ravel()]
    return out


def probes(name: str, size: int, targets: dict) -> Callable[[str | None, int], dict]:
    """Linear probes of ``name``'s GAP features, at its notebooks' input scaling, on each
    ``{row: (dataset module, (train, test) limits)}``."""
    def run(path: str | None, seed: int) -> dict[str, tuple[float, int]]:
        base = getattr(keras.applications, name)(include_top=False, weights=path,
                                                  input_shape=(size, size, 3))
        pooled, (scale, offset) = pooling(base), pretrain.SCALINGS[name]
        rows = {}
        for row, (module, limits) in targets.items():
            x, y, xt, yt = folders(module, size, limits)
            rows[row] = (probe(pooled(x, scale, offset), y, pooled(xt, scale, offset), yt),
                         len(yt))
        return rows
    return run


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


TARGETS = {
    "VGG16": probes("VGG16", 48, {"probe horse/zebra (03)": (caltech256_horse_zebra, (None, None)),
                                  "probe cats/dogs (04)": (cats_vs_dogs, (40, 200))}),
    "MobileNetV2_96": probes("MobileNetV2", 96, {
        "probe cats/dogs (05)": (cats_vs_dogs, (192, None)),
        "probe roses/tulips (05)": (flowers_roses_tulips, (192, None))}),
    "EfficientNetB0": efficientnet,
    "MobileNet_224": mobilenet,
}


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
