"""caltech256_horse_zebra: the real loader on a tar in Caltech-256's layout, served on 127.0.0.1."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import pytest

import helpers.datasets
from helpers.datasets import DataUnavailable, Remote, fetch, prepare, scan_image_folder
from helpers.datasets.caltech256_horse_zebra import FILENAME, PER_SPLIT, SPLITS, TOP
from tests.rehearsal import caltech_members, jpeg_bytes, tar_file

NAME = "caltech256_horse_zebra"


def _archive(path: Path, horses: int = 45, zebras: int = 42) -> str:
    """A tar like 256_ObjectCategories.tar: two wanted categories (one horse file corrupt), one
    other category. Returns its md5 checksum string."""
    members = caltech_members({"105.horse": horses, "250.zebra": zebras})
    members[f"{TOP}/105.horse/105_0999.jpg"] = b"\xff\xd8 not really a jpeg"
    members[f"{TOP}/001.ak47/001_0001.jpg"] = jpeg_bytes(0)
    tar_file(path, members)
    return "md5:" + hashlib.md5(path.read_bytes()).hexdigest()


def _serve(monkeypatch: pytest.MonkeyPatch, file_server, checksum: str | None) -> None:
    entry = helpers.datasets.get(NAME)
    remote = Remote(FILENAME, (file_server.url(FILENAME),), checksum)
    monkeypatch.setitem(
        helpers.datasets._REGISTRY, NAME, dataclasses.replace(entry, remotes=(remote,))
    )


def _names(root: Path) -> dict[tuple[str, str], set[str]]:
    return {
        (split, cls): {p.name for p in files}
        for split in SPLITS
        for cls, files in scan_image_folder(root / split).images.items()
    }


def test_real_loader_picks_20_per_class_and_split(
    lab_env: Path, file_server, monkeypatch: pytest.MonkeyPatch
) -> None:
    checksum = _archive(file_server.root / FILENAME)
    _serve(monkeypatch, file_server, checksum)
    prepared = prepare(NAME, "full")
    assert prepared.kind == "real"
    names = _names(prepared.root)
    assert set(names) == {(s, c) for s in SPLITS for c in ("horse", "zebra")}
    assert all(len(files) == PER_SPLIT for files in names.values())
    for cls, prefix in (("horse", "105_"), ("zebra", "250_")):
        train, test = names[("train", cls)], names[("test", cls)]
        assert not train & test
        assert all(n.startswith(prefix) for n in train | test)
    assert "105_0999.jpg" not in set().union(*names.values())
    assert prepared.skipped == {"corrupt": 1}
    assert prepared.info == {"readable": {"105.horse": 45, "250.zebra": 42}}
    assert prepared.counts == dict.fromkeys(SPLITS, {"horse": PER_SPLIT, "zebra": PER_SPLIT})
    assert sorted(p.name for p in prepared.root.iterdir()) == ["manifest.json", "test", "train"]
    # The selection is fixed: building again from the same archive picks the same files.
    (prepared.root / "manifest.json").unlink()
    assert _names(fetch(NAME, progress=False).root) == names


def test_quick_mode_does_not_download_the_large_archive(lab_env: Path, file_server, monkeypatch):
    _archive(file_server.root / FILENAME)
    _serve(monkeypatch, file_server, None)
    prepared = prepare(NAME, "quick")
    assert prepared.kind == "stand-in" and "helpers fetch" in prepared.detail
    assert file_server.requests == []
    names = _names(prepared.root)
    assert all(len(files) == PER_SPLIT for files in names.values())


def test_checksum_mismatch_and_too_few_images_are_clear_errors(
    lab_env: Path, file_server, monkeypatch
) -> None:
    _archive(file_server.root / FILENAME)
    _serve(monkeypatch, file_server, "md5:" + "0" * 32)
    with pytest.raises(DataUnavailable, match="checksum mismatch"):
        prepare(NAME, "full")
    _archive(file_server.root / FILENAME, zebras=30)
    _serve(monkeypatch, file_server, None)
    with pytest.raises(DataUnavailable) as err:
        prepare(NAME, "full")
    assert (
        "256_ObjectCategories.tar could not be used: class folder 256_ObjectCategories/250.zebra "
        "has only 30 readable images (none skipped); at least 40 needed (20 for training, 20 for "
        "test); it was moved aside to 256_ObjectCategories.tar.bad"
    ) in str(err.value)
    assert not (lab_env / "cache" / NAME / "real.tmp").exists()
    # the fault fixed (a good archive served): the next run downloads again and succeeds
    _archive(file_server.root / FILENAME)
    assert prepare(NAME, "full").kind == "real"
