"""helpers.runtime: backend choice, device detection and distribution (devices faked), paths."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import types

import pytest

from helpers import distribute, runtime


def test_mode_from_environment(monkeypatch) -> None:
    monkeypatch.setenv("LAB_MODE", "FULL")
    assert runtime.resolve_mode("CPU") == "full"
    monkeypatch.setenv("LAB_MODE", "fast")
    with pytest.raises(ValueError, match="quick"):
        runtime.resolve_mode("CPU")


@pytest.mark.parametrize(
    "ci, accelerator, expected",
    [("", "GPU", "full"), ("", "TPU", "full"), ("", "CPU", "quick"), ("true", "GPU", "quick")],
)
def test_default_mode(monkeypatch, ci, accelerator, expected) -> None:
    monkeypatch.delenv("LAB_MODE", raising=False)
    monkeypatch.setenv("CI", ci) if ci else monkeypatch.delenv("CI", raising=False)
    assert runtime.resolve_mode(accelerator) == expected


@pytest.mark.parametrize(
    "platforms, expected",
    [(["tpu"] * 8, "TPU"), (["gpu"], "GPU"), (["gpu", "gpu"], "GPU"), (["cpu"], "CPU")],
)
def test_accelerator_from_the_device_list(platforms, expected) -> None:
    assert runtime.accelerator(platforms) == expected


def test_a_tpu_vm_is_recognised_by_its_runtime(monkeypatch) -> None:
    for name in ("TPU_ACCELERATOR_TYPE", "TPU_NAME", "TPU_WORKER_ID", "COLAB_TPU_ADDR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(runtime.Path, "glob", lambda self, pattern: iter(()))
    assert not runtime.tpu_host()
    monkeypatch.setenv("COLAB_TPU_ADDR", "10.0.0.2:8470")  # the retired TPU node setup
    assert not runtime.tpu_host()
    monkeypatch.setenv("TPU_ACCELERATOR_TYPE", "v5e-1")
    assert runtime.tpu_host()


def test_backend_choice(monkeypatch) -> None:
    monkeypatch.setenv("KERAS_BACKEND", os.environ.get("KERAS_BACKEND", ""))
    monkeypatch.setenv("LAB_BACKEND", "torch")
    with pytest.raises(runtime.BackendError, match="one of"):
        runtime.select_backend()
    current = sys.modules["keras"].backend.backend() if "keras" in sys.modules else None
    if current:
        other = "jax" if current == "tensorflow" else "tensorflow"
        if importlib.util.find_spec(other):
            monkeypatch.setenv("LAB_BACKEND", other)
            with pytest.raises(runtime.BackendError, match="restart the kernel"):
                runtime.select_backend()


def test_default_backend_is_jax_where_tensorflow_is_absent(monkeypatch) -> None:
    for name in ("LAB_BACKEND", "KERAS_BACKEND"):
        monkeypatch.setenv(name, "")  # unset for the choice, and restored afterwards
    monkeypatch.setattr(runtime, "has_tensorflow", lambda: False)
    monkeypatch.delitem(sys.modules, "keras", raising=False)
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name: types.SimpleNamespace() if name == "jax" else real(name))
    assert runtime.select_backend() == "jax"
    assert os.environ["KERAS_BACKEND"] == "jax"


def test_tensorflow_on_a_tpu_vm_uses_the_local_tpu(monkeypatch) -> None:
    tf = pytest.importorskip("tensorflow")
    calls = {}

    class Resolver:
        def __init__(self, tpu=None):
            calls["tpu"] = tpu

    class Strategy:
        num_replicas_in_sync = 8

        def __init__(self, resolver):
            calls["strategy"] = resolver

        def scope(self):
            return None

    monkeypatch.setattr(runtime, "backend", lambda: "tensorflow")
    monkeypatch.setattr(tf.distribute.cluster_resolver, "TPUClusterResolver", Resolver)
    monkeypatch.setattr(tf.config, "experimental_connect_to_cluster", lambda r: None)
    monkeypatch.setattr(tf.tpu.experimental, "initialize_tpu_system", lambda r: None)
    monkeypatch.setattr(tf.distribute, "TPUStrategy", Strategy)
    dist = distribute.distribution("TPU", ["tpu"])
    assert calls["tpu"] == "local" and dist.replicas == 8 and dist.name == "Strategy"


_DATA_PARALLEL = """
import os, keras, numpy as np
from helpers import distribute, runtime
platforms = runtime.device_platforms()
dist = distribute.distribution(runtime.accelerator(platforms), platforms)
with dist.scope():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
model.compile("sgd", "mse")
model.fit(np.ones((16, 4)), np.ones((16, 2)), batch_size=8, epochs=1, verbose=0)
print(len(platforms), dist.name, dist.replicas,
      type(keras.distribution.distribution()).__name__)
"""


_JAX_ENVIRONMENT = pytest.mark.skipif(
    importlib.util.find_spec("jax") is None or importlib.util.find_spec("tensorflow") is not None,
    reason="runs in the JAX environment (the JAX half of make test), where TensorFlow is absent")


@_JAX_ENVIRONMENT
def test_jax_trains_data_parallel_over_several_devices() -> None:
    """Eight CPU devices stand in for a TPU's cores (XLA's host device count)."""
    env = {**os.environ, "KERAS_BACKEND": "jax", "LAB_BACKEND": "jax",
           "XLA_FLAGS": "--xla_force_host_platform_device_count=8"}
    out = subprocess.run([sys.executable, "-c", _DATA_PARALLEL], env=env, check=True,
                         capture_output=True, text=True, timeout=300).stdout.split()
    assert out == ["8", "DataParallel", "over", "8", "CPUs", "8", "DataParallel"]


def test_paths_follow_the_environment(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("LAB_CACHE", str(tmp_path / "c"))
    monkeypatch.setenv("LAB_HOME", str(tmp_path))
    monkeypatch.delenv("LAB_BUILD", raising=False)
    assert runtime.cache_dir() == tmp_path / "c"
    assert runtime.project_root() == tmp_path
    assert runtime.build_dir() == tmp_path / "build"
    monkeypatch.delenv("LAB_CACHE")
    monkeypatch.setenv("LAB_BUILD", str(tmp_path / "b"))
    assert runtime.cache_dir() == tmp_path / "data" / "cache"
    assert runtime.build_dir() == tmp_path / "b"


def test_versions_name_the_backend() -> None:
    versions = runtime.versions()
    assert {"python", "numpy", "keras", runtime.backend()} <= set(versions)


def test_the_first_cell_is_quiet_on_a_cpu() -> None:
    """What a notebook's first cell imports prints nothing on a CPU-only machine: no CUDA,
    oneDNN or absl start-up lines (they read like failures), nothing twice."""
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL",)}
    done = subprocess.run([sys.executable, "-c", "import helpers\nimport keras\nkeras.Input((2,))"],
                          env=env, capture_output=True, text=True, timeout=300, check=True)
    assert done.stdout == "" and done.stderr == "", done.stderr
    # setup() then asks for the devices, which initialises CUDA (``failed call to cuInit``)
    devices = ("import helpers, sys\nfrom helpers import runtime\n"
               "print(runtime.device_platforms())\nprint('kept', file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", devices], env=env, capture_output=True,
                          text=True, timeout=300, check=True)
    assert done.stdout.strip() == "['cpu']" and done.stderr == "kept\n", done.stderr


_EVALUATE_AFTER_FIT = """
import helpers, keras, numpy as np
from keras import layers
rng = np.random.default_rng(0)
x = rng.normal(size=(512, 28, 28, 1)).astype("float32")
y = (x[:, :14].mean(axis=(1, 2, 3)) > 0).astype("int32")
keras.utils.set_random_seed(0)
m = keras.Sequential([keras.Input((28, 28, 1)), layers.Conv2D(32, 3, activation="relu"),
    layers.MaxPooling2D(2), layers.Conv2D(64, 3, activation="relu"), layers.MaxPooling2D(2),
    layers.Flatten(), layers.Dense(128, activation="relu"), layers.Dense(2, activation="softmax")])
m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
m.evaluate(x, y, verbose=0)
m.fit(x, y, epochs=3, batch_size=32, verbose=0)
print(float(np.mean(m.predict(x, verbose=0).argmax(1) == y)), m.evaluate(x, y, verbose=0)[1])
"""


@_JAX_ENVIRONMENT
def test_evaluate_after_more_training_uses_the_current_weights_on_jax() -> None:
    """Without ``runtime.mend_backend`` this printed a predict accuracy of 0.83 and an evaluate
    accuracy of 0.53 on the same images (Keras 3.13.2, JAX 0.7.2, CPU)."""
    env = {**os.environ, "KERAS_BACKEND": "jax", "LAB_BACKEND": "jax"}
    out = subprocess.run([sys.executable, "-c", _EVALUATE_AFTER_FIT], env=env, check=True,
                         capture_output=True, text=True, timeout=300).stdout.split()
    predicted, evaluated = map(float, out)
    assert predicted > 0.6 and evaluated == pytest.approx(predicted, abs=1e-6)


def _augmenting_model(*augmentation: object):
    import keras
    from keras import layers

    return keras.Sequential([keras.Input((24, 24, 3)), *augmentation,
                             layers.Conv2D(4, 3, activation="relu"),
                             layers.GlobalAveragePooling2D(),
                             layers.Dense(2, activation="softmax")])


def _geometric_layers(seed: int) -> list:
    """One of each ``COMPILABLE_ON_JAX`` layer, with a range wide enough to move every image."""
    from keras import layers

    kwargs = {"RandomRotation": (0.2,), "RandomZoom": (0.3,), "RandomTranslation": (0.2, 0.2),
              "RandomShear": (0.3,), "RandomPerspective": (0.5,)}
    assert sorted(kwargs) == sorted(runtime.COMPILABLE_ON_JAX)
    return [getattr(layers, name)(*kwargs[name], seed=seed) for name in runtime.COMPILABLE_ON_JAX]


@pytest.mark.skipif(os.environ.get("KERAS_BACKEND") != "jax", reason="a mend of the JAX backend")
def test_a_model_with_geometric_augmentation_is_compiled_on_jax() -> None:
    """Keras 3.13 left such a model uncompiled on JAX (every step's operations dispatched one by
    one); RandomCrop, which jax.jit refuses, still leaves its model uncompiled."""
    import keras
    import numpy as np
    from keras import layers

    model = _augmenting_model(layers.RandomFlip("horizontal"), *_geometric_layers(0))
    model.compile("adam", "sparse_categorical_crossentropy")
    assert model.jit_compile is True
    x = np.random.default_rng(0).uniform(0, 255, (8, 24, 24, 3)).astype("float32")
    history = model.fit(x, np.arange(8) % 2, batch_size=4, epochs=2, verbose=0,
                        validation_data=(x, np.arange(8) % 2))
    assert np.isfinite(history.history["val_loss"]).all()

    cropping = _augmenting_model(layers.RandomRotation(0.2), layers.RandomCrop(20, 20))
    with pytest.warns(UserWarning, match="jit_compile"):
        cropping.compile("adam", "sparse_categorical_crossentropy", jit_compile=True)
    assert cropping.jit_compile is False
    keras.utils.clear_session()


@pytest.mark.skipif(os.environ.get("KERAS_BACKEND") != "jax", reason="a mend of the JAX backend")
@pytest.mark.parametrize("index", range(len(runtime.COMPILABLE_ON_JAX)),
                         ids=list(runtime.COMPILABLE_ON_JAX))
def test_compiled_augmentation_draws_the_images_uncompiled_draws(index: int) -> None:
    """What the mend relies on: compiled on JAX, each layer draws the same transform from the same
    seed state and resamples it alike (to float32 rounding on the 0-255 scale)."""
    import jax
    import numpy as np

    layer = _geometric_layers(7)[index]
    x = np.random.default_rng(1).uniform(0, 255, (4, 24, 24, 3)).astype("float32")
    layer.build(x.shape)
    state = [v.value for v in layer.non_trainable_variables]

    def draw(state, x):
        return layer.stateless_call([], state, x, training=True)

    eager, eager_state = draw(state, x)
    compiled, compiled_state = jax.jit(draw)(state, x)
    assert not np.allclose(np.asarray(eager), x), "the layer moved no image"
    np.testing.assert_allclose(np.asarray(compiled), np.asarray(eager), atol=1e-2)
    for a, b, before in zip(compiled_state, eager_state, state, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
        assert not np.array_equal(np.asarray(a), np.asarray(before)), "the seed state must advance"


@pytest.mark.skipif(os.environ.get("KERAS_BACKEND") == "jax", reason="TensorFlow's side")
def test_tensorflow_keeps_keras_s_refusal() -> None:
    """On TensorFlow the layers call an operation XLA lacks: the mend must not apply there."""
    from keras import layers
    from keras.src.trainers import trainer

    assert not getattr(trainer.model_supports_jit, "augmentation_compiled", False)
    assert trainer.model_supports_jit(_augmenting_model(layers.RandomRotation(0.2))) is False
