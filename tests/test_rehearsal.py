"""tests/rehearsal.py and ``LAB_REHEARSAL``: the rehearsal's files go through the real
verification, loaders and ``keras.applications`` loading, checked against its own digests only
when a rehearsal is named, and never outside a dry run or its own folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from helpers import datasets, weights
from helpers.datasets.download import REHEARSAL_DIGESTS, check_file, file_digest, rehearsal
from tests import rehearsal as builder

# What each array dataset's rehearsal archive holds: (training images, test images, image shape).
ARRAYS = {"mnist": (200, 50, (28, 28)), "cifar10": (40, 20, (32, 32, 3)),
          "cifar100": (40, 20, (32, 32, 3))}
FOLDERS = {  # each folder dataset's split -> class -> images, once unpacked by the real loader
    "caltech256_horse_zebra": dict.fromkeys(("train", "test"), {"horse": 20, "zebra": 20}),
    "cats_vs_dogs": dict.fromkeys(("train", "validation"), {"cats": 10, "dogs": 10}),
    "flowers_roses_tulips": {"train": {"roses": 16, "tulips": 20},
                             "validation": {"roses": 4, "tulips": 5}},
}


@pytest.fixture
def built(lab_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A rehearsal with the archives only, its cache and Keras home inside it, not yet named."""
    out = lab_env / "rehearsal"
    builder.build(out, backbones=())
    for var, value in builder.environment(out).items():
        monkeypatch.setenv(var, value)
    monkeypatch.delenv("LAB_REHEARSAL")
    return out


def _remote(name: str) -> datasets.Remote:
    (remote,) = datasets.get(name).remotes
    return remote


def test_every_real_dataset_is_rehearsed() -> None:
    real = {name for name in datasets.names() if not datasets.get(name).synthetic}
    assert set(builder.ARCHIVES) == real
    assert set(builder.BACKBONES) <= set(weights.BACKBONES)


def test_archives_pass_the_real_checks_against_the_rehearsal_digests_only(
    built: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mirror = built / "mirror"
    published = {name: check_file(mirror / _remote(name).filename, _remote(name))
                 for name in builder.ARCHIVES}
    # Without LAB_REHEARSAL they are what they are: not the published files.
    assert {name: problem.short for name, problem in published.items()} == {
        **dict.fromkeys(set(builder.ARCHIVES) - {"cats_vs_dogs"}, "checksum mismatch"),
        "cats_vs_dogs": "not the expected archive",  # no checksum published: too few images
    }
    monkeypatch.setenv("LAB_REHEARSAL", str(built))
    for name in builder.ARCHIVES:
        assert check_file(mirror / _remote(name).filename, _remote(name)) is None, name
    # A changed byte fails the rehearsal's digest as it would fail the published one.
    tampered = mirror / _remote("mnist").filename
    data = bytearray(tampered.read_bytes())
    data[-1] ^= 0xFF
    tampered.write_bytes(bytes(data))
    assert check_file(tampered, _remote("mnist")).short == "checksum mismatch"


def test_archives_unpack_through_the_real_loaders(built: Path, monkeypatch) -> None:
    monkeypatch.setenv("LAB_REHEARSAL", str(built))
    for name, (n_train, n_test, shape) in ARRAYS.items():
        prepared = datasets.prepare(name, "full")
        (x_train, y_train), (x_test, y_test) = prepared.load()
        assert prepared.kind == "real" and prepared.root.is_relative_to(built / "cache")
        assert x_train.shape == (n_train, *shape) and x_test.shape == (n_test, *shape)
        assert x_train.dtype == np.uint8 and len(y_train) == n_train and len(y_test) == n_test
    assert len(set(np.unique(datasets.prepare("mnist", "full").load()[1][1]))) == 10
    for name, counts in FOLDERS.items():
        prepared = datasets.prepare(name, "full")
        assert prepared.kind == "real" and prepared.counts == counts and not prepared.skipped
        for split, classes in counts.items():
            assert sorted(p.name for p in prepared.folder(split).iterdir()) == sorted(classes)
    # Downloaded from the mirror into the rehearsal's own cache.
    assert sorted(p.name for p in (built / "cache" / "downloads").iterdir()) == sorted(
        _remote(name).filename for name in builder.ARCHIVES)


def test_a_rehearsal_needs_a_dry_run_and_its_own_cache_and_keras_home(
    built: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAB_REHEARSAL", str(built))
    assert rehearsal() == built
    monkeypatch.setenv("LAB_DRYRUN", "0")
    with pytest.raises(RuntimeError, match="needs LAB_DRYRUN=1: its files are random"):
        rehearsal()
    monkeypatch.setenv("LAB_DRYRUN", "1")
    for var in ("LAB_CACHE", "KERAS_HOME"):
        monkeypatch.setenv(var, str(built.parent / var.lower()))
        with pytest.raises(RuntimeError, match=f"needs {var} inside that folder"):
            check_file(built / "mirror" / "mnist.npz", _remote("mnist"))
        monkeypatch.setenv(var, str(built / var.lower()))


def test_weights_with_a_published_hash_go_by_their_path(built: Path, monkeypatch) -> None:
    """keras.applications checks VGG16's file against its published md5 itself, so the rehearsal
    passes its file by path; MobileNet's has none, so Keras finds it by its name."""
    digests = json.loads((built / REHEARSAL_DIGESTS).read_text())
    for name in ("VGG16", "MobileNet_224"):
        path = built / "mirror" / weights.BACKBONES[name].filename
        path.write_bytes(name.encode() * 100)
        digests[path.name] = "sha256:" + file_digest(path, "sha256")
    (built / REHEARSAL_DIGESTS).write_text(json.dumps(digests))
    monkeypatch.setenv("LAB_REHEARSAL", str(built))
    models = built / "keras" / "models"
    vgg, mobilenet = (weights.prepare(name, "full") for name in ("VGG16", "MobileNet_224"))
    assert vgg.kind == mobilenet.kind == "imagenet"
    assert vgg.keras_weights == str(models / weights.BACKBONES["VGG16"].filename)
    assert mobilenet.keras_weights == "imagenet" and mobilenet.path.parent == models
    monkeypatch.delenv("LAB_REHEARSAL")  # outside a rehearsal the published md5 decides
    with pytest.raises(datasets.DataUnavailable, match="checksum mismatch"):
        weights.prepare("VGG16", "full")


LOAD = """
import sys, h5py, keras, numpy as np
model = keras.applications.MobileNetV2(weights="imagenet", include_top=False,
                                       input_shape=(160, 160, 3))
with h5py.File(sys.argv[1]) as f:
    saved = np.asarray(f["Conv1"][f["Conv1"].attrs["weight_names"][0]])
np.testing.assert_array_equal(keras.ops.convert_to_numpy(model.get_layer("Conv1").kernel), saved)
"""


def test_a_weight_file_loads_through_keras_applications_by_its_name(built: Path) -> None:
    """The builder's file, where helpers.weights puts it, is what keras.applications loads for
    weights="imagenet" from $KERAS_HOME/models (a fresh process: Keras reads KERAS_HOME on
    import), in its legacy h5 layout; Keras's NumPy backend, as the loader is the same on all."""
    (path,) = builder.write_weights(built / "mirror", ["MobileNetV2_160"])
    models = built / "keras" / "models"
    models.mkdir(parents=True)
    placed = models / path.name
    placed.write_bytes(path.read_bytes())
    env = {**os.environ, "KERAS_BACKEND": "numpy", "KERAS_HOME": str(built / "keras")}
    result = subprocess.run([sys.executable, "-c", LOAD, str(placed)], env=env,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Downloading" not in result.stdout + result.stderr
    with h5py.File(placed) as f:  # the published files' layout: weights at the top level
        assert "layer_names" in f.attrs and "model_weights" not in f
