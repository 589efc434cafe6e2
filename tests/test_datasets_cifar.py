"""CIFAR-10/100 registry entries: the real loader against small archives in the real
python-pickle layout served on 127.0.0.1, and the stand-in's shapes, dtypes and classes."""

from __future__ import annotations

import dataclasses
import io
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest

import helpers.datasets
from helpers.datasets import DataUnavailable, Remote, prepare
from helpers.datasets.cifar import CIFAR10_CLASSES, CIFAR100_CLASSES, class_names


def _pickled(obj: dict) -> bytes:
    """A batch as the CIFAR python version stores it: a dict with bytes keys.

    The real files are Python 2 pickles whose array buffers are ``str``, read back as ``bytes``;
    protocol 3 stores ``bytes`` natively, so the unpickler sees the same NumPy globals only.
    """
    return pickle.dumps({k.encode(): v for k, v in obj.items()}, protocol=3)


def _batch(n: int, n_classes: int, rng: np.random.Generator, label_key: str) -> tuple:
    chw = rng.integers(0, 256, size=(n, 3, 32, 32), dtype=np.uint8)
    labels = [int(v) for v in rng.integers(0, n_classes, size=n)]
    return chw, {"data": chw.reshape(n, 3072), label_key: labels, "batch_label": b"x"}


def _tar(path: Path, members: dict[str, bytes]) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def _serve(monkeypatch, file_server, name: str, fname: str) -> None:
    entry = helpers.datasets._REGISTRY[name]
    remote = Remote(fname, (file_server.url(fname),), None)
    monkeypatch.setitem(
        helpers.datasets._REGISTRY, name, dataclasses.replace(entry, remotes=(remote,))
    )


def test_cifar10_real_loader_converts_the_pickle_batches(lab_env, file_server, monkeypatch):
    rng = np.random.default_rng(0)
    members, train_chw, train_labels = {}, [], []
    for i in range(1, 6):
        chw, d = _batch(4, 10, rng, "labels")
        train_chw.append(chw)
        train_labels += d["labels"]
        members[f"cifar-10-batches-py/data_batch_{i}"] = _pickled(d)
    test_chw, test = _batch(3, 10, rng, "labels")
    members["cifar-10-batches-py/test_batch"] = _pickled(test)
    names = [n.encode() for n in CIFAR10_CLASSES]
    members["cifar-10-batches-py/batches.meta"] = _pickled({"label_names": names})
    _tar(file_server.root / "cifar-10-python.tar.gz", members)
    _serve(monkeypatch, file_server, "cifar10", "cifar-10-python.tar.gz")

    prepared = prepare("cifar10", "full")
    (x_train, y_train), (x_test, y_test) = prepared.load()

    assert prepared.is_real
    assert x_train.shape == (20, 32, 32, 3) and x_train.dtype == np.uint8
    assert y_train.shape == (20, 1) and y_test.shape == (3, 1)
    # channels-first rows become NHWC exactly as keras.datasets does it
    np.testing.assert_array_equal(x_train, np.concatenate(train_chw).transpose(0, 2, 3, 1))
    np.testing.assert_array_equal(x_test, test_chw.transpose(0, 2, 3, 1))
    assert y_train.ravel().tolist() == train_labels
    assert class_names(prepared.root) == list(CIFAR10_CLASSES)
    assert not (prepared.root / "extracted").exists()


def test_cifar100_real_loader_uses_fine_labels_and_names(lab_env, file_server, monkeypatch):
    rng = np.random.default_rng(1)
    train_chw, train = _batch(6, 100, rng, "fine_labels")
    train["coarse_labels"] = [0] * 6
    _, test = _batch(2, 100, rng, "fine_labels")
    meta = {"fine_label_names": [n.encode() for n in CIFAR100_CLASSES], "coarse_label_names": []}
    _tar(
        file_server.root / "cifar-100-python.tar.gz",
        {
            "cifar-100-python/train": _pickled(train),
            "cifar-100-python/test": _pickled(test),
            "cifar-100-python/meta": _pickled(meta),
        },
    )
    _serve(monkeypatch, file_server, "cifar100", "cifar-100-python.tar.gz")

    prepared = prepare("cifar100", "full")
    (x_train, y_train), (x_test, _) = prepared.load()

    np.testing.assert_array_equal(x_train, train_chw.transpose(0, 2, 3, 1))
    assert y_train.ravel().tolist() == train["fine_labels"]
    assert x_test.shape == (2, 32, 32, 3)
    assert class_names(prepared.root) == list(CIFAR100_CLASSES)


def test_a_pickle_naming_other_code_is_refused(lab_env, file_server, monkeypatch):
    evil = pickle.dumps({b"data": print, b"fine_labels": []}, protocol=3)
    _tar(
        file_server.root / "cifar-100-python.tar.gz",
        {"cifar-100-python/train": evil, "cifar-100-python/test": evil,
         "cifar-100-python/meta": evil},
    )  # fmt: skip
    _serve(monkeypatch, file_server, "cifar100", "cifar-100-python.tar.gz")
    with pytest.raises(pickle.UnpicklingError, match="refused"):
        prepare("cifar100", "full")


@pytest.mark.parametrize(
    ("name", "classes"), [("cifar10", CIFAR10_CLASSES), ("cifar100", CIFAR100_CLASSES)]
)
def test_quick_mode_uses_the_standin_in_the_same_layout(lab_env, name, classes):
    prepared = prepare(name, "quick")
    (x_train, y_train), (x_test, y_test) = prepared.load()

    assert not prepared.is_real and "fetch" in prepared.detail
    assert x_train.dtype == np.uint8 and x_train.shape[1:] == (32, 32, 3)
    assert y_train.dtype == np.uint8 and y_train.shape == (len(x_train), 1)
    assert set(np.unique(y_train)) == set(range(len(classes)))
    assert set(np.unique(y_test)) == set(range(len(classes)))
    assert class_names(prepared.root) == list(classes)


def test_full_mode_without_the_archive_names_url_and_cache_path(lab_env, monkeypatch):
    monkeypatch.setenv("LAB_OFFLINE", "1")
    with pytest.raises(DataUnavailable, match=r"cs\.toronto\.edu.*cifar-10-python\.tar\.gz"):
        prepare("cifar10", "full")
