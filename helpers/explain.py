"""Where the model looks: CAM, Grad-CAM, SmoothGrad (MOTOR §4.3, eq. 17-20; §7.2) and how well
each map falls on the defect mask (beyond MOTOR, which could only look).

Maps are computed for a chosen class (here: ``defect``) from a model whose last layers are
``last conv -> GlobalAveragePooling2D -> Dense softmax`` (``helpers.models``). All three agree
with tf-keras-vis 0.8.7 (``tests/test_explain.py`` states the tolerances), and they run on
both Keras backends: the one step Keras 3 does not abstract, a gradient, is ``gradient``, with a
TensorFlow and a JAX version that the tests check against each other. The maps run steps
compiled once per model (``helpers.compiled``): ``class_gradient`` for SmoothGrad's many passes,
the feature maps for CAM, the feature maps and their gradient for Grad-CAM.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import keras
import numpy as np
from scipy import ndimage

from helpers import compiled
from helpers.models import LAST_CONV

SMOOTHGRAD_SIGMA = 0.1  # MOTOR §7.2: sigma = 0.1, 50 samples
SMOOTHGRAD_SAMPLES = 50
CHUNK = 2
"""Images of 520 x 520 per forward/backward pass: the maps' memory stays that of a few images,
whatever the number of images or SmoothGrad samples. Two keep MobileNet's gradient at 520 x 520
under 1 GiB of host memory on a CPU (``benchmarks/smoothgrad_memory.py``); smaller images go
as many at a time as fit the same pixels (32 at 128 x 128), larger ones one at a time."""
CHUNK_SIDE = 520


def _chunk_size(images: np.ndarray) -> int:
    """Images per pass: ``CHUNK`` images' worth of pixels at ``CHUNK_SIDE``, at least one."""
    h, w = np.shape(images)[1:3]
    return max(1, CHUNK * CHUNK_SIDE**2 // (h * w))


def _chunks(images: np.ndarray) -> list[slice]:
    """Slices of ``images`` (n, h, w, ...) of ``_chunk_size`` images (the last may hold fewer)."""
    n, size = len(images), _chunk_size(images)
    return [slice(start, min(start + size, n)) for start in range(0, n, size)]


def _padded(step: Callable, batch: np.ndarray, size: int) -> list[np.ndarray]:
    """``step``'s outputs for ``batch``, run with zero images added up to ``size``: every pass
    of a model has one batch shape, compiled once (on JAX, each new shape is compiled again;
    a pass costs at most ``CHUNK`` images at ``CHUNK_SIDE``, far less than a compilation).
    Each image's maps depend on that image only, so the padding changes none of them."""
    n = len(batch)
    full = np.concatenate([batch, np.zeros((size - n, *batch.shape[1:]), batch.dtype)])
    out = step(full)
    return [keras.ops.convert_to_numpy(t)[:n] for t in (out if isinstance(out, tuple | list)
                                                         else (out,))]


def _traced_gradient(score: Callable, x: Any) -> Any:
    """d sum(score(x)) / dx for a backend tensor ``x``, inside a compiled step or out."""
    if keras.backend.backend() == "jax":
        import jax
        import jax.numpy as jnp

        return jax.grad(lambda v: jnp.sum(score(v)))(x)
    import tensorflow as tf

    with tf.GradientTape() as tape:
        tape.watch(x)
        total = tf.reduce_sum(score(x))
    return tape.gradient(total, x)


def gradient(score: Callable, x: np.ndarray) -> np.ndarray:
    """d sum(score(x)) / dx for a float32 batch ``x`` (``tf.GradientTape`` or ``jax.grad``: the
    one step of Grad-CAM and SmoothGrad that Keras 3 leaves to the backend). Each sample's score
    depends on its own input only, so this is every sample's gradient at once."""
    x = keras.ops.convert_to_tensor(np.asarray(x, dtype=np.float32))
    return keras.ops.convert_to_numpy(_traced_gradient(score, x))


def class_gradient(model: keras.Model, x: np.ndarray, class_index: int) -> np.ndarray:
    """``gradient`` of the class score ``model(x)[:, class_index]``, compiled once per model,
    class and batch shape: SmoothGrad's many noisy batches run one compiled step instead of
    each operation one by one. Same values as ``gradient`` (tests/test_explain.py), with the
    model's weights as they are at each call."""
    held = weakref.ref(model)

    def step() -> Callable:
        return lambda x: _traced_gradient(lambda v: held()(v, training=False)[:, class_index], x)

    run = compiled.per_model(model, ("gradient", class_index), step)
    return keras.ops.convert_to_numpy(run(np.asarray(x, dtype=np.float32)))


def _split_at(model: keras.Model, conv_layer: str) -> tuple[keras.Model, keras.Model]:
    """(input -> last conv feature maps, feature maps -> class probabilities)."""
    conv = model.get_layer(conv_layer).output
    return keras.Model(model.input, conv), keras.Model(conv, model.output)


def _feature_maps(model: keras.Model, conv_layer: str) -> Callable:
    """The compiled step: images -> the feature maps of ``conv_layer``."""
    def step() -> Callable:
        features, _ = _split_at(model, conv_layer)
        return lambda x: features(x, training=False)

    return compiled.per_model(model, ("features", conv_layer), step)


def _maps_and_gradients(model: keras.Model, conv_layer: str, class_index: int) -> Callable:
    """The compiled step: images -> (feature maps z, d class score / d z)."""
    def step() -> Callable:
        features, head = _split_at(model, conv_layer)

        def run(x: Any) -> tuple[Any, Any]:
            z = features(x, training=False)
            return z, _traced_gradient(lambda v: head(v, training=False)[:, class_index], z)

        return run

    return compiled.per_model(model, ("grad_cam", conv_layer, class_index), step)


def cam(model: keras.Model, images: np.ndarray, class_index: int,
        conv_layer: str = LAST_CONV) -> np.ndarray:
    """Class activation maps (MOTOR eq. 18): M = sum_k W_kc z_k over the last conv feature
    maps z_k, with the output layer's weights W (bias ignored, as MOTOR). Shape (n, h, w)."""
    features = _feature_maps(model, conv_layer)
    weights = keras.ops.convert_to_numpy(model.layers[-1].kernel)[:, class_index]
    images = np.asarray(images, dtype=np.float32)
    size = _chunk_size(images)
    return np.concatenate([np.tensordot(_padded(features, images[part], size)[0], weights, axes=1)
                           for part in _chunks(images)])


def grad_cam(model: keras.Model, images: np.ndarray, class_index: int,
             conv_layer: str = LAST_CONV) -> np.ndarray:
    """Grad-CAM: ReLU of the feature maps weighted by the spatial mean of the gradients of the
    class score (the softmax output) with respect to them. Shape (n, h, w)."""
    step = _maps_and_gradients(model, conv_layer, class_index)
    images = np.asarray(images, dtype=np.float32)
    size = _chunk_size(images)
    maps = []
    for part in _chunks(images):
        z, grads = _padded(step, images[part], size)
        maps.append(np.maximum((z * grads.mean(axis=(1, 2), keepdims=True)).sum(axis=-1), 0.0))
    return np.concatenate(maps)


def smoothgrad(model: keras.Model, images: np.ndarray, class_index: int,
               sigma: float = SMOOTHGRAD_SIGMA, samples: int = SMOOTHGRAD_SAMPLES,
               seed: int = 0) -> np.ndarray:
    """SmoothGrad (MOTOR eq. 20): the mean over ``samples`` noisy copies x + d_i of the
    gradient magnitude of the class score, d_i ~ N(0, (sigma * (max - min of x))^2) as in the
    SmoothGrad paper; the largest over colour channels. Shape (n, H, W).

    The noise is the sequence tf-keras-vis draws (``np.random.normal`` over a (samples, n, ...)
    array), from ``np.random.RandomState(seed)``, so the same seed gives the same noise; it is
    drawn one image at a time in that order and added in float32, and the gradients run
    ``_chunks`` at a time, so memory holds the images, the sum and one chunk."""
    x = np.asarray(images, dtype=np.float32)
    axes = tuple(range(1, x.ndim))
    spread = sigma * (x.max(axis=axes) - x.min(axis=axes))
    rng = np.random.RandomState(seed)
    total, size = np.zeros_like(x), _chunk_size(x)
    for _ in range(samples):
        for part in _chunks(x):
            noisy = np.stack([image + rng.normal(0.0, scale, image.shape).astype(np.float32)
                              for image, scale in zip(x[part], spread[part], strict=True)])
            (grads,) = _padded(lambda b: class_gradient(model, b, class_index), noisy, size)
            total[part] += np.abs(grads)
    return (total / samples).max(axis=-1)


def upsample(maps: np.ndarray, size: int) -> np.ndarray:
    """Maps (n, h, w) resized to (n, size, size) by bilinear interpolation (scipy zoom)."""
    maps = np.asarray(maps, dtype=np.float32)
    factors = (1, size / maps.shape[1], size / maps.shape[2])
    return ndimage.zoom(maps, factors, order=1)


def normalise(maps: np.ndarray) -> np.ndarray:
    """Each map scaled to [0, 1] (min-max), as heatmaps are shown."""
    maps = np.asarray(maps, dtype=np.float32)
    low = maps.min(axis=(1, 2), keepdims=True)
    high = maps.max(axis=(1, 2), keepdims=True)
    return (maps - low) / np.maximum(high - low, 1e-7)


def pointing_game(heatmaps: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Per image: does the hottest pixel of the map fall inside the defect mask?"""
    flat = heatmaps.reshape(len(heatmaps), -1).argmax(axis=1)
    return masks.reshape(len(masks), -1)[np.arange(len(masks)), flat]


def energy_inside(heatmaps: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Per image: the share of the (non-negative, normalised) map's sum inside the mask."""
    heat = normalise(heatmaps)
    inside = (heat * masks).sum(axis=(1, 2))
    return inside / np.maximum(heat.sum(axis=(1, 2)), 1e-7)


def localisation(maps: Mapping[str, np.ndarray], masks: np.ndarray,
                 kinds: Sequence[str]) -> dict[str, dict[str, dict[str, float]]]:
    """``{method: {kind: {"pointing_game", "energy_inside", "mask_share", "images"}}}`` over the
    images of each defect kind; ``mask_share`` (the mask's share of the image) is what
    ``energy_inside`` would be for a map spread evenly: the chance level."""
    kinds = np.asarray(kinds)
    table: dict[str, dict[str, dict[str, float]]] = {}
    for method, heatmaps in maps.items():
        hits, energy = pointing_game(heatmaps, masks), energy_inside(heatmaps, masks)
        table[method] = {
            str(kind): {
                "pointing_game": float(hits[kinds == kind].mean()),
                "energy_inside": float(energy[kinds == kind].mean()),
                "mask_share": float(masks[kinds == kind].mean()),
                "images": int((kinds == kind).sum()),
            }
            for kind in dict.fromkeys(kinds)
        }
    return table
