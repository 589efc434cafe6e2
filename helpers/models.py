"""Backbone + head builders and unfreezing by block (MOTOR §6.2 and §7.1; RATIO).

MOTOR's model is MobileNet v1 without its top, then ``GlobalAveragePooling2D`` and a softmax
``Dense`` layer: the structure CAM needs (MOTOR §4.3). MobileNet v1 has 13 depthwise-separable
blocks; block ``n`` is the Keras layers ``conv_dw_n``, ``conv_dw_n_bn``, ``conv_dw_n_relu``,
``conv_pw_n``, ``conv_pw_n_bn``, ``conv_pw_n_relu`` (and ``conv_pad_n`` for strided blocks).
"""

from __future__ import annotations

import re

import keras
from keras import layers

MOBILENET_BLOCKS = 13
LAST_CONV = "conv_pw_13_relu"  # the feature maps the GAP layer averages (CAM's z^(N-2))
_BLOCK = re.compile(r"^conv_(?:dw|pw|pad)_(\d+)(?:_|$)")


def block_number(layer_name: str) -> int | None:
    """MobileNet v1 block of a layer (1..13), or ``None`` (stem ``conv1``, head, input)."""
    match = _BLOCK.match(layer_name)
    return int(match.group(1)) if match else None


def mobilenet_gap_classifier(
    size: int, classes: int = 2, weights: str | None = "imagenet"
) -> keras.Model:
    """MobileNet v1 (no top) -> GlobalAveragePooling2D -> Dense softmax, one flat model whose
    layers keep MobileNet's names; inputs are ``mobilenet.preprocess_input`` images in [-1, 1].
    The backbone starts frozen (transfer learning); see ``unfreeze_last_blocks``."""
    base = keras.applications.MobileNet(
        include_top=False, weights=weights, input_shape=(size, size, 3)
    )
    base.trainable = False
    features = layers.GlobalAveragePooling2D(name="gap")(base.output)
    outputs = layers.Dense(classes, activation="softmax", name="predictions")(features)
    return keras.Model(base.input, outputs, name=f"mobilenet_gap_{size}")


def unfreeze_last_blocks(model: keras.Model, n: int, batch_norm: bool = False) -> list[str]:
    """Make the last ``n`` of MobileNet's 13 blocks (and the head) trainable, the rest frozen
    (MOTOR §7.1, 再学習ブロック数). Returns the names of the trainable backbone layers.

    Their BatchNormalization layers stay frozen unless ``batch_norm``: a frozen BN layer runs in
    inference mode, so training and validation normalise alike (the Keras transfer-learning
    guide's advice; with few steps, moving statistics would otherwise lag the batch ones)."""
    if not 0 <= n <= MOBILENET_BLOCKS:
        raise ValueError(f"n must be 0..{MOBILENET_BLOCKS}, not {n}")
    model.trainable = True
    first = MOBILENET_BLOCKS - n + 1
    trainable = []
    for layer in model.layers:
        block = block_number(layer.name)
        if layer.name in ("gap", "predictions"):
            layer.trainable = True
        elif block is not None and block >= first:
            layer.trainable = batch_norm or not isinstance(layer, layers.BatchNormalization)
            trainable.append(layer.name)
        else:
            layer.trainable = False
    return trainable


def calibrate_batch_norm(model: keras.Model, images) -> None:
    """Set every BatchNormalization layer's moving mean and variance to those of ``images``
    (one forward pass). For a backbone *without* ImageNet weights only (quick mode offline):
    its initial statistics (mean 0, variance 1) do not fit its random filters, so its frozen
    features would be badly scaled; this data-dependent initialisation normalises them."""
    norms = [layer for layer in model.layers if isinstance(layer, layers.BatchNormalization)]
    saved = [(layer.trainable, layer.momentum) for layer in norms]
    for layer in norms:
        layer.trainable, layer.momentum = True, 0.0
    model(images, training=True)
    for layer, (trainable, momentum) in zip(norms, saved, strict=True):
        layer.trainable, layer.momentum = trainable, momentum
