"""cats_vs_dogs: the real loader on a zip in the real layout, served on 127.0.0.1; the stand-in."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

import helpers.datasets
from helpers.datasets import Remote, prepare, scan_image_folder
from helpers.datasets.cats_vs_dogs import CLASSES, FILENAME, LAYOUT, REMOTE, SPLITS, TOP
from tests.conftest import dead_url, replace_remote
from tests.rehearsal import cats_dogs_members, jpeg_bytes, zip_bytes

NAME = "cats_vs_dogs"


def remote(*urls: str) -> Remote:
    """The real entry's layout check, scaled down to the 3 images per folder of ``_archive``."""
    return Remote(FILENAME, urls, None, dict.fromkeys(LAYOUT, 3))


def _archive(path: Path) -> None:
    """``cats_and_dogs_filtered/{train,validation}/{cats,dogs}/cat.N.jpg``: 3 images per folder,
    plus one truncated JPEG in train/dogs and the archive's stray non-image file."""
    members = cats_dogs_members(3)
    members[f"{TOP}/train/dogs/dog.999.jpg"] = jpeg_bytes(999)[:200]
    path.write_bytes(zip_bytes(members))


def test_real_loader_arranges_layout_and_skips_corrupt(
    lab_env: Path, file_server, monkeypatch: pytest.MonkeyPatch
) -> None:
    _archive(file_server.root / FILENAME)
    replace_remote(monkeypatch, NAME, remote(file_server.url(FILENAME)))
    prepared = prepare(NAME, "quick")
    assert prepared.kind == "real" and prepared.reason == ""
    for split in SPLITS:
        scan = scan_image_folder(prepared.root / split)
        assert scan.classes == CLASSES
        assert scan.counts() == {"cats": 3, "dogs": 3}
        assert not scan.skipped
    assert not (prepared.root / "train" / "dogs" / "dog.999.jpg").exists()
    assert sorted(p.name for p in prepared.root.iterdir()) == [
        "manifest.json",
        "train",
        "validation",
    ]
    assert prepared.class_names == CLASSES
    assert prepared.counts == dict.fromkeys(SPLITS, {"cats": 3, "dogs": 3})
    assert prepared.folder("validation") == prepared.root / "validation"
    # A cut JPEG reads as "corrupt" or "truncated" depending on where PIL's decoder stops.
    (why,) = prepared.skipped
    assert why in ("corrupt", "truncated") and prepared.skipped[why] == 1
    assert prepared.summary() == (
        "cats_vs_dogs: real; train: cats 3, dogs 3; validation: cats 3, dogs 3; "
        f"skipped 1 (1 {why})"
    )
    assert prepared.as_record()["skipped"] == {why: 1}
    # A second prepare uses the cache: no further request.
    assert prepare(NAME, "quick").root == prepared.root
    assert len(file_server.requests) == 1


def test_mirrors_are_tried_in_order(lab_env: Path, file_server, monkeypatch) -> None:
    _archive(file_server.root / FILENAME)
    replace_remote(monkeypatch, NAME, remote(dead_url(FILENAME), file_server.url(FILENAME)))
    assert prepare(NAME, "full").kind == "real"


def test_official_mirrors_order() -> None:
    urls = helpers.datasets.get(NAME).remotes[0].urls
    assert urls[0].startswith("https://storage.googleapis.com/mledu-datasets/")
    assert urls[1].startswith("https://download.mlcc.google.com/mledu-datasets/")


def test_archive_without_checksum_is_checked_by_its_layout() -> None:
    assert REMOTE.checksum is None
    assert REMOTE.layout == {
        "cats_and_dogs_filtered/train/cats": 900,
        "cats_and_dogs_filtered/train/dogs": 900,
        "cats_and_dogs_filtered/validation/cats": 450,
        "cats_and_dogs_filtered/validation/dogs": 450,
    }


def test_standin_same_layout_when_offline(lab_env: Path, monkeypatch) -> None:
    monkeypatch.setenv("LAB_OFFLINE", "1")
    prepared = prepare(NAME, "quick")
    assert prepared.kind == "stand-in" and prepared.reason == "offline"
    assert prepared.counts == {"train": {"cats": 200, "dogs": 200},
                               "validation": {"cats": 100, "dogs": 100}}
    for split in SPLITS:
        scan = scan_image_folder(prepared.root / split)
        assert scan.classes == CLASSES
        counts = scan.counts()
        assert counts["cats"] == counts["dogs"] >= 50
        with Image.open(scan.images["cats"][0]) as img:
            assert img.mode == "RGB"
    with pytest.raises(helpers.datasets.DataUnavailable, match="cats_and_dogs_filtered.zip"):
        prepare(NAME, "full")
