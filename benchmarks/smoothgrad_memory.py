"""Peak host memory of ``explain.smoothgrad`` on MobileNet (random weights): 64 images at
520 x 520 by default, as in notebook 07's full mode. The maps are computed in chunks with
float32 noise, so the peak does not depend on the number of samples; the script prints the
measured peak (``ru_maxrss``) beside what one float64 noise array of samples x images would
have taken (the earlier implementation's).

    python benchmarks/smoothgrad_memory.py --images 64 --size 520 --samples 2 --chunk 8
"""

from __future__ import annotations

import argparse
import resource

import helpers  # noqa: F401  (chooses the Keras backend first)

# isort: split
import keras
import numpy as np

from helpers import explain


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--size", type=int, default=520)
    parser.add_argument("--samples", type=int, default=2)
    parser.add_argument("--chunk", type=int, default=explain.CHUNK, help="images per gradient")
    args = parser.parse_args()
    explain.CHUNK = args.chunk
    base = keras.applications.MobileNet(include_top=False, weights=None,
                                        input_shape=(args.size, args.size, 3))
    outputs = keras.layers.Dense(2, activation="softmax")(
        keras.layers.GlobalAveragePooling2D()(base.output))
    model = keras.Model(base.input, outputs)
    images = np.random.default_rng(0).uniform(
        -1, 1, (args.images, args.size, args.size, 3)).astype("float32")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    maps = explain.smoothgrad(model, images, 0, samples=args.samples)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    one_array = (explain.SMOOTHGRAD_SAMPLES * images.size * 8) / 2**30
    print(f"{args.images} images at {args.size} px, {args.samples} samples, {args.chunk} per "
          f"gradient: maps {maps.shape}; "
          f"peak resident memory {peak:.2f} GiB (before SmoothGrad {before:.2f} GiB); "
          f"one float64 noise array for {explain.SMOOTHGRAD_SAMPLES} samples would be "
          f"{one_array:.1f} GiB")


if __name__ == "__main__":
    main()
