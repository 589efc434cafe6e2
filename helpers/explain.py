"""Where the model looks: CAM, Grad-CAM, SmoothGrad (MOTOR §4.3, eq. 17-20; §7.2) and how well
each map falls on the defect mask (beyond MOTOR, which could only look).

Maps are computed for a chosen class (here: ``defect``) from a model whose last layers are
``last conv -> GlobalAveragePooling2D -> Dense softmax`` (``helpers.models``). All three agree
with tf-keras-vis 0.8.7 (``tests/test_explain.py`` states the tolerances).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import keras
import numpy as np
import tensorflow as tf
from scipy import ndimage

from helpers.models import LAST_CONV

SMOOTHGRAD_SIGMA = 0.1  # MOTOR §7.2: sigma = 0.1, 50 samples
SMOOTHGRAD_SAMPLES = 50


def _features_and_output(model: keras.Model, conv_layer: str) -> keras.Model:
    return keras.Model(model.inputs, [model.get_layer(conv_layer).output, model.output])


def cam(model: keras.Model, images: np.ndarray, class_index: int,
        conv_layer: str = LAST_CONV) -> np.ndarray:
    """Class activation maps (MOTOR eq. 18): M = sum_k W_kc z_k over the last conv feature
    maps z_k, with the output layer's weights W (bias ignored, as MOTOR). Shape (n, h, w)."""
    features, _ = _features_and_output(model, conv_layer)(images, training=False)
    kernel = keras.ops.convert_to_numpy(model.layers[-1].kernel)
    return np.tensordot(keras.ops.convert_to_numpy(features), kernel[:, class_index], axes=1)


def grad_cam(model: keras.Model, images: np.ndarray, class_index: int,
             conv_layer: str = LAST_CONV) -> np.ndarray:
    """Grad-CAM: ReLU of the feature maps weighted by the spatial mean of the gradients of the
    class score (the softmax output) with respect to them. Shape (n, h, w)."""
    model_two = _features_and_output(model, conv_layer)
    with tf.GradientTape() as tape:
        features, output = model_two(tf.convert_to_tensor(images), training=False)
        score = output[:, class_index]
    grads = tape.gradient(score, features)
    weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)
    return tf.nn.relu(tf.reduce_sum(features * weights, axis=-1)).numpy()


def smoothgrad(model: keras.Model, images: np.ndarray, class_index: int,
               sigma: float = SMOOTHGRAD_SIGMA, samples: int = SMOOTHGRAD_SAMPLES,
               seed: int = 0) -> np.ndarray:
    """SmoothGrad (MOTOR eq. 20): the mean over ``samples`` noisy copies x + d_i of the
    gradient magnitude of the class score, d_i ~ N(0, (sigma * (max - min of x))^2) as in the
    SmoothGrad paper; the largest over colour channels. Shape (n, H, W).

    The noise is drawn like tf-keras-vis draws it (``np.random.normal`` on a (samples, n, ...)
    array), from ``np.random.RandomState(seed)``, so the same seed gives the same noise."""
    x = np.asarray(images, dtype=np.float32)
    axes = tuple(range(1, x.ndim))
    spread = sigma * (x.max(axis=axes, keepdims=True) - x.min(axis=axes, keepdims=True))
    tiled = np.broadcast_to(x, (samples, *x.shape))
    noisy = tiled + np.random.RandomState(seed).normal(0.0, spread[None], tiled.shape)
    total = np.zeros_like(x)
    for batch in noisy:
        inputs = tf.convert_to_tensor(batch, dtype=tf.float32)
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            score = model(inputs, training=False)[:, class_index]
        total += np.abs(tape.gradient(score, inputs).numpy())
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
