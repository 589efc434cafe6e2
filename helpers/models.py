"""MobileNet v1 by block: what later code reuses from MOTOR's model (MOTOR §6.2 and §7.1).

Notebook 07 teaches MOTOR's model and its fine-tuning in full, in its own cells: MobileNet v1
without its top, then ``GlobalAveragePooling2D`` and a softmax ``Dense`` layer (the structure
CAM needs, MOTOR §4.3), and re-training the last N of its 13 blocks with BatchNorm kept frozen
(再学習ブロック数). This module holds only the pieces that code outside that lesson uses:

* ``block_number`` and ``MOBILENET_BLOCKS``: block ``n`` of MobileNet v1 is the Keras layers
  ``conv_dw_n``, ``conv_dw_n_bn``, ``conv_dw_n_relu``, ``conv_pw_n``, ``conv_pw_n_bn``,
  ``conv_pw_n_relu`` (and ``conv_pad_n`` for strided blocks);
* ``LAST_CONV``: the feature maps the GAP layer averages, where ``helpers.explain`` computes
  CAM and Grad-CAM;
* ``calibrate_batch_norm``: data-dependent BatchNorm statistics for a randomly initialised
  backbone (quick mode without ImageNet weights).

(The faster depthwise convolution for JAX on a CPU is plumbing, in ``helpers.depthwise``.)
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import keras
import numpy as np
from keras import layers

from helpers import compiled

MOBILENET_BLOCKS = 13
LAST_CONV = "conv_pw_13_relu"  # the feature maps the GAP layer averages (CAM's z^(N-2))
_BLOCK = re.compile(r"^conv_(?:dw|pw|pad)_(\d+)(?:_|$)")


def block_number(layer_name: str) -> int | None:
    """MobileNet v1 block of a layer (1..13), or ``None`` (stem ``conv1``, head, input)."""
    match = _BLOCK.match(layer_name)
    return int(match.group(1)) if match else None


def calibrate_batch_norm(model: keras.Model, images, chunk: int = 16) -> None:
    """Set every BatchNormalization layer's moving mean and variance to those of ``images``:
    the average of their batch statistics over forward passes of ``chunk`` images (so 128
    images at 520 px need the memory of 16). For a backbone *without* ImageNet weights only
    (quick mode offline, dry runs): its initial statistics (mean 0, variance 1) do not fit its
    random filters, so its frozen features would be badly scaled; this data-dependent
    initialisation normalises them. The passes run in training mode (each layer normalises
    with its batch's statistics), compiled once per model (``helpers.compiled``); each layer's
    ``trainable`` flag is restored afterwards."""
    norms = [layer for layer in model.layers if isinstance(layer, layers.BatchNormalization)]
    if not norms:
        return
    saved = [layer.trainable for layer in norms]
    for layer in norms:  # a frozen BatchNorm layer would normalise with its moving statistics
        layer.trainable = True
    try:
        step = compiled.per_model(model, ("batch statistics",),
                                  lambda: _batch_statistics(model.inputs, norms))
        passes = [[keras.ops.convert_to_numpy(t) for t in step(images[start:start + chunk])]
                  for start in range(0, len(images), chunk)]
    finally:
        for layer, trainable in zip(norms, saved, strict=True):
            layer.trainable = trainable
    for i, layer in enumerate(norms):
        layer.moving_mean.assign(np.mean([p[2 * i] for p in passes], axis=0))
        layer.moving_variance.assign(np.mean([p[2 * i + 1] for p in passes], axis=0))


def _batch_statistics(inputs: Any, norms: list[layers.BatchNormalization]) -> Callable:
    """The step: a batch -> the mean and variance of each layer's input over all but its
    channel axis, as the layer computes them in training mode (``keras.ops.moments``), in one
    list (mean, variance, mean, ...). ``inputs``: the model's inputs, not the model, which
    ``helpers.compiled`` holds only weakly."""
    probe = keras.Model(inputs, [layer.input for layer in norms])

    def step(x: Any) -> list[Any]:
        statistics = []
        for layer, z in zip(norms, keras.tree.flatten(probe(x, training=True)), strict=True):
            axes = [a for a in range(len(z.shape)) if a != layer.axis % len(z.shape)]
            statistics += keras.ops.moments(keras.ops.cast(z, "float32"), axes)
        return statistics

    return step
