"""CIFAR-10/100 registry entries: the real loader against small archives in the real
python-pickle layout served on 127.0.0.1, and the stand-in's shapes, dtypes and classes."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

import helpers.datasets
from helpers.datasets import DataUnavailable, Remote, prepare
from helpers.datasets.cifar import CIFAR10_CLASSES, CIFAR100_CLASSES
from tests.rehearsal import cifar_batch, cifar_pickle, tar_file


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
        chw, d = cifar_batch(4, 10, rng, "labels")
        train_chw.append(chw)
        train_labels += d["labels"]
        members[f"cifar-10-batches-py/data_batch_{i}"] = cifar_pickle(d)
    test_chw, test = cifar_batch(3, 10, rng, "labels")
    members["cifar-10-batches-py/test_batch"] = cifar_pickle(test)
    names = [n.encode() for n in CIFAR10_CLASSES]
    members["cifar-10-batches-py/batches.meta"] = cifar_pickle({"label_names": names})
    tar_file(file_server.root / "cifar-10-python.tar.gz", members, "w:gz")
    _serve(monkeypatch, file_server, "cifar10", "cifar-10-python.tar.gz")

    prepared = prepare("cifar10", "full")
    (x_train, y_train), (x_test, y_test) = prepared.load()

    assert prepared.kind == "real"
    assert x_train.shape == (20, 32, 32, 3) and x_train.dtype == np.uint8
    assert y_train.shape == (20, 1) and y_test.shape == (3, 1)
    # channels-first rows become NHWC exactly as keras.datasets does it
    np.testing.assert_array_equal(x_train, np.concatenate(train_chw).transpose(0, 2, 3, 1))
    np.testing.assert_array_equal(x_test, test_chw.transpose(0, 2, 3, 1))
    assert y_train.ravel().tolist() == train_labels
    assert prepared.class_names == list(CIFAR10_CLASSES)
    assert sum(prepared.counts["train"].values()) == 20 and prepared.skipped == {}
    assert sorted(p.name for p in prepared.root.iterdir()) == ["cifar10.npz", "manifest.json"]


def test_cifar100_real_loader_uses_fine_labels_and_names(lab_env, file_server, monkeypatch):
    rng = np.random.default_rng(1)
    train_chw, train = cifar_batch(6, 100, rng, "fine_labels")
    train["coarse_labels"] = [0] * 6
    _, test = cifar_batch(2, 100, rng, "fine_labels")
    meta = {"fine_label_names": [n.encode() for n in CIFAR100_CLASSES], "coarse_label_names": []}
    tar_file(
        file_server.root / "cifar-100-python.tar.gz",
        {
            "cifar-100-python/train": cifar_pickle(train),
            "cifar-100-python/test": cifar_pickle(test),
            "cifar-100-python/meta": cifar_pickle(meta),
        },
        "w:gz",
    )
    _serve(monkeypatch, file_server, "cifar100", "cifar-100-python.tar.gz")

    prepared = prepare("cifar100", "full")
    (x_train, y_train), (x_test, _) = prepared.load()

    np.testing.assert_array_equal(x_train, train_chw.transpose(0, 2, 3, 1))
    assert y_train.ravel().tolist() == train["fine_labels"]
    assert x_test.shape == (2, 32, 32, 3)
    assert prepared.class_names == list(CIFAR100_CLASSES)
    assert prepared.summary().startswith(
        "cifar100: real; train: 6 images, 100 classes (0-"
    )


def _cifar100(folder: Path, train: dict, protocol: int = 3) -> None:
    """A cifar-100-python.tar.gz whose train batch is ``train`` pickled with ``protocol``."""
    rng = np.random.default_rng(2)
    _, test = cifar_batch(2, 100, rng, "fine_labels")
    meta = {"fine_label_names": [n.encode() for n in CIFAR100_CLASSES]}
    tar_file(
        folder / "cifar-100-python.tar.gz",
        {
            "cifar-100-python/train": cifar_pickle(train, protocol),
            "cifar-100-python/test": cifar_pickle(test),
            "cifar-100-python/meta": cifar_pickle(meta),
        },
        "w:gz",
    )


@pytest.mark.parametrize("protocol", [2, 3, 5])
def test_numpy_integer_labels_load(lab_env, file_server, monkeypatch, protocol):
    rng = np.random.default_rng(3)
    _, train = cifar_batch(5, 100, rng, "fine_labels")
    train["fine_labels"] = [np.int64(v) for v in train["fine_labels"]]
    _cifar100(file_server.root, train, protocol)
    _serve(monkeypatch, file_server, "cifar100", "cifar-100-python.tar.gz")

    (_, y_train), _ = prepare("cifar100", "full").load()
    assert y_train.ravel().tolist() == [int(v) for v in train["fine_labels"]]


def test_a_pickle_naming_other_code_is_refused_in_one_line(lab_env, file_server, monkeypatch):
    _cifar100(file_server.root, {"data": print, "fine_labels": []})
    _serve(monkeypatch, file_server, "cifar100", "cifar-100-python.tar.gz")
    with pytest.raises(DataUnavailable) as err:
        prepare("cifar100", "full")
    message = str(err.value)
    assert "cifar-100-python.tar.gz could not be used: UnpicklingError: train refers to " in message
    assert "builtins.print, which is not plain data; refused" in message
    assert "\n" not in message and "LAB_MODE=quick" in message
    assert not (lab_env / "cache" / "cifar100" / "real.tmp").exists()


@pytest.mark.parametrize(
    ("name", "classes"), [("cifar10", CIFAR10_CLASSES), ("cifar100", CIFAR100_CLASSES)]
)
def test_quick_mode_uses_the_standin_in_the_same_layout(lab_env, name, classes):
    prepared = prepare(name, "quick")
    (x_train, y_train), (x_test, y_test) = prepared.load()

    assert prepared.kind == "stand-in" and "fetch" in prepared.detail
    assert x_train.dtype == np.uint8 and x_train.shape[1:] == (32, 32, 3)
    assert y_train.dtype == np.uint8 and y_train.shape == (len(x_train), 1)
    assert set(np.unique(y_train)) == set(range(len(classes)))
    assert set(np.unique(y_test)) == set(range(len(classes)))
    assert prepared.class_names == list(classes)


def test_full_mode_without_the_archive_names_url_and_cache_path(lab_env, monkeypatch):
    monkeypatch.setenv("LAB_OFFLINE", "1")
    with pytest.raises(DataUnavailable, match=r"cs\.toronto\.edu.*cifar-10-python\.tar\.gz"):
        prepare("cifar10", "full")
