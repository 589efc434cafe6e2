"""helpers.features: bottleneck features are computed once; a rerun reuses them."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

from helpers.features import cached_features, features_key, model_fingerprint


def _model(seed: int) -> keras.Model:
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])


def _files(tmp_path: Path, n: int) -> list[Path]:
    files = []
    for i in range(n):
        path = tmp_path / "images" / f"img{i}.jpg"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(b"x" * (i + 1))
        files.append(path)
    return files


def test_second_call_loads_without_recomputing(tmp_path: Path) -> None:
    model, files = _model(0), _files(tmp_path, 3)
    calls = []

    def compute() -> np.ndarray:
        calls.append(1)
        return model.predict(np.ones((3, 4), "float32"), verbose=0)

    key = features_key(model, files, image_size=(48, 48), rescale=1 / 255)
    first = cached_features(tmp_path / "cache", "train", key, compute)
    second = cached_features(tmp_path / "cache", "train", key, compute)
    assert len(calls) == 1
    assert not first.from_cache and second.from_cache
    assert first.path == second.path and first.path.name == f"train-{key}.npy"
    np.testing.assert_array_equal(first.features, second.features)
    assert not list((tmp_path / "cache").glob("*.tmp.npy"))


def test_key_changes_with_weights_images_and_settings(tmp_path: Path) -> None:
    model, files = _model(0), _files(tmp_path, 3)
    key = features_key(model, files, image_size=(48, 48))
    assert features_key(model, files, image_size=(48, 48)) == key
    assert features_key(_model(1), files, image_size=(48, 48)) != key
    assert features_key(model, files[:2], image_size=(48, 48)) != key
    assert features_key(model, files, image_size=(64, 64)) != key
    files[0].write_bytes(b"changed content, new size")
    assert features_key(model, files, image_size=(48, 48)) != key


def test_fingerprint_follows_training(tmp_path: Path) -> None:
    model = _model(0)
    before = model_fingerprint(model)
    model.compile(optimizer="sgd", loss="mse")
    model.fit(np.ones((4, 4)), np.zeros((4, 3)), epochs=1, verbose=0)
    assert model_fingerprint(model) != before
