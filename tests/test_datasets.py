"""helpers.datasets registry, the ``Prepared`` interface and the MNIST entry: real vs stand-in,
never a silent substitute."""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np
import pytest

from helpers import datasets
from helpers.datasets import DataUnavailable, Remote, mnist
from tests.conftest import dead_url
from tests.rehearsal import mnist_npz


def point_mnist_at(monkeypatch, *urls: str, checksum: str | None = None) -> None:
    entry = datasets.get("mnist")
    remote = Remote(mnist.FILENAME, tuple(urls), checksum)
    monkeypatch.setitem(datasets._REGISTRY, "mnist", dataclasses.replace(entry, remotes=(remote,)))


def test_quick_mode_offline_uses_the_standin_and_says_why(lab_env, monkeypatch) -> None:
    point_mnist_at(monkeypatch, dead_url("mnist.npz"))
    prepared = datasets.prepare("mnist", "quick")
    assert prepared.kind == "stand-in" and prepared.label == datasets.get("mnist").standin_label
    assert "stand-in" in str(prepared) and prepared.reason == "download failed"
    assert dead_url("mnist.npz") in prepared.detail
    (x_train, y_train), (x_test, y_test) = prepared.load()
    assert x_train.shape[1:] == (28, 28) and x_train.dtype == np.uint8
    assert len(x_train) == 1540 and len(x_test) == 257  # scikit-learn's 1,797 digits split 6:1
    assert set(np.unique(y_train)) == set(range(10)) and x_train.max() == 255
    # MNIST-like framing: the digit sits in the central 20x20 box
    assert x_train[:, :4].max() == 0 and x_train[:, :, 24:].max() == 0


def test_standin_is_deterministic_and_cached(lab_env, monkeypatch) -> None:
    monkeypatch.setenv("LAB_OFFLINE", "1")
    first = datasets.prepare("mnist", "quick")
    assert str(first) == f"{datasets.get('mnist').standin_label} (offline)"
    stamp = (first.root / mnist.FILENAME).stat().st_mtime_ns
    again = datasets.prepare("mnist", "quick")
    assert (again.root / mnist.FILENAME).stat().st_mtime_ns == stamp
    np.testing.assert_array_equal(first.load()[0][0], again.load()[0][0])
    assert datasets.status("mnist") == "standin cached"


def test_full_mode_never_substitutes(lab_env, monkeypatch) -> None:
    point_mnist_at(monkeypatch, dead_url("mnist.npz"))
    with pytest.raises(DataUnavailable) as err:
        datasets.prepare("mnist", "full")
    assert dead_url("mnist.npz") in str(err.value)
    assert str(lab_env / "cache" / "downloads" / "mnist.npz") in str(err.value)
    assert "run in quick mode (LAB_MODE=quick) to use the built-in stand-in" in str(err.value)
    assert "\n" not in str(err.value)
    assert not (lab_env / "cache" / "mnist" / "standin").exists()


def test_real_loader_downloads_checks_and_arranges(lab_env, monkeypatch, file_server) -> None:
    data = mnist_npz(60, 10)
    (file_server.root / "mnist.npz").write_bytes(data)
    point_mnist_at(
        monkeypatch,
        dead_url("mnist.npz"),
        file_server.url("mnist.npz"),
        checksum="sha256:" + hashlib.sha256(data).hexdigest(),
    )
    prepared = datasets.prepare("mnist", "full")
    assert prepared.kind == "real" and str(prepared) == "real" and not prepared.reason
    (x_train, _), (x_test, _) = prepared.load()
    assert x_train.shape == (60, 28, 28) and x_test.shape == (10, 28, 28)
    assert datasets.status("mnist") == "real cached"
    # a second call uses the cache: no new request
    count = len(file_server.requests)
    datasets.prepare("mnist", "quick")
    assert len(file_server.requests) == count


def test_file_placed_by_hand_is_used_offline(lab_env, monkeypatch) -> None:
    data = mnist_npz(60, 10)
    point_mnist_at(
        monkeypatch, dead_url("mnist.npz"), checksum="sha256:" + hashlib.sha256(data).hexdigest()
    )
    monkeypatch.setenv("LAB_OFFLINE", "1")
    placed = datasets.download_path(datasets.get("mnist").remotes[0])
    placed.parent.mkdir(parents=True)
    placed.write_bytes(data)
    assert datasets.prepare("mnist", "full").kind == "real"


def test_real_mnist_remote_matches_keras() -> None:
    remote = datasets.get("mnist").remotes[0]
    assert remote.urls[0] == "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
    assert remote.checksum.startswith("sha256:731c5ac6")


def test_interrupted_standin_build_is_redone(lab_env, monkeypatch) -> None:
    monkeypatch.setenv("LAB_OFFLINE", "1")
    entry = datasets.get("mnist")

    def broken(out, seed):
        (out / "half-written").write_text("x")
        raise KeyboardInterrupt

    monkeypatch.setitem(
        datasets._REGISTRY, "mnist", dataclasses.replace(entry, build_standin=broken)
    )
    with pytest.raises(KeyboardInterrupt):
        datasets.prepare("mnist", "quick")
    monkeypatch.setitem(datasets._REGISTRY, "mnist", entry)
    prepared = datasets.prepare("mnist", "quick")
    assert sorted(p.name for p in prepared.root.iterdir()) == ["manifest.json", "mnist.npz"]
    assert not (lab_env / "cache" / "mnist" / "standin.tmp").exists()


def test_large_archives_are_not_downloaded_in_quick_mode(lab_env, monkeypatch, file_server):
    entry = datasets.get("mnist")
    remote = Remote(mnist.FILENAME, (file_server.url("mnist.npz"),), None)
    monkeypatch.setitem(
        datasets._REGISTRY,
        "mnist",
        dataclasses.replace(entry, remotes=(remote,), quick_download=False),
    )
    prepared = datasets.prepare("mnist", "quick")
    assert prepared.kind == "stand-in" and prepared.reason == "real data not cached"
    assert "python -m helpers fetch mnist" in prepared.detail
    assert file_server.requests == []


def test_unknown_dataset_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="mnist"):
        datasets.get("imagenet")


def test_prepared_answers_one_interface(lab_env, monkeypatch) -> None:
    monkeypatch.setenv("LAB_OFFLINE", "1")
    prepared = datasets.prepare("mnist", "quick")
    assert prepared.name == "mnist" and prepared.root.is_dir()
    assert prepared.class_names == [str(d) for d in range(10)]
    assert set(prepared.counts) == {"train", "test"}
    assert sum(prepared.counts["train"].values()) == 1540
    assert sum(prepared.counts["test"].values()) == 257
    assert prepared.skipped == {} and prepared.info == {}
    assert prepared.summary() == (
        "mnist: stand-in (offline); train: 1540 images, 10 classes (149-157 each); "
        "test: 257 images, 10 classes (25-26 each)"
    )
    assert prepared.as_record() == {
        "kind": "stand-in", "label": datasets.get("mnist").standin_label, "reason": "offline"
    }
    with pytest.raises(datasets.DatasetError, match=r"mnist is an array dataset: use \.load\(\)"):
        prepared.folder("train")


def test_folder_datasets_give_folders_and_refuse_load(lab_env, monkeypatch) -> None:
    monkeypatch.setenv("LAB_OFFLINE", "1")
    prepared = datasets.prepare("caltech256_horse_zebra", "quick")
    assert prepared.folder("train") == prepared.root / "train"
    assert prepared.counts == {s: {"horse": 20, "zebra": 20} for s in ("train", "test")}
    assert prepared.summary() == (
        "caltech256_horse_zebra: stand-in (real data not cached); train: horse 20, zebra 20; "
        "test: horse 20, zebra 20"
    )
    with pytest.raises(datasets.DatasetError, match=r"folder dataset: use \.folder\(split\)"):
        prepared.load()
    with pytest.raises(datasets.DatasetError, match="no split 'validation'; it has train, test"):
        prepared.folder("validation")


def test_summary_and_record_show_skipped_files(tmp_path) -> None:
    root = tmp_path / "set"
    root.mkdir()
    datasets.Manifest(
        ["cats", "dogs"],
        {"train": {"cats": 1000, "dogs": 999}},
        {"not an image": 1, "truncated": 2},
    ).write(root)
    prepared = datasets.Prepared("cats_vs_dogs", "real", "real", root)
    assert prepared.summary() == (
        "cats_vs_dogs: real; train: cats 1000, dogs 999; skipped 3 (2 truncated, 1 not an image)"
    )
    assert prepared.as_record() == {
        "kind": "real", "label": "real", "reason": "",
        "skipped": {"not an image": 1, "truncated": 2},
    }  # fmt: skip
    assert str(prepared) == "real"


def test_a_cache_built_before_manifests_is_built_again(lab_env, monkeypatch) -> None:
    monkeypatch.setenv("LAB_OFFLINE", "1")
    old = lab_env / "cache" / "mnist" / "standin"
    old.mkdir(parents=True)
    (old / ".complete").touch()
    assert datasets.prepare("mnist", "quick").counts["train"]
