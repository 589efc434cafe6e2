"""Plumbing, not a lesson: JAX's persistent compilation cache, on by default (issue 24).

On JAX, every new model's training, evaluation and prediction steps are compiled by XLA, and on
a CPU that compilation is most of a short fit's time. Models built again with the same layers
and shapes compile to the same program: 05's sweep builds one MobileNetV2 per ratio, 06 trains
its ensemble's members one after the other, and a rerun of a notebook builds them all again.
With the cache, XLA's result is saved in ``own_cache_dir()/jax-compilation`` the first time and
loaded after that (JAX matches a program by its contents, its options, the device and JAX's
version, never by a layer's name). What is traced in Python is still traced, and results do not
change. TensorFlow has no such cache: nothing changes there.

``setup()`` calls ``use_jax_cache``. A cache JAX was already given (``JAX_COMPILATION_CACHE_DIR``,
as ``make test`` sets) is kept; ``JAX_ENABLE_COMPILATION_CACHE=false`` turns caching off. The
folder grows with each new program (its size is JAX's business: ``rm -rf`` frees it safely).
"""

from __future__ import annotations

from pathlib import Path

import keras

from helpers import runtime

FOLDER = "jax-compilation"


def use_jax_cache() -> Path | None:
    """On JAX, the folder where compiled programs are saved and looked up, set here unless JAX
    already has one; None on TensorFlow or where JAX's caching is turned off."""
    if keras.backend.backend() != "jax":
        return None
    import jax

    if not jax.config.jax_enable_compilation_cache:
        return None
    if jax.config.jax_compilation_cache_dir:
        return Path(jax.config.jax_compilation_cache_dir)
    folder = runtime.ensure_writable(runtime.own_cache_dir() / FOLDER)
    jax.config.update("jax_compilation_cache_dir", str(folder))
    return folder
