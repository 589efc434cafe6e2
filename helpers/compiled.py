"""One compiled step per model, for the work that is not ``fit``, ``evaluate`` or ``predict``:
the maps of ``helpers.explain`` (MOTOR §4.3, §7.2) and ``models.calibrate_batch_norm``.

Keras compiles its own loops; a model called directly runs operation by operation. On JAX that
means each new shape of each operation is compiled on its own (hundreds of small compilations
per model and batch shape, on a CPU as on a TPU), so these steps are compiled whole, with
``jax.jit`` or ``tf.function``, the model's weights passed in through a ``keras.StatelessScope``:
a step reads the weights as they are at each call and changes none of them (a BatchNorm layer
called with ``training=True`` leaves its moving statistics as they were).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

import keras

STEPS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
"""Per model, its compiled steps by key. It holds the model weakly: a step must not hold it."""


def per_model(model: keras.Model, key: tuple, build: Callable[[], Callable[[Any], Any]]
              ) -> Callable[[Any], Any]:
    """``build()`` (a function of a batch that calls ``model``, or models made of its layers)
    compiled once per model and ``key``; the same step on later calls. It returns backend
    tensors. On JAX it retraces for each new batch shape, so callers keep their shapes few."""
    steps = STEPS.setdefault(model, {})
    if key not in steps:
        held, fn = weakref.ref(model), build()

        def pure(values: list, x: Any) -> Any:
            with keras.StatelessScope(state_mapping=list(zip(held().variables, values,
                                                             strict=True))):
                return fn(x)

        if keras.backend.backend() == "jax":
            import jax

            jitted = jax.jit(pure)
            steps[key] = lambda x: jitted([v.value for v in held().variables], x)
        else:
            import tensorflow as tf

            steps[key] = tf.function(lambda x: pure([v.value for v in held().variables], x),
                                     reduce_retracing=True)
    return steps[key]
