"""Seconds per epoch of the quick notebooks' depthwise models on JAX on a CPU, for a choice of
``helpers.depthwise.SHIFTS_ABOVE`` (which depthwise convolutions take the shifted form).

The models as 05 and 06 train them in quick mode, without their augmentation: MobileNetV2 at
96 px on 192 images in batches of 16 with RMSprop (05), EfficientNetB0 at 32 px on 480 images in
batches of 32 with Adam and 300 validation images (06); random weights and images. The first
epoch holds the compiling. Run with nothing else on the machine.

    KERAS_BACKEND=jax .venv-jax/bin/python benchmarks/depthwise_threshold.py mobilenetv2 2e7 1e8
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Sequence

MODELS = ("mobilenetv2", "efficientnetb0")


def epochs_of(model_name: str, threshold: float, epochs: int) -> list[float]:
    """Build ``model_name`` with ``SHIFTS_ABOVE = threshold`` and fit it; seconds per epoch."""
    import helpers  # noqa: F401  (picks the backend before Keras loads)

    # isort: split
    import keras
    import numpy as np

    from helpers import callbacks, depthwise

    if keras.backend.backend() != "jax":
        raise SystemExit("depthwise_threshold: run it on JAX (KERAS_BACKEND=jax)")
    depthwise.SHIFTS_ABOVE = threshold
    depthwise.fast_depthwise_on_cpu()
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    pool = keras.layers.GlobalAveragePooling2D()
    if model_name == "mobilenetv2":
        x = rng.uniform(0, 255, (192, 96, 96, 3)).astype("float32")
        y = rng.integers(0, 2, (192, 1)).astype("float32")
        base = keras.applications.MobileNetV2(input_shape=(96, 96, 3), include_top=False,
                                              weights=None)
        inputs = keras.Input((96, 96, 3))
        outputs = keras.layers.Dense(1)(pool(base(keras.layers.Rescaling(1 / 127.5, offset=-1)(
            inputs))))
        model = keras.Model(inputs, outputs)
        model.compile(optimizer=keras.optimizers.RMSprop(1e-4),
                      loss=keras.losses.BinaryCrossentropy(from_logits=True))
        fit = {"batch_size": 16}
    else:
        x = rng.uniform(0, 255, (480, 32, 32, 3)).astype("float32")
        y = rng.integers(0, 100, (480, 1))
        base = keras.applications.EfficientNetB0(include_top=False, weights=None,
                                                 input_shape=(32, 32, 3))
        model = keras.Model(base.input,
                            keras.layers.Dense(100, activation="softmax")(pool(base.output)))
        model.compile(optimizer=keras.optimizers.Adam(1e-3),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        fit = {"batch_size": 32, "validation_data": (x[:300], y[:300])}

    clock = callbacks.EpochSeconds()
    model.fit(x, y, epochs=epochs, verbose=0, callbacks=[clock], **fit)
    return clock.seconds


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", choices=MODELS)
    parser.add_argument("thresholds", nargs="+", type=float, metavar="THRESHOLD")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:  # one threshold, in the process the parent started
        print(" ".join(f"{s:.1f}" for s in epochs_of(args.model, args.thresholds[0],
                                                      args.epochs)))
        return 0
    print(f"{args.model} on JAX, {args.epochs} epochs, seconds per epoch (the first compiles)")
    for threshold in args.thresholds:  # each in a fresh process: no compiled step is reused
        done = subprocess.run([sys.executable, __file__, args.model, str(threshold), "--one",
                               "--epochs", str(args.epochs)],
                              capture_output=True, text=True, check=False)
        if done.returncode:
            print(done.stderr[-3000:], file=sys.stderr)
            return done.returncode
        seconds = done.stdout.strip().splitlines()[-1]
        total = sum(float(s) for s in seconds.split())
        print(f"SHIFTS_ABOVE={threshold:g}: {seconds} (total {total:.1f} s)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
