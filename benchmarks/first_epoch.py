"""First-epoch cost of a fit: as compiled with the string ``"accuracy"``, with
``helpers.callbacks.OptimizerBuilt``, and with that callback and an accuracy metric object.

Notebook 06's ensemble member (experiment 2: EfficientNetB0 at 32x32 on 100 classes, Adam,
``--images`` random images in batches of 32, validation on 300 of them), trained for
``--epochs`` epochs in a fresh process per variant, so none reuses another's traces. The first
epoch holds the tracing of the training and evaluation steps; the later ones are the steady
cost. On TensorFlow without a distribution strategy, a variable made inside the first trace of
the training step (the optimizer's slots, or the variables of the metric Keras makes for the
string ``"accuracy"``, which it resolves only when it sees the labels) makes TensorFlow trace it
a second time; JAX builds both before tracing. The losses are printed so the variants can be
seen to train alike.

    python benchmarks/first_epoch.py
    KERAS_BACKEND=jax .venv-jax/bin/python benchmarks/first_epoch.py --epochs 2
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence

VARIANTS = {  # name: what the fit's first epoch is measured with
    "string": 'metrics=["accuracy"]',
    "optimizer": 'metrics=["accuracy"], OptimizerBuilt',
    "object": "a metric object, OptimizerBuilt",
}


def one_fit(variant: str, images: int, epochs: int) -> dict:
    """Build and fit the member once; its build time and per-epoch seconds and losses."""
    import helpers  # noqa: F401  (picks the backend before Keras loads)

    # isort: split
    import keras
    import numpy as np

    from helpers import callbacks

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (images, 32, 32, 3)).astype("float32")
    y = rng.integers(0, 100, (images, 1))
    start = time.perf_counter()
    base = keras.applications.EfficientNetB0(include_top=False, weights=None,
                                             input_shape=(32, 32, 3))
    pooled = keras.layers.GlobalAveragePooling2D()(base.output)
    model = keras.Model(base.input, keras.layers.Dense(100, activation="softmax")(pooled))
    accuracy = (keras.metrics.SparseCategoricalAccuracy(name="accuracy")
                if variant == "object" else "accuracy")
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss="sparse_categorical_crossentropy", metrics=[accuracy])
    built = time.perf_counter() - start

    clock = callbacks.EpochSeconds()
    found = [callbacks.OptimizerBuilt()] if variant != "string" else []
    history = model.fit(x, y, batch_size=32, epochs=epochs, verbose=0,
                        validation_data=(x[:300], y[:300]), callbacks=[*found, clock])
    return {"build": built, "epochs": clock.seconds, "loss": history.history["loss"]}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=480, help="06's quick c100_train_images")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--variant", choices=VARIANTS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.images < 300 or args.epochs < 2:
        parser.error("--images at least 300 (the validation images) and --epochs at least 2")
    if args.variant:  # one fit, in the process the parent started
        print(json.dumps(one_fit(args.variant, args.images, args.epochs)))
        return 0
    import helpers  # noqa: F401
    from helpers import runtime

    name = runtime.backend()
    print(f"06's member fit on {name} {runtime.versions()[name]}, {os.cpu_count()} CPU cores, "
          f"{args.images} images, {args.epochs} epochs", flush=True)
    for variant in VARIANTS:
        done = subprocess.run([sys.executable, __file__, "--variant", variant,
                               "--images", str(args.images), "--epochs", str(args.epochs)],
                              capture_output=True, text=True, check=False)
        if done.returncode:
            print(done.stderr[-3000:], file=sys.stderr)
            return done.returncode
        found = json.loads(done.stdout.strip().splitlines()[-1])
        epochs = ", ".join(f"{s:.1f}" for s in found["epochs"])
        losses = ", ".join(f"{v:.4f}" for v in found["loss"])
        print(f"{VARIANTS[variant]:<38} build {found['build']:5.1f} s; epochs "
              f"{epochs} s; losses {losses}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
