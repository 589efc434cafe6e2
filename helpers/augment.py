"""The lecture's ``ImageDataGenerator`` on Keras 3 preprocessing layers (LECTURE, "データ拡張").

Taught in notebook 02 ("データ拡張（ジェネレータ）の実装"), which writes the mapping out; this
module is the reusable copy.

``datagen_layers(**kwargs)`` takes the keyword arguments of the legacy
``tf.keras.preprocessing.image.ImageDataGenerator`` that the lecture uses and returns a
``keras.Sequential`` of preprocessing layers that draws the same transforms:

============================  =====================================================
ImageDataGenerator            Keras 3 layer
============================  =====================================================
``horizontal_flip``           ``RandomFlip("horizontal")`` (each flip its own layer)
``vertical_flip``             ``RandomFlip("vertical")``
``rotation_range=d`` (deg)    ``RandomRotation(d / 360)`` (a fraction of a full turn)
``width/height_shift_range``  ``RandomTranslation(height_factor, width_factor)``
``shear_range=d`` (deg)       ``RandomShear(x_factor=sin(d))`` (the slope IDG draws)
``zoom_range=z``              ``RandomZoom((-z, z), (-z, z))``: IDG samples the scale
                              ``1 + u`` per axis, u in [-z, z], and so does RandomZoom
                              (negative = zoom in in both)
``fill_mode``, ``cval``       ``fill_mode``, ``fill_value`` of every geometric layer
``rescale``                   ``Rescaling(rescale)`` (applied last, as IDG's ``standardize``)
============================  =====================================================

Known differences (measured in ``tests/test_augment.py`` and the notebook): IDG composes all
geometric transforms into one resampling while the layers resample once each; Keras's
``RandomShear`` shears about the top-left corner, so it also shifts the image, where IDG shears
about the centre; IDG's ``"wrap"`` is SciPy's, whose period is one pixel short, while the
layers wrap with the image's true period; the legacy class in Keras 3 scales
``width_shift_range`` by the height but shifts rows with it (and ``height_shift_range`` the
columns; keras-team/keras#17398), while the layers shift along the axis the keyword names.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping
from typing import Any

import keras
from keras.src.legacy.preprocessing.image import ImageDataGenerator

__all__ = ["LECTURE_DATAGEN", "ImageDataGenerator", "compare_throughput", "datagen_layers"]

# ``ImageDataGenerator`` above is the lecture's class as Keras 3 keeps it: the very class that
# ``tf.keras.preprocessing.image.ImageDataGenerator`` names (tests/test_augment.py checks that).
# It is NumPy, SciPy and PIL code, so it runs on the JAX backend too, without TensorFlow.

LECTURE_KEYWORDS = (
    "horizontal_flip",
    "vertical_flip",
    "rotation_range",
    "zoom_range",
    "width_shift_range",
    "height_shift_range",
    "shear_range",
    "fill_mode",
    "cval",
    "rescale",
)
FILL_MODES = ("constant", "nearest", "reflect", "wrap")

# The generator the lecture shows (LECTURE, "データ拡張の実装").
LECTURE_DATAGEN: dict[str, Any] = dict(
    horizontal_flip=True,
    vertical_flip=True,
    rotation_range=30,
    zoom_range=0.2,
    width_shift_range=0.2,
    height_shift_range=0.2,
    shear_range=10,
    fill_mode="constant",
    rescale=1.0 / 255.0,
)


def _check_range(name: str, value: float, upper: float, inclusive: bool = True) -> float:
    value = float(value)
    ok = 0.0 <= value <= upper if inclusive else 0.0 <= value < upper
    if not ok:
        bound = f"<= {upper}" if inclusive else f"< {upper}"
        raise ValueError(f"{name} must be a number with 0 <= {name} {bound}, got {value!r}")
    return value


def _zoom_bounds(zoom_range: float | tuple[float, float]) -> tuple[float, float]:
    """IDG's ``zoom_range``: ``z`` means scales in ``[1 - z, 1 + z]``, a pair ``[lower, upper]``."""
    if isinstance(zoom_range, (tuple, list)):
        if len(zoom_range) != 2:
            raise ValueError(
                f"zoom_range must be a number or a [lower, upper] pair, got {zoom_range!r}"
            )
        lower, upper = (float(v) for v in zoom_range)
    else:
        z = _check_range("zoom_range", zoom_range, 1.0, inclusive=False)
        lower, upper = 1.0 - z, 1.0 + z
    if not 0.0 < lower <= upper < 2.0:
        raise ValueError(
            f"zoom_range must give scales with 0 < lower <= upper < 2, got {zoom_range!r}"
        )
    return lower, upper


def datagen_layers(*, seed: int | None = None, **datagen_kwargs: Any) -> keras.Sequential:
    """The Keras 3 preprocessing layers equivalent to ``ImageDataGenerator(**datagen_kwargs)``.

    The lesson is notebook 02, section "データ拡張（ジェネレータ）の実装": it builds this stack
    layer by layer from the lecture's keywords, with the unit conversions, and asserts that this
    function builds the same layers with the same settings. This is the reusable copy for the
    cells and scripts after it (02's over-augmentation experiment, the throughput benchmark).

    Accepts exactly the keywords in ``LECTURE_KEYWORDS`` (LECTURE, "データ拡張（ジェネレータ）の
    実装"); any other keyword raises ``ValueError`` naming it. Defaults are IDG's
    (``fill_mode="nearest"``, ``cval=0``). Shift ranges are fractions of the image size. The
    layers transform only when called with ``training=True`` (as inside ``model.fit``).
    """
    unknown = sorted(set(datagen_kwargs) - set(LECTURE_KEYWORDS))
    if unknown:
        raise ValueError(
            f"unsupported ImageDataGenerator keyword(s): {', '.join(unknown)}; "
            f"datagen_layers maps the lecture's keywords: {', '.join(LECTURE_KEYWORDS)}"
        )
    kw = {"fill_mode": "nearest", "cval": 0.0} | datagen_kwargs
    if kw["fill_mode"] not in FILL_MODES:
        raise ValueError(f"fill_mode must be one of {FILL_MODES}, got {kw['fill_mode']!r}")
    fill = {"fill_mode": kw["fill_mode"], "fill_value": float(kw["cval"])}
    seeds = iter(range(seed, seed + 16)) if seed is not None else iter([None] * 16)
    stack: list[keras.layers.Layer] = []

    rotation = _check_range("rotation_range", kw.get("rotation_range", 0), 180.0)
    if rotation:
        stack.append(keras.layers.RandomRotation(rotation / 360.0, seed=next(seeds), **fill))
    height = _check_range("height_shift_range", kw.get("height_shift_range", 0), 1.0, False)
    width = _check_range("width_shift_range", kw.get("width_shift_range", 0), 1.0, False)
    if height or width:
        stack.append(keras.layers.RandomTranslation(height, width, seed=next(seeds), **fill))
    shear = _check_range("shear_range", kw.get("shear_range", 0), 90.0, inclusive=False)
    if shear:
        slope = math.sin(math.radians(shear))
        stack.append(keras.layers.RandomShear(x_factor=slope, seed=next(seeds), **fill))
    if kw.get("zoom_range", 0):
        lower, upper = _zoom_bounds(kw["zoom_range"])
        factor = (lower - 1.0, upper - 1.0)
        stack.append(keras.layers.RandomZoom(factor, factor, seed=next(seeds), **fill))
    # One layer per axis: RandomFlip("horizontal_and_vertical") flips both axes or neither,
    # while IDG decides each flip on its own.
    for axis in ("horizontal", "vertical"):
        if kw.get(f"{axis}_flip"):
            stack.append(keras.layers.RandomFlip(axis, seed=next(seeds)))
    if kw.get("rescale"):
        stack.append(keras.layers.Rescaling(float(kw["rescale"])))
    return keras.Sequential(stack, name="augmentation")


def compare_throughput(
    pipelines: Mapping[str, Iterable[Any]], seconds: float, rounds: int = 2
) -> dict[str, float]:
    """Images per second of each pipeline, measured side by side (LECTURE, "ジェネレータ").

    Each pipeline yields batches ``(images, labels)`` without end. One warm-up batch each is
    not counted (graph tracing, file listing); then the pipelines take turns, ``rounds``
    turns each of ``seconds / rounds``, so a change in machine load hits all of them alike.
    """
    iterators = {name: iter(batches) for name, batches in pipelines.items()}
    for it in iterators.values():
        next(it)
    counted = dict.fromkeys(iterators, 0)
    elapsed = dict.fromkeys(iterators, 0.0)
    for _ in range(rounds):
        for name, it in iterators.items():
            start = time.perf_counter()
            while time.perf_counter() - start < seconds / rounds:
                counted[name] += len(next(it)[0])
            elapsed[name] += time.perf_counter() - start
    return {name: counted[name] / elapsed[name] for name in iterators}
