"""helpers.models: MobileNet v1 + GAP + softmax, and unfreezing the last N blocks by name."""

from __future__ import annotations

import pytest

from helpers import models


@pytest.fixture(scope="module")
def model():
    return models.mobilenet_gap_classifier(64, classes=2, weights=None)


def test_block_numbers_from_layer_names():
    assert models.block_number("conv_dw_13") == 13
    assert models.block_number("conv_pw_13_bn") == 13
    assert models.block_number("conv_dw_1_relu") == 1
    assert models.block_number("conv_pad_12") == 12
    assert models.block_number("conv1") is None
    assert models.block_number("conv1_bn") is None
    assert models.block_number("predictions") is None


def test_head_is_gap_then_softmax(model):
    assert model.output_shape == (None, 2)
    assert model.layers[-2].name == "gap" and model.layers[-1].activation.__name__ == "softmax"
    assert model.get_layer(models.LAST_CONV).output.shape[1:] == (2, 2, 1024)
    blocks = {models.block_number(layer.name) for layer in model.layers} - {None}
    assert blocks == set(range(1, 14))
    assert not any(layer.trainable for layer in model.layers[:-2] if layer.weights)


def test_unfreeze_last_one_block(model):
    names = models.unfreeze_last_blocks(model, 1)
    assert set(names) == {"conv_dw_13", "conv_dw_13_bn", "conv_dw_13_relu",
                          "conv_pw_13", "conv_pw_13_bn", "conv_pw_13_relu", "conv_pad_13"} & {
        layer.name for layer in model.layers}
    assert not model.get_layer("conv_pw_12").trainable
    assert not model.get_layer("conv_dw_1").trainable
    assert model.get_layer("predictions").trainable


def test_unfreeze_last_three_blocks_counts_weights(model):
    names = models.unfreeze_last_blocks(model, 3)
    assert {models.block_number(n) for n in names} == {11, 12, 13}
    assert model.get_layer("conv_dw_11").trainable and not model.get_layer("conv_pw_10").trainable
    # each block: depthwise and pointwise kernels (BN frozen); + Dense kernel and bias
    assert len(model.trainable_weights) == 3 * 2 + 2
    assert not model.get_layer("conv_pw_13_bn").trainable
    models.unfreeze_last_blocks(model, 3, batch_norm=True)
    assert len(model.trainable_weights) == 3 * (2 + 2 * 2) + 2  # + gamma, beta of two BN
    models.unfreeze_last_blocks(model, 0)
    assert len(model.trainable_weights) == 2
    with pytest.raises(ValueError):
        models.unfreeze_last_blocks(model, 14)
