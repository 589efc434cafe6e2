"""Issue 13: archives in the real layouts with the faults real downloads have. Each fault gives
one clear line (no traceback, no internal path), leaves nothing behind, falls back to the
stand-in in quick mode with the reason shown, and the real data is used once the fault is fixed.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from helpers import __main__ as cli
from helpers import datasets
from helpers.datasets import DataUnavailable, Remote, mnist
from helpers.datasets.cats_vs_dogs import FILENAME, LAYOUT
from tests.conftest import dead_url, replace_remote
from tests.rehearsal import jpeg_bytes, zip_bytes

NAME = "cats_vs_dogs"
PER_FOLDER = 3


def _members() -> dict[str, bytes]:
    """``cats_and_dogs_filtered.zip``'s layout, 3 images per class folder, one truncated JPEG."""
    members = {
        f"{folder}/{i}.jpg": jpeg_bytes(i) for folder in LAYOUT for i in range(PER_FOLDER)
    }
    members["cats_and_dogs_filtered/train/dogs/cut.jpg"] = jpeg_bytes(99)[:200]
    return members


def _serve(monkeypatch, file_server, *names: str) -> Remote:
    """Point the entry at ``names`` on the test server (dead official mirrors first)."""
    urls = (dead_url(FILENAME), *(file_server.url(n) for n in names))
    remote = Remote(FILENAME, urls, None, dict.fromkeys(LAYOUT, PER_FOLDER))
    replace_remote(monkeypatch, NAME, remote)
    return remote


def _cache(lab_env: Path) -> list[str]:
    """Everything under the cache except the stand-in (what a fault may leave behind)."""
    root = lab_env / "cache"
    return sorted(
        str(p.relative_to(root)) for p in root.rglob("*")
        if p.is_file() and "standin" not in p.parts
    )  # fmt: skip


def _assert_one_clear_line(message: str) -> None:
    assert "\n" not in message and "Traceback" not in message
    assert ".tmp" not in message and "_unpacked" not in message  # no internal path


def test_cut_download_without_length_falls_back_then_recovers(lab_env, file_server, monkeypatch):
    good = zip_bytes(_members())
    (file_server.root / FILENAME).write_bytes(good)
    file_server.no_length.add(FILENAME)
    file_server.cut_after[FILENAME] = len(good) // 3
    _serve(monkeypatch, file_server, FILENAME)

    prepared = datasets.prepare(NAME, "quick")
    assert prepared.kind == "stand-in"
    assert prepared.reason == "download unusable: not a complete zip archive"
    assert prepared.summary().startswith(
        "cats_vs_dogs: stand-in (download unusable: not a complete zip archive); train: "
    )
    _assert_one_clear_line(prepared.detail)
    assert _cache(lab_env) == []  # the cut .part is gone: never became the file

    # the next run (the server now sends the whole file) starts clean and gets the real data
    prepared = datasets.prepare(NAME, "quick")
    assert prepared.kind == "real" and prepared.counts["train"] == {"cats": 3, "dogs": 3}


def test_web_page_saved_as_the_archive_is_moved_aside(lab_env, file_server, monkeypatch, capsys):
    (file_server.root / FILENAME).write_bytes(zip_bytes(_members()))
    remote = _serve(monkeypatch, file_server, FILENAME)
    placed = datasets.download_path(remote)
    placed.parent.mkdir(parents=True)
    placed.write_bytes(b"<!DOCTYPE html>\n<html><body>Sign in to continue</body></html>")

    monkeypatch.setenv("LAB_OFFLINE", "1")
    with pytest.raises(DataUnavailable) as err:
        datasets.fetch(NAME, progress=False)
    message = str(err.value)
    _assert_one_clear_line(message)
    assert "a web page, not the file" in message and f"moved aside to {FILENAME}.bad" in message
    assert err.value.reason == "file in the cache unusable: a web page, not the file"
    assert _cache(lab_env) == [f"downloads/{FILENAME}.bad"]

    monkeypatch.delenv("LAB_OFFLINE")  # online again: a good mirror is reachable
    assert datasets.fetch(NAME, progress=False).kind == "real"
    assert placed.read_bytes() == (file_server.root / FILENAME).read_bytes()


def test_damaged_zip_fails_fetch_in_one_line_then_recovers(lab_env, file_server, monkeypatch,
                                                           capsys):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for name, data in _members().items():
            zf.writestr(name, data)
    damaged = bytearray(buf.getvalue())
    damaged[damaged.find(jpeg_bytes(1)) + 300] ^= 0xFF
    (file_server.root / "damaged.zip").write_bytes(bytes(damaged))
    _serve(monkeypatch, file_server, "damaged.zip")

    assert cli.main(["fetch", NAME]) == 1
    out, err = capsys.readouterr()
    err = err.split("\r")[-1]  # after the progress bar, which clears itself
    assert out == "" and err.count("\n") == 1
    _assert_one_clear_line(err.strip())
    assert err.startswith(f"{NAME}: could not get {FILENAME} from ")
    assert "damaged zip archive: member cats_and_dogs_filtered/train/cats/1.jpg fails its " in err
    assert _cache(lab_env) == []

    (file_server.root / "good.zip").write_bytes(zip_bytes(_members()))
    _serve(monkeypatch, file_server, "good.zip")
    assert cli.main(["fetch", NAME]) == 0
    out = capsys.readouterr().out
    # the skipped file is shown: fetch prints the summary line
    assert out.startswith(
        "cats_vs_dogs: real; train: cats 3, dogs 3; validation: cats 3, dogs 3; skipped 1 (1 "
    )
    assert f"ready at {lab_env / 'cache' / NAME / 'real'}" in out


def test_wrong_archive_under_the_right_name(lab_env, file_server, monkeypatch) -> None:
    wrong = zip_bytes({f"PetImages/Cat/{i}.jpg": jpeg_bytes(i) for i in range(4)})
    (file_server.root / FILENAME).write_bytes(wrong)
    _serve(monkeypatch, file_server, FILENAME)
    with pytest.raises(DataUnavailable) as err:
        datasets.prepare(NAME, "full")
    message = str(err.value)
    _assert_one_clear_line(message)
    assert (
        "not the expected archive: cats_and_dogs_filtered/train/cats/ holds 0 files, at least 3 "
        "expected" in message
    )
    assert "(and 3 more folders); its top level: PetImages)" in message
    assert "LAB_MODE=quick" in message
    assert str(datasets.download_path(datasets.get(NAME).remotes[0])) in message
    assert _cache(lab_env) == []

    (file_server.root / FILENAME).write_bytes(zip_bytes(_members()))  # a good mirror now
    assert datasets.prepare(NAME, "full").kind == "real"


def test_failure_while_unpacking_falls_back_in_quick_mode(lab_env, file_server, monkeypatch):
    """An archive that passes its checks but cannot be unpacked (a member leaving the folder)."""
    (file_server.root / FILENAME).write_bytes(zip_bytes({**_members(), "../evil.txt": b"x"}))
    remote = _serve(monkeypatch, file_server, FILENAME)

    prepared = datasets.prepare(NAME, "quick")
    assert prepared.kind == "stand-in"
    why = "archive member '../evil.txt' would be written outside the folder"
    assert prepared.reason == f"download unusable: {why}"
    _assert_one_clear_line(prepared.detail)
    assert prepared.detail.startswith(f"{FILENAME} could not be used: {why}; it was moved aside")
    assert _cache(lab_env) == [f"downloads/{FILENAME}.bad"]
    assert not (lab_env / "evil.txt").exists()

    with pytest.raises(DataUnavailable) as err:
        datasets.prepare(NAME, "full")  # downloads again: the same fault, one line
    message = str(err.value)
    _assert_one_clear_line(message)
    assert all(url in message for url in remote.urls)
    assert str(datasets.download_path(remote)) in message
    assert message.endswith("or run in quick mode (LAB_MODE=quick) to use the built-in stand-in.")

    (file_server.root / FILENAME).write_bytes(zip_bytes(_members()))
    assert datasets.prepare(NAME, "quick").kind == "real"


@pytest.mark.parametrize("published", [False, True])
def test_unusable_cifar_archive_names_no_internal_path(lab_env, file_server, monkeypatch,
                                                       published):
    """The wrong archive under CIFAR's name: a clear line, no ``real.tmp/`` left; the file is
    moved aside unless it matches a published checksum (then it is the official copy)."""
    served = file_server.root / "cifar-10-python.tar.gz"
    with tarfile.open(served, "w:gz") as tar:
        info = tarfile.TarInfo("cifar-100-python/train")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    checksum = "sha256:" + hashlib.sha256(served.read_bytes()).hexdigest() if published else None
    remote = Remote(served.name, (file_server.url(served.name),), checksum)
    replace_remote(monkeypatch, "cifar10", remote)
    with pytest.raises(DataUnavailable) as err:
        datasets.fetch("cifar10", progress=False)
    message = str(err.value)
    _assert_one_clear_line(message)
    assert message.startswith(
        "cifar-10-python.tar.gz could not be used: the archive has no folder "
        "'cifar-10-batches-py'; is it the CIFAR python version?; "
    )
    if published:
        assert "(its checksum matches), so it was kept" in message
        assert _cache(lab_env) == ["downloads/cifar-10-python.tar.gz"]
    else:
        assert "it was moved aside to cifar-10-python.tar.gz.bad" in message
        assert _cache(lab_env) == ["downloads/cifar-10-python.tar.gz.bad"]


def test_checksum_mismatch_of_a_file_placed_by_hand(lab_env, monkeypatch) -> None:
    good = b"the real mnist.npz"
    expected = hashlib.sha256(good).hexdigest()
    remote = Remote(mnist.FILENAME, (dead_url(mnist.FILENAME),), f"sha256:{expected}")
    replace_remote(monkeypatch, "mnist", remote)
    monkeypatch.setenv("LAB_OFFLINE", "1")
    placed = datasets.download_path(remote)
    placed.parent.mkdir(parents=True)
    placed.write_bytes(good[:5])
    prepared = datasets.prepare("mnist", "quick")
    assert prepared.kind == "stand-in"
    assert prepared.reason == "file in the cache unusable: checksum mismatch"
    assert _cache(lab_env) == [f"downloads/{mnist.FILENAME}.bad"]

    placed.write_bytes(good[:5])  # placed again, the same bad copy
    with pytest.raises(DataUnavailable) as err:
        datasets.prepare("mnist", "full")
    message = str(err.value)
    _assert_one_clear_line(message)
    found = hashlib.sha256(good[:5]).hexdigest()
    assert f"checksum mismatch: sha256 expected {expected}, found {found}" in message
    assert f"moved aside to {mnist.FILENAME}.bad" in message
    assert "get a fresh copy from one of those URLs" in message


def test_mirror_given_as_a_plain_folder(lab_env, monkeypatch) -> None:
    folder = lab_env / "srv" / "course-data"
    folder.mkdir(parents=True)
    (folder / FILENAME).write_bytes(zip_bytes(_members()))
    remote = Remote(FILENAME, (dead_url(FILENAME),), None, dict.fromkeys(LAYOUT, PER_FOLDER))
    replace_remote(monkeypatch, NAME, remote)
    monkeypatch.setenv("LAB_DATA_MIRROR", str(folder))
    assert datasets.prepare(NAME, "full").kind == "real"
