"""flowers_roses_tulips: the real loader on a flower_photos.tgz in the real layout, served on
127.0.0.1 (other classes dropped, a corrupt file skipped and counted, 80/20 split); the stand-in."""

from __future__ import annotations

import dataclasses
import tarfile
from pathlib import Path

import pytest

import helpers.datasets
from helpers.datasets import Remote, prepare, scan_image_folder
from helpers.datasets.download import file_digest
from helpers.datasets.flowers_roses_tulips import CLASSES, FILENAME, SPLITS
from tests.rehearsal import flower_members, jpeg_bytes, tar_file

NAME = "flowers_roses_tulips"
COUNTS = {"roses": 10, "tulips": 15, "daisy": 4}


def _archive(path: Path) -> None:
    """``flower_photos/<class>/<n>.jpg`` for roses, tulips and daisy, LICENSE.txt at the top,
    plus one truncated JPEG among the tulips."""
    members = flower_members(COUNTS)
    members["flower_photos/tulips/999_broken.jpg"] = jpeg_bytes(999)[:150]
    tar_file(path, members, "w:gz")


def _serve(file_server, monkeypatch, checksum: str | None) -> None:
    entry = helpers.datasets.get(NAME)
    remote = Remote(FILENAME, (file_server.url(FILENAME),), checksum)
    monkeypatch.setitem(
        helpers.datasets._REGISTRY, NAME, dataclasses.replace(entry, remotes=(remote,))
    )


def test_real_loader_keeps_roses_tulips_filters_and_splits(
    lab_env: Path, file_server, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = file_server.root / FILENAME
    _archive(archive)
    _serve(file_server, monkeypatch, "sha256:" + file_digest(archive, "sha256"))

    # Quick mode does not download this large archive on its own ...
    assert prepare(NAME, "quick").kind == "stand-in"
    assert file_server.requests == []
    # ... full mode (or `python -m helpers fetch`) does.
    prepared = prepare(NAME, "full")
    assert prepared.kind == "real"
    train = scan_image_folder(prepared.root / "train")
    validation = scan_image_folder(prepared.root / "validation")
    assert train.classes == validation.classes == CLASSES  # daisy dropped
    assert train.counts() == {"roses": 8, "tulips": 12}  # 80% of the 10 and 15 readable
    assert validation.counts() == {"roses": 2, "tulips": 3}
    assert not train.skipped and not validation.skipped
    names = {s: {p.name for ps in scan.images.values() for p in ps}
             for s, scan in (("train", train), ("validation", validation))}
    assert not names["train"] & names["validation"]
    assert "999_broken.jpg" not in names["train"] | names["validation"]
    assert prepared.summary() == (
        "flowers_roses_tulips: real; train: roses 8, tulips 12; validation: roses 2, tulips 3; "
        "skipped 1 (1 truncated)"
    )
    # cached now: quick mode uses the real data, no new request
    assert prepare(NAME, "quick").kind == "real"
    assert len(file_server.requests) == 1


def test_split_is_fixed_by_seed(lab_env: Path, file_server, monkeypatch) -> None:
    from helpers.datasets.flowers_roses_tulips import split

    _archive(file_server.root / FILENAME)
    out = lab_env / "unpacked"
    with tarfile.open(file_server.root / FILENAME) as tar:
        tar.extractall(out, filter="data")
    scan = scan_image_folder(out / "flower_photos", CLASSES)
    first, second = split(scan), split(scan)
    assert first["validation"].images == second["validation"].images
    assert split(scan, seed=7)["validation"].images != first["validation"].images


def test_full_mode_fails_clearly_and_standin_has_same_layout(
    lab_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAB_OFFLINE", "1")
    with pytest.raises(helpers.datasets.DataUnavailable, match="flower_photos.tgz"):
        prepare(NAME, "full")
    prepared = prepare(NAME, "quick")
    assert prepared.kind == "stand-in" and prepared.class_names == CLASSES
    for split_name in SPLITS:
        scan = scan_image_folder(prepared.root / split_name)
        assert scan.classes == CLASSES and not scan.skipped
    counts = scan_image_folder(prepared.root / "train").counts()
    assert counts["tulips"] > counts["roses"] >= 100  # RATIO's 641 : 799, scaled down


def test_a_class_too_small_to_split_is_one_clear_error(tmp_path: Path) -> None:
    from helpers.datasets.flowers_roses_tulips import split

    photos = tmp_path / "flower_photos"
    for cls, n in (("roses", 1), ("tulips", 4)):
        (photos / cls).mkdir(parents=True)
        for i in range(n):
            (photos / cls / f"{i}.jpg").write_bytes(jpeg_bytes(i))
    (photos / "roses" / "cut.jpg").write_bytes(b"")
    with pytest.raises(helpers.datasets.DatasetError) as err:
        split(scan_image_folder(photos, CLASSES))
    assert str(err.value) == (
        f"class folder {photos / 'roses'} has only 1 readable image (1 skipped as unreadable: "
        "1 empty); at least 2 needed to split it 80/20"
    )
