"""helpers.models: MobileNet v1's blocks by layer name, its last conv, BatchNorm calibration.

MOTOR's model and the block unfreezing themselves are taught (and asserted) in notebook 07.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
from keras import layers

from helpers import depthwise, models


@pytest.fixture(scope="module")
def mobilenet():
    return keras.applications.MobileNet(include_top=False, weights=None, input_shape=(64, 64, 3))


def test_block_numbers_from_layer_names():
    assert models.block_number("conv_dw_13") == 13
    assert models.block_number("conv_pw_13_bn") == 13
    assert models.block_number("conv_dw_1_relu") == 1
    assert models.block_number("conv_pad_12") == 12
    assert models.block_number("conv1") is None
    assert models.block_number("conv1_bn") is None
    assert models.block_number("predictions") is None
    assert models.block_number("conv_dw_130") == 130  # the number, not its first digit


def test_every_backbone_layer_is_the_stem_or_in_one_of_13_blocks(mobilenet):
    numbered = {layer.name: models.block_number(layer.name) for layer in mobilenet.layers}
    assert set(numbered.values()) - {None} == set(range(1, models.MOBILENET_BLOCKS + 1))
    outside = {name for name, block in numbered.items() if block is None}
    assert outside == {mobilenet.layers[0].name, "conv1", "conv1_bn", "conv1_relu"}
    for block in range(1, models.MOBILENET_BLOCKS + 1):  # two convolutions and two BN each
        kernels = [layer for layer in mobilenet.layers if numbered[layer.name] == block
                   and isinstance(layer, (layers.DepthwiseConv2D, layers.Conv2D))]
        assert len(kernels) == 2, block


def test_last_conv_is_the_last_layer_and_stride_32(mobilenet):
    assert mobilenet.layers[-1].name == models.LAST_CONV
    assert mobilenet.get_layer(models.LAST_CONV).output.shape[1:] == (2, 2, 1024)  # 64 / 32


def test_calibrate_batch_norm_uses_the_batch_statistics_and_restores_flags():
    inputs = keras.Input((8, 8, 3))
    x = layers.Conv2D(4, 3, name="conv")(inputs)
    norm = layers.BatchNormalization(name="bn", momentum=0.99)
    model = keras.Model(inputs, norm(x))
    norm.trainable = False
    images = np.random.default_rng(0).normal(3.0, 2.0, (16, 8, 8, 3)).astype("float32")
    models.calibrate_batch_norm(model, images)
    features = keras.ops.convert_to_numpy(model.get_layer("conv")(images))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(norm.moving_mean),
                               features.mean(axis=(0, 1, 2)), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(norm.moving_variance),
                               features.var(axis=(0, 1, 2)), rtol=1e-3, atol=1e-4)
    assert norm.trainable is False and norm.momentum == 0.99
    # calibrated: in inference mode the features come out normalised
    out = keras.ops.convert_to_numpy(model(images, training=False))
    np.testing.assert_allclose(out.mean(axis=(0, 1, 2)), 0.0, atol=1e-3)
    np.testing.assert_allclose(out.std(axis=(0, 1, 2)), 1.0, atol=1e-2)


@pytest.mark.parametrize(("size", "kernel", "strides", "padding", "dilation", "multiplier"), [
    (9, 3, 1, "same", 1, 1), (9, 3, 2, "valid", 1, 1), (10, 5, 2, "same", 1, 2),
    (8, 3, 1, "valid", 2, 1), (7, 3, 2, "same", 1, 1), (6, 1, 1, "valid", 1, 3),
])
def test_depthwise_by_shifts_equals_xla_and_its_gradient(size, kernel, strides, padding,
                                                         dilation, multiplier):
    jax = pytest.importorskip("jax")
    import jax.numpy as jnp

    rng = np.random.default_rng(size)
    x = jnp.asarray(rng.normal(size=(2, size, size, 4)), dtype="float32")
    k = jnp.asarray(rng.normal(size=(kernel, kernel, 4, multiplier)), dtype="float32")

    def xla(x, k):
        flat = k.reshape(kernel, kernel, 1, 4 * multiplier)
        return jax.lax.conv_general_dilated(
            x, flat, (strides, strides), padding.upper(), rhs_dilation=(dilation, dilation),
            dimension_numbers=("NHWC", "HWIO", "NHWC"), feature_group_count=4)

    def shifts(x, k):
        return depthwise.depthwise_by_shifts(x, k, strides, padding, dilation)

    np.testing.assert_allclose(shifts(x, k), xla(x, k), rtol=1e-5, atol=1e-5)
    for argnum in (0, 1):
        ours = jax.grad(lambda *a: (shifts(*a) ** 2).sum(), argnums=argnum)(x, k)
        theirs = jax.grad(lambda *a: (xla(*a) ** 2).sum(), argnums=argnum)(x, k)
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-4)


def test_fast_depthwise_only_on_jax_cpu_and_keras_layers_agree(monkeypatch):
    layer = layers.DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=2)
    x = np.random.default_rng(0).normal(size=(2, 9, 9, 3)).astype("float32")
    before = keras.ops.convert_to_numpy(layer(x))
    active = depthwise.fast_depthwise_on_cpu()
    if keras.backend.backend() != "jax":
        assert not active
        return
    import jax

    assert active == (jax.default_backend() == "cpu")
    assert depthwise.fast_depthwise_on_cpu() == active  # idempotent
    calls = []
    shifts = depthwise.depthwise_by_shifts
    monkeypatch.setattr(depthwise, "depthwise_by_shifts", lambda *a: calls.append(1) or shifts(*a))
    monkeypatch.setattr(depthwise, "SHIFTS_ABOVE", 1e9)  # a small layer: XLA's own convolution
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x)), before, rtol=1e-5,
                               atol=1e-5)
    assert calls == []
    monkeypatch.setattr(depthwise, "SHIFTS_ABOVE", 0)  # every layer: the shifted form
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x)), before, rtol=1e-5,
                               atol=1e-5)
    assert calls == [1] if active else calls == []


def test_xla_cost_counts_the_expanded_convolution():
    # MobileNet at 128 px: block 7 (8x8x512, 3x3) is above the threshold; EfficientNetB0 at
    # 32 px: its first depthwise layer (16x16x32, 3x3) below
    assert depthwise._xla_cost((None, 8, 8, 512), (3, 3, 512, 1), 1) > depthwise.SHIFTS_ABOVE
    assert depthwise._xla_cost((None, 16, 16, 32), (3, 3, 32, 1), 1) < depthwise.SHIFTS_ABOVE
    assert depthwise._xla_cost((None, 10, 10, 4), (3, 3, 4, 2), 2) == 9 * 4 * 4 * 2 * 25


def test_calibration_in_chunks_averages_the_batch_statistics() -> None:
    import keras
    import numpy as np

    from helpers import models

    model = keras.Sequential([keras.Input((4, 4, 3)), keras.layers.BatchNormalization()])
    images = np.random.default_rng(0).normal(2.0, 3.0, (64, 4, 4, 3)).astype("float32")
    models.calibrate_batch_norm(model, images, chunk=16)
    norm = model.layers[0]
    np.testing.assert_allclose(keras.ops.convert_to_numpy(norm.moving_mean),
                               images.mean(axis=(0, 1, 2)), rtol=1e-4)
    chunk_variances = images.reshape(4, 16, 4, 4, 3).var(axis=(1, 2, 3)).mean(axis=0)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(norm.moving_variance),
                               chunk_variances, rtol=1e-2)
    assert norm.momentum == 0.99 and norm.trainable


def test_calibration_is_compiled_once_per_model_and_lets_go_of_it() -> None:
    import gc
    import weakref

    import keras
    import numpy as np

    from helpers import compiled, models

    model = keras.Sequential([keras.Input((4, 4, 3)), keras.layers.Conv2D(2, 1),
                              keras.layers.BatchNormalization()])
    rng = np.random.default_rng(1)
    models.calibrate_batch_norm(model, rng.normal(0.0, 1.0, (32, 4, 4, 3)).astype("float32"))
    step = compiled.STEPS[model]["batch statistics",]
    images = rng.normal(5.0, 2.0, (32, 4, 4, 3)).astype("float32")  # new images, same step
    models.calibrate_batch_norm(model, images)
    assert compiled.STEPS[model]["batch statistics",] is step
    features = keras.ops.convert_to_numpy(model.layers[0](images))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model.layers[1].moving_mean),
                               features.mean(axis=(0, 1, 2)), rtol=1e-4, atol=1e-5)
    gone = weakref.ref(model)
    del model, step
    gc.collect()
    assert gone() is None, "the compiled step keeps a deleted model alive"
