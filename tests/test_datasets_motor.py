"""helpers.datasets.motor_cores: the synthetic entries, and one loader for our layout, a
student's own defect/ok folder and DAGM 2007 (small folders built here)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from PIL import Image

import helpers.datasets as ds
from helpers.datasets import motor_cores
from helpers.synth import motor


def _png(path, value, size=20):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((size, size), value, np.uint8)).save(path)


def test_registry_builds_the_synthetic_set_in_both_modes(lab_env, monkeypatch):
    entry = ds.get("motor_cores_small")
    tiny = {"size": 32, "n_defect": 6, "n_ok": 5, "scale": 2.5}
    small = dataclasses.replace(entry, build_real=lambda files, out: motor_cores._build(tiny)(out))
    monkeypatch.setitem(ds._REGISTRY, "motor_cores_small", small)
    for mode in ("quick", "full"):
        prepared = ds.prepare("motor_cores_small", mode)
        assert prepared.kind == "synthetic" and "synthetic" in prepared.label
        assert not prepared.reason and not prepared.detail
    assert prepared.class_names == ["defect", "ok"]
    assert prepared.info == tiny
    assert prepared.counts == {
        "train": {"defect": 5, "ok": 4}, "validation": {"defect": 1, "ok": 1}
    }  # fmt: skip
    assert prepared.summary() == (
        "motor_cores_small: synthetic; train: defect 5, ok 4; validation: defect 1, ok 1"
    )
    assert prepared.load().x_train.shape[1:] == (32, 32, 3)  # the size it was drawn at
    data = prepared.load(size=24)
    assert data.x_train.shape[1:] == (24, 24, 3) and data.x_train.dtype == np.uint8
    assert len(data.y_train) + len(data.y_val) == 11
    assert data.y_val.tolist().count(0) == 1 and data.kinds_val[0] in motor.KINDS
    assert data.masks_val[data.y_val == 0].any() and not data.masks_val[data.y_val == 1].any()
    assert "synthetic" in ds.get("motor_cores").real_label
    assert "640x640, 300 defect + 800 ok" in ds.get("motor_cores").real_label


def test_own_folder_is_split_and_corrupt_files_are_counted(tmp_path):
    root = tmp_path / "mine"
    for i in range(8):
        _png(root / "defect" / f"d{i}.png", 200)
        _png(root / "ok" / f"o{i}.png", 50)
    _png(root / "masks" / "defect" / "d0.png", 255)
    (root / "ok" / "broken.png").write_bytes(b"not a png")
    data = motor_cores.load_images(root, 16, validation_share=0.25)
    assert len(data.y_train) == 12 and len(data.y_val) == 4
    assert data.skipped == {"corrupt": 1}
    assert data.summary() == (
        "train: defect 6, ok 6; validation: defect 2, ok 2; skipped 1 (1 corrupt)"
    )
    assert (data.x_train[data.y_train == 0] == 200).all()
    masks = np.concatenate([data.masks_train, data.masks_val])
    assert masks.sum() == 16 * 16  # only d0 has a mask
    with pytest.raises(ds.DatasetError):
        motor_cores.load_images(tmp_path / "nowhere", 16)


def test_dagm_2007_layout(tmp_path):
    root = tmp_path / "DAGM"
    for cls in ("Class1", "Class2"):
        for part, n in (("Train", 4), ("Test", 2)):
            for i in range(n):
                _png(root / cls / part / f"{i:04d}.PNG", 100)
            _png(root / cls / part / "Label" / "0001_label.PNG", 255)
            (root / cls / part / "Label" / "Labels.txt").write_text("1\n")
    data = motor_cores.load_images(root, 16)
    assert len(data.y_train) == 8 and len(data.y_val) == 4
    assert data.y_train.tolist().count(0) == 2  # one labelled defect per class and part
    assert sorted(set(data.kinds_val) - {"ok"}) == ["Class1", "Class2"]
    assert data.masks_val[np.array(data.kinds_val) != "ok"].all()


def test_a_class_too_small_to_split_names_folder_counts_and_minimum(tmp_path):
    root = tmp_path / "mine"
    for i in range(8):
        _png(root / "ok" / f"o{i}.png", 50)
    _png(root / "defect" / "d0.png", 200)
    (root / "defect" / "d1.png").write_bytes(b"not a png")
    (root / "defect" / "d2.png").write_bytes(b"")
    with pytest.raises(ds.DatasetError) as err:
        motor_cores.load_images(root, 16)
    assert str(err.value) == (
        f"class folder {root / 'defect'} has only 1 readable image (2 skipped as unreadable: "
        "1 corrupt, 1 empty); at least 5 needed to hold out 24% of them for validation"
    )
    assert motor_cores.min_per_class(0.24) == 5 and motor_cores.min_per_class(0.5) == 2


def test_an_all_unreadable_class_names_what_was_skipped(tmp_path):
    root = tmp_path / "mine"
    for i in range(4):
        _png(root / "train" / "ok" / f"o{i}.png", 50)
        _png(root / "validation" / "ok" / f"o{i}.png", 50)
        _png(root / "validation" / "defect" / f"d{i}.png", 200)
    (root / "train" / "defect").mkdir()
    (root / "train" / "defect" / "d0.png").write_bytes(b"\x89PNG cut")
    with pytest.raises(ds.DatasetError) as err:
        motor_cores.load_images(root, 16)
    assert str(err.value) == (
        f"class folder {root / 'train' / 'defect'} has no readable images (1 skipped as "
        "unreadable: 1 corrupt); at least 1 needed"
    )
