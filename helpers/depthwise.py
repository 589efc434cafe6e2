"""Plumbing, not a lesson: a faster depthwise convolution for JAX on a CPU (CI, quick mode).

MobileNet and EfficientNet are built from depthwise convolutions, and XLA on a CPU computes one
as a full convolution with a mostly zero kernel, about ten times slower than it needs to be.
``setup()`` calls ``fast_depthwise_on_cpu``, which on JAX on a CPU swaps in the same convolution
written as shifted multiply-adds (``depthwise_by_shifts``) for the large layers; TensorFlow,
GPUs and TPUs are untouched (docs/architecture.md, "Global effects").
"""

from __future__ import annotations

from collections.abc import Callable

import keras


def _pair(value) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else tuple(value)


def depthwise_by_shifts(inputs, kernel, strides=1, padding="valid", dilation_rate=1):
    """A 2-D channels-last depthwise convolution as ``kh * kw`` shifted multiply-adds (JAX).

    The same result as ``keras.ops.depthwise_conv`` (kernel ``(kh, kw, channels, multiplier)``,
    output channel ``c * multiplier + m``), padding ``"valid"`` or ``"same"`` as XLA pads."""
    import jax.numpy as jnp
    from jax import lax

    x, k = jnp.asarray(inputs), jnp.asarray(kernel)
    kh, kw, channels, multiplier = k.shape
    (sh, sw), (dh, dw) = _pair(strides), _pair(dilation_rate)
    window = ((kh - 1) * dh + 1, (kw - 1) * dw + 1)
    pads = lax.padtype_to_pads(x.shape[1:3], window, (sh, sw), padding.upper())
    x = jnp.pad(x, ((0, 0), tuple(pads[0]), tuple(pads[1]), (0, 0)))
    if multiplier > 1:
        x = jnp.repeat(x, multiplier, axis=-1)
    k = k.reshape(kh, kw, channels * multiplier)
    rows = (x.shape[1] - window[0]) // sh + 1
    cols = (x.shape[2] - window[1]) // sw + 1
    out = None
    for i in range(kh):
        for j in range(kw):
            top, left = i * dh, j * dw
            patch = x[:, top:top + (rows - 1) * sh + 1:sh, left:left + (cols - 1) * sw + 1:sw]
            out = patch * k[i, j] if out is None else out + patch * k[i, j]
    return out


_XLA_DEPTHWISE: Callable | None = None
# Per image, the multiply-adds of XLA's expanded depthwise convolution above which the shifted
# form is used. Below it XLA's own convolution is cheap enough and compiles faster: the shifted
# form costs compile time for every tap, which dominates a short quick-mode fit on the smallest
# maps (EfficientNetB0's first layers at 32x32). Chosen with benchmarks/depthwise_threshold.py
# on 2 cores: against 1e8, 2e7 trains 05's quick MobileNetV2 (96 px) clearly faster (1e8 left
# most of its layers to XLA's slow convolution) and 06's quick EfficientNetB0 (32 px) about as
# fast, within the benchmark's run-to-run spread.
SHIFTS_ABOVE = 2e7


def _xla_cost(input_shape, kernel_shape, strides) -> float:
    """Multiply-adds per image of a depthwise convolution computed as XLA on a CPU computes it:
    a full convolution from ``channels`` to ``channels * multiplier`` channels."""
    _, rows, cols, channels = input_shape
    kh, kw, _, multiplier = kernel_shape
    sh, sw = _pair(strides)
    return kh * kw * channels * channels * multiplier * (rows // sh) * (cols // sw)


def fast_depthwise_on_cpu() -> bool:
    """On JAX on a CPU, compute Keras's large depthwise convolutions (``SHIFTS_ABOVE``) with
    ``depthwise_by_shifts`` (module docstring); elsewhere do nothing. Returns whether the
    shifted form is in use. Other layouts (channels-first, 1-D) keep XLA's own convolution."""
    global _XLA_DEPTHWISE
    if keras.backend.backend() != "jax":
        return False
    import jax

    if jax.default_backend() != "cpu":
        return False
    from keras.src.backend.jax import nn as jax_nn

    if _XLA_DEPTHWISE is None:
        _XLA_DEPTHWISE = jax_nn.depthwise_conv

        def depthwise_conv(inputs, kernel, strides=1, padding="valid", data_format=None,
                           dilation_rate=1):
            data_format = data_format or keras.config.image_data_format()
            if (len(inputs.shape) != 4 or data_format != "channels_last"
                    or _xla_cost(inputs.shape, kernel.shape, strides) < SHIFTS_ABOVE):
                return _XLA_DEPTHWISE(inputs, kernel, strides, padding, data_format,
                                      dilation_rate)
            return depthwise_by_shifts(inputs, kernel, strides, padding, dilation_rate)

        jax_nn.depthwise_conv = depthwise_conv
    return True
