"""helpers.datasets.folder: odd files are skipped and counted; bad folders fail with one message."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers.datasets.folder import DatasetError, copy_valid, scan_image_folder


def write_jpeg(path: Path, value: int = 128, size: int = 16) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((size, size, 3), value, np.uint8)).save(path, "JPEG")
    return path


@pytest.fixture
def messy(tmp_path: Path) -> Path:
    root = tmp_path / "photos"
    for i in range(3):
        write_jpeg(root / "cats" / f"cat.{i}.jpg", 40 * i)
    write_jpeg(root / "dogs" / "dog.0.jpg")
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(root / "dogs" / "dog.1.png")
    good = (root / "dogs" / "dog.0.jpg").read_bytes()
    (root / "dogs" / "truncated.jpg").write_bytes(good[: len(good) // 2])
    (root / "dogs" / "garbage.jpg").write_bytes(b"this is not a jpeg at all" * 10)
    (root / "dogs" / "empty.jpg").write_bytes(b"")
    (root / "cats" / "notes.txt").write_text("not an image")
    (root / "cats" / ".DS_Store").write_bytes(b"\0\1")
    (root / ".hidden").mkdir()
    return root


def test_scan_keeps_readable_images_and_counts_the_rest(messy: Path) -> None:
    scan = scan_image_folder(messy)
    assert scan.classes == ["cats", "dogs"]
    assert scan.counts() == {"cats": 3, "dogs": 2}
    assert scan.skipped_counts() == {"not an image": 1, "truncated": 1, "corrupt": 1, "empty": 1}
    assert "skipped 4" in scan.summary() and "cats 3" in scan.summary()


def test_copy_valid_writes_only_good_images_and_leaves_the_source_alone(messy, tmp_path) -> None:
    before = sorted(p.name for p in messy.rglob("*"))
    scan = scan_image_folder(messy, classes=["dogs", "cats"])
    copy_valid(scan, tmp_path / "clean", names={"dogs": "dog"})
    assert sorted(p.name for p in (tmp_path / "clean" / "dog").iterdir()) == [
        "dog.0.jpg",
        "dog.1.png",
    ]
    assert len(list((tmp_path / "clean" / "cats").iterdir())) == 3
    assert sorted(p.name for p in messy.rglob("*")) == before


def test_missing_path_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="no folder at"):
        scan_image_folder(tmp_path / "nowhere")


def test_folder_without_class_subfolders(tmp_path: Path) -> None:
    write_jpeg(tmp_path / "flat" / "a.jpg")
    with pytest.raises(DatasetError, match="no class subfolders"):
        scan_image_folder(tmp_path / "flat")


def test_empty_class_is_one_clear_error(messy: Path) -> None:
    (messy / "birds").mkdir()
    (messy / "birds" / "broken.jpg").write_bytes(b"")
    (messy / "birds" / "cut.jpg").write_bytes(b"\xff\xd8\xff")
    (messy / "birds" / "readme.txt").write_text("x")
    with pytest.raises(DatasetError) as err:
        scan_image_folder(messy)
    assert str(err.value) == (
        f"class folder {messy / 'birds'} has no readable images (3 skipped as unreadable: "
        "1 corrupt, 1 empty, 1 not an image); at least 1 needed"
    )


def test_skipped_counts_per_class_and_summary(messy: Path) -> None:
    scan = scan_image_folder(messy)
    assert scan.skipped_counts("cats") == {"not an image": 1}
    assert scan.skipped_counts("dogs") == {"truncated": 1, "corrupt": 1, "empty": 1}
    assert scan.summary().endswith("skipped 4 (1 corrupt, 1 empty, 1 not an image, 1 truncated)")


def test_named_class_that_does_not_exist(messy: Path) -> None:
    with pytest.raises(DatasetError, match="does not exist"):
        scan_image_folder(messy, classes=["cats", "horses"])
