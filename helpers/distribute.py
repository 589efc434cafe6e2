"""How training is spread over the devices (docs/architecture.md, "Backends" and "Global
effects"): ``setup()`` calls ``distribution`` once, and the notebooks build their models in
``cfg.distribution.scope()``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from helpers import runtime


@dataclass(frozen=True)
class Distribution:
    """How training is spread over the devices: a name, the replica count, and the scope to
    build models in (``with cfg.distribution.scope(): ...``)."""

    name: str
    replicas: int
    scope: Callable[[], AbstractContextManager[Any]]


def distribution(accel: str, platforms: Sequence[str]) -> Distribution:
    """TensorFlow: ``TPUStrategy`` on a TPU VM, ``MirroredStrategy`` over several GPUs, else
    the default strategy. JAX: ``keras.distribution.DataParallel`` over every device when there
    are several (set globally, so every model trains data-parallel), else one device."""
    if runtime.backend() == "jax":
        if len(platforms) < 2:
            return Distribution("one device", 1, contextlib.nullcontext)
        import keras

        data_parallel = _data_parallel(keras.distribution.list_devices())
        keras.distribution.set_distribution(data_parallel)
        return Distribution(f"DataParallel over {len(platforms)} {accel}s", len(platforms),
                            data_parallel.scope)
    strategy = _tf_strategy(accel, platforms)
    replicas = strategy.num_replicas_in_sync
    name = type(strategy).__name__
    if name == "_DefaultDistributionStrategy":  # TensorFlow's name for no strategy at all
        name = "one device"
    return Distribution(name, replicas, strategy.scope)


def _data_parallel(devices: Sequence[str]) -> Any:
    """``keras.distribution.DataParallel`` that also takes a batch the device count does not
    divide (keras-team/keras#21167: the last batch of 05's 289 validation images, of 07's
    2,508, of a generator): that batch is replicated instead of split, so ``fit``, ``evaluate``
    and ``predict`` see every image once, as on one device (tests/test_multidevice.py)."""
    import keras
    from keras.src.backend.jax import trainer

    class DataParallel(keras.distribution.DataParallel):
        def get_data_layout(self, data_shape: Sequence[int]) -> Any:
            mesh = self.device_mesh
            split = mesh.shape[mesh.axis_names.index(self.batch_dim_name)]
            if data_shape and data_shape[0] % split:
                return keras.distribution.TensorLayout([None] * len(data_shape), mesh)
            return super().get_data_layout(data_shape)

    def per_batch_layouts(self: Any, distribution: Any) -> Any:
        # Keras reuses the layouts of an epoch's first batch for all its batches (3.13-3.15).
        return (trainer._distribute_data(data) for data in self.data_adapter.get_jax_iterator())

    trainer.JAXEpochIterator._get_distributed_iterator = per_batch_layouts
    return DataParallel(devices=devices)


def _tf_strategy(accel: str, platforms: Sequence[str]) -> Any:
    import tensorflow as tf

    if accel == "TPU":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu="local")
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    if len(platforms) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()
