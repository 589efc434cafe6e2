"""Bottleneck features computed once and kept on disk (BLOG, level 2: "bottleneck features").

Running the frozen conv base over the same images gives the same features every time, so they
are computed once and saved as ``.npy``. The file name carries a key made of everything the
features depend on: the model's architecture and weights, the images (paths and sizes) and the
settings that change the input (image size, rescale). A rerun with the same key loads the file;
any change gives a new key, so a stale cache is never used. Notebook 04 (level 2) shows the
first computation and then the reuse, with both timings.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


@dataclass(frozen=True)
class CachedFeatures:
    """The features, the file holding them, whether they came from the cache, and the seconds
    spent (computing, or loading)."""

    features: np.ndarray
    path: Path
    from_cache: bool
    seconds: float


def model_fingerprint(model: Any) -> str:
    """A digest of a Keras model's architecture and current weights."""
    digest = hashlib.sha256(json.dumps(model.get_config(), sort_keys=True, default=str).encode())
    for weights in model.get_weights():
        digest.update(np.ascontiguousarray(weights).tobytes())
    return digest.hexdigest()


def features_key(model: Any, files: Iterable[Path | str], **settings: Any) -> str:
    """Key of the features of ``model`` over ``files`` (path and size of each) and ``settings``."""
    digest = hashlib.sha256(model_fingerprint(model).encode())
    for file in files:
        path = Path(file)
        digest.update(f"{path.resolve()}\0{path.stat().st_size}\n".encode())
    digest.update(json.dumps(settings, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:20]


def cached_features(
    folder: Path, name: str, key: str, compute: Callable[[], np.ndarray]
) -> CachedFeatures:
    """``folder/<name>-<key>.npy`` if it exists, else ``compute()`` saved there first."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}-{key}.npy"
    start = time.perf_counter()
    if path.exists():
        features = np.load(path, allow_pickle=False)
        return CachedFeatures(features, path, True, time.perf_counter() - start)
    features = np.asarray(compute())
    tmp = path.with_name(path.stem + ".tmp.npy")
    np.save(tmp, features, allow_pickle=False)
    tmp.replace(path)
    return CachedFeatures(features, path, False, time.perf_counter() - start)
