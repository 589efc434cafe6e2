"""JAX's persistent compilation cache (helpers.compile_cache): on by default on JAX, in the
course's cache folder, reused by a model compiled again with the same layers and shapes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import pytest

from helpers import compile_cache

jax_only = pytest.mark.skipif(keras.backend.backend() != "jax", reason="JAX's cache")

# A fresh process: JAX reads its cache folder once, at the first compilation after it is set.
TWO_MODELS = textwrap.dedent("""
    import json, sys
    import helpers
    import jax, keras, numpy as np
    hits = []
    jax.monitoring.register_event_listener(
        lambda event, **kw: hits.append(1) if event == "/jax/compilation_cache/cache_hits" else 0)
    cfg = helpers.setup("compile_cache_test")
    x = np.random.default_rng(0).uniform(size=(32, 16, 16, 3)).astype("float32")
    y = np.arange(32) % 2
    after = []
    for name in ("first", "second"):  # Keras names them apart; JAX matches their programs
        model = keras.Sequential([keras.Input((16, 16, 3)), keras.layers.Conv2D(4, 3),
                                  keras.layers.GlobalAveragePooling2D(),
                                  keras.layers.Dense(2, activation="softmax")], name=name)
        model.compile("adam", "sparse_categorical_crossentropy")
        model.fit(x, y, batch_size=8, epochs=1, verbose=0)
        after.append(len(hits))
    print(json.dumps({"hits": after, "notes": cfg.notes,
                      "folder": str(helpers.compile_cache.use_jax_cache())}))
""")


def _run_two_models(tmp_path: Path, **env: str) -> dict:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("JAX_COMPILATION_CACHE")}
    environ.update(LAB_CACHE=str(tmp_path / "cache"), LAB_RESULTS=str(tmp_path / "results"),
                   LAB_BUILD=str(tmp_path / "build"), LAB_MODE="quick",
                   # the test's programs compile in well under JAX's default second
                   JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0", **env)
    tmp_path.mkdir(exist_ok=True)
    done = subprocess.run([sys.executable, "-c", TWO_MODELS], env=environ, cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@jax_only
def test_second_model_of_the_same_shapes_loads_the_first_ones_compiled_steps(tmp_path):
    out = _run_two_models(tmp_path)
    folder = tmp_path / "cache" / compile_cache.FOLDER
    assert out["folder"] == str(folder)
    assert any(str(folder) in note for note in out["notes"]), out["notes"]
    assert any(folder.iterdir()), "nothing was saved in the cache"
    first, second = out["hits"]
    assert first == 0, "an empty cache cannot hit"
    assert second > first, "the second model compiled its steps again"


@jax_only
def test_cache_jax_was_given_is_kept_and_one_turned_off_stays_off(tmp_path):
    given = tmp_path / "given"
    out = _run_two_models(tmp_path, JAX_COMPILATION_CACHE_DIR=str(given))
    assert out["folder"] == str(given) and any(given.iterdir())
    assert not (tmp_path / "cache" / compile_cache.FOLDER).exists()

    off = _run_two_models(tmp_path / "off", JAX_ENABLE_COMPILATION_CACHE="false")
    assert off["folder"] == "None" and off["hits"] == [0, 0]
    assert not any("compiled steps saved" in note for note in off["notes"])
    assert not (tmp_path / "off" / "cache" / compile_cache.FOLDER).exists()


@pytest.mark.skipif(keras.backend.backend() == "jax", reason="TensorFlow has no such cache")
def test_nothing_on_tensorflow(lab_env):
    assert compile_cache.use_jax_cache() is None
    assert not (lab_env / "cache" / compile_cache.FOLDER).exists()
