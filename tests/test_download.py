"""helpers.datasets.download against a local HTTP server: mirrors, verification, resume,
extraction, and the faults real downloads have (cut, damaged, web pages, wrong files)."""

from __future__ import annotations

import hashlib
import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from helpers.datasets.download import (
    DataUnavailable,
    Remote,
    candidate_urls,
    check_file,
    download,
)
from helpers.datasets.unpack import extract
from tests.conftest import dead_url
from tests.rehearsal import tar_add, zip_bytes

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB, several read chunks
SHA = "sha256:" + hashlib.sha256(PAYLOAD).hexdigest()


@pytest.fixture
def served(file_server, lab_env):
    (file_server.root / "blob.bin").write_bytes(PAYLOAD)
    return file_server


def test_mirrors_are_tried_in_order(served, tmp_path: Path) -> None:
    remote = Remote(
        "blob.bin", (dead_url("blob.bin"), served.url("missing.bin"), served.url("blob.bin")), SHA
    )
    path = download(remote, tmp_path / "out" / "blob.bin", progress=False)
    assert path.read_bytes() == PAYLOAD
    assert [name for name, _ in served.requests] == ["missing.bin", "blob.bin"]


def test_checksum_mismatch_discards_and_moves_on(served, tmp_path: Path) -> None:
    (served.root / "other.bin").write_bytes(b"not the file")
    remote = Remote("blob.bin", (served.url("other.bin"), served.url("blob.bin")), SHA)
    dest = tmp_path / "blob.bin"
    assert download(remote, dest, progress=False).read_bytes() == PAYLOAD

    only_bad = Remote("blob.bin", (served.url("other.bin"),), SHA)
    with pytest.raises(DataUnavailable, match="checksum mismatch") as err:
        download(only_bad, tmp_path / "again.bin", progress=False)
    found = hashlib.sha256(b"not the file").hexdigest()
    assert f"sha256 expected {SHA.removeprefix('sha256:')}, found {found}" in str(err.value)
    assert err.value.reason == "download unusable: checksum mismatch"
    assert not (tmp_path / "again.bin").exists() and not (tmp_path / "again.bin.part").exists()


def test_interrupted_download_is_resumed_with_a_range_request(served, tmp_path: Path) -> None:
    served.cut_after["blob.bin"] = 300_000  # the first response stops after 300 kB
    remote = Remote("blob.bin", (served.url("blob.bin"),), SHA)
    path = download(remote, tmp_path / "blob.bin", progress=False)
    assert path.read_bytes() == PAYLOAD
    assert served.requests == [("blob.bin", None), ("blob.bin", "bytes=300000-")]


def test_partial_file_from_an_earlier_run_is_resumed(served, tmp_path: Path) -> None:
    (tmp_path / "blob.bin.part").write_bytes(PAYLOAD[:123_456])
    remote = Remote("blob.bin", (served.url("blob.bin"),), SHA)
    assert download(remote, tmp_path / "blob.bin", progress=False).read_bytes() == PAYLOAD
    assert served.requests == [("blob.bin", "bytes=123456-")]


def test_a_failed_download_says_that_the_next_try_resumes(served, tmp_path: Path) -> None:
    (tmp_path / "blob.bin.part").write_bytes(PAYLOAD[:123_456])
    served.fail["blob.bin"] = 503
    remote = Remote("blob.bin", (served.url("blob.bin"),), SHA)
    with pytest.raises(DataUnavailable) as caught:
        download(remote, tmp_path / "blob.bin", progress=False)
    assert "the 123,456 bytes received are kept in blob.bin.part, and the next try resumes" in (
        str(caught.value))
    assert (tmp_path / "blob.bin.part").stat().st_size == 123_456


def test_complete_part_answered_416_is_kept(served, tmp_path: Path) -> None:
    (tmp_path / "blob.bin.part").write_bytes(PAYLOAD)
    remote = Remote("blob.bin", (served.url("blob.bin"),), SHA)
    assert download(remote, tmp_path / "blob.bin", progress=False).read_bytes() == PAYLOAD


def test_cached_file_with_good_checksum_is_not_downloaded_again(served, tmp_path) -> None:
    (tmp_path / "blob.bin").write_bytes(PAYLOAD)
    download(Remote("blob.bin", (served.url("blob.bin"),), SHA), tmp_path / "blob.bin")
    assert served.requests == []


def test_file_urls_work(lab_env, tmp_path: Path) -> None:
    src = tmp_path / "src.bin"
    src.write_bytes(PAYLOAD)
    remote = Remote("blob.bin", (src.as_uri(),), SHA)
    assert download(remote, tmp_path / "dl" / "blob.bin", progress=False).read_bytes() == PAYLOAD


def test_classroom_mirror_is_tried_first(served, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("LAB_DATA_MIRROR", f"http://127.0.0.1:{served.port}/")
    remote = Remote("blob.bin", (dead_url("blob.bin"),), SHA)
    assert download(remote, tmp_path / "blob.bin", progress=False).read_bytes() == PAYLOAD


def test_unavailable_message_is_one_actionable_line(lab_env, tmp_path: Path) -> None:
    remote = Remote("blob.bin", (dead_url("a/blob.bin"), dead_url("b/blob.bin")), SHA)
    with pytest.raises(DataUnavailable) as err:
        download(remote, tmp_path / "cache" / "blob.bin", progress=False)
    message = str(err.value)
    assert "\n" not in message
    assert dead_url("a/blob.bin") in message and dead_url("b/blob.bin") in message
    assert str(tmp_path / "cache" / "blob.bin") in message


def test_offline_mode_makes_no_request(served, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("LAB_OFFLINE", "1")
    with pytest.raises(DataUnavailable, match="LAB_OFFLINE"):
        download(Remote("blob.bin", (served.url("blob.bin"),), SHA), tmp_path / "blob.bin")
    assert served.requests == []


def _tar_bytes(files: dict[str, bytes], mode: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tf:
        for name, data in files.items():
            tar_add(tf, name, data)
    return buf.getvalue()


@pytest.mark.parametrize(
    "suffix, build",
    [
        ("zip", zip_bytes),
        ("tar", lambda f: _tar_bytes(f, "w")),
        ("tar.gz", lambda f: _tar_bytes(f, "w:gz")),
    ],
)
def test_extract_zip_and_tar(tmp_path: Path, suffix, build) -> None:
    archive = tmp_path / f"a.{suffix}"
    archive.write_bytes(build({"top/cats/a.txt": b"a", "top/dogs/b.txt": b"b"}))
    out = extract(archive, tmp_path / "out")
    assert (out / "top" / "cats" / "a.txt").read_bytes() == b"a"
    assert (out / "top" / "dogs" / "b.txt").read_bytes() == b"b"
    assert not (tmp_path / "out.tmp").exists()


@pytest.mark.parametrize(
    "suffix, build", [("zip", zip_bytes), ("tar", lambda f: _tar_bytes(f, "w"))]
)
def test_extract_refuses_paths_outside_the_folder(tmp_path: Path, suffix, build) -> None:
    archive = tmp_path / f"evil.{suffix}"
    archive.write_bytes(build({"../escaped.txt": b"x"}))
    with pytest.raises(DataUnavailable, match="outside") as err:
        extract(archive, tmp_path / "out")
    assert not (tmp_path / "escaped.txt").exists()
    assert ".tmp" not in str(err.value)  # no internal path
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"evil.{suffix}"]  # nothing left


def test_extract_refuses_other_files(tmp_path: Path) -> None:
    archive = tmp_path / "plain.bin"
    archive.write_bytes(b"just bytes")
    with pytest.raises(DataUnavailable, match="neither a zip nor a tar"):
        extract(archive, tmp_path / "out")
    assert not (tmp_path / "out.tmp").exists()


# --- verification: a bad copy never becomes the file -------------------------------------------

ARCHIVE = {f"top/{cls}/{i}.txt": bytes([i]) * 100 for cls in ("cats", "dogs") for i in range(3)}
LAYOUT = {"top/cats": 3, "top/dogs": 3}


def _damaged_zip() -> bytes:
    """A zip whose first member's bytes were changed after it was written (stored, no CRC fix)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for name, data in ARCHIVE.items():
            zf.writestr(name, data)
    data = bytearray(buf.getvalue())
    data[data.find(bytes([0]) * 100)] = 7
    return bytes(data)


def _left(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_cut_download_without_content_length_is_refused_then_next_mirror(served, tmp_path):
    good = zip_bytes(ARCHIVE)
    (served.root / "a.zip").write_bytes(good)
    (served.root / "b.zip").write_bytes(good)
    served.no_length.add("a.zip")
    served.cut_after["a.zip"] = len(good) // 2  # looks complete: no length to compare with
    remote = Remote("x.zip", (served.url("a.zip"), served.url("b.zip")), None, LAYOUT)
    dest = tmp_path / "dl" / "x.zip"
    assert download(remote, dest, progress=False).read_bytes() == good
    assert _left(dest.parent) == ["x.zip"]

    served.cut_after["a.zip"] = len(good) // 2
    only_cut = Remote("x.zip", (served.url("a.zip"),), None, LAYOUT)
    with pytest.raises(DataUnavailable) as err:
        download(only_cut, tmp_path / "cut" / "x.zip", progress=False)
    assert "not a complete zip archive" in str(err.value) and "\n" not in str(err.value)
    assert err.value.reason == "download unusable: not a complete zip archive"
    assert _left(tmp_path / "cut") == []  # the bad .part was deleted: the next run starts clean


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"<!DOCTYPE html><html><body>Quota exceeded</body></html>", "a web page, not the file"),
        (b"<?xml version='1.0'?><Error><Code>NoSuchKey</Code></Error>", "a web page"),
        (_damaged_zip(), "damaged zip archive: member top/cats/0.txt fails its CRC check"),
        (zip_bytes({"PetImages/Cat/0.jpg": b"x"}), "not the expected archive: top/cats/ holds 0 "
         "files, at least 3 expected (and 1 more folder); its top level: PetImages)"),
        (zip_bytes({"top/cats/0.txt": b"x", **{f"top/dogs/{i}.txt": b"x" for i in range(3)}}),
         "not the expected archive: top/cats/ holds 1 file, at least 3 expected; its top "
         "level: top)"),
        (b"", "empty file"),
    ],
)
def test_structural_check_of_an_archive_without_checksum(served, tmp_path, content, expected):
    (served.root / "x.zip").write_bytes(content)
    remote = Remote("x.zip", (served.url("x.zip"),), None, LAYOUT)
    with pytest.raises(DataUnavailable) as err:
        download(remote, tmp_path / "dl" / "x.zip", progress=False)
    assert expected in str(err.value) and "\n" not in str(err.value)
    assert _left(tmp_path / "dl") == []


def test_tar_archives_are_read_to_the_end(tmp_path: Path) -> None:
    good = _tar_bytes(ARCHIVE, "w:gz")
    remote = Remote("x.tar.gz", (), None, LAYOUT)
    path = tmp_path / "x.tar.gz"
    path.write_bytes(good)
    assert check_file(path, remote) is None
    path.write_bytes(good[: len(good) // 2])
    assert check_file(path, remote).short == "damaged tar archive"
    path.write_bytes(b"\x00" * 10)
    assert check_file(path, remote).short == "not a tar archive"


def test_bad_file_placed_by_hand_offline_says_expected_and_found(served, tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_OFFLINE", "1")
    dest = tmp_path / "blob.bin"
    dest.write_bytes(b"<html>sign in</html>")
    remote = Remote("blob.bin", (served.url("blob.bin"),), SHA)
    with pytest.raises(DataUnavailable) as err:
        download(remote, dest, progress=False)
    message = str(err.value)
    found = hashlib.sha256(b"<html>sign in</html>").hexdigest()
    assert f"expected {SHA.removeprefix('sha256:')}, found {found}" in message
    assert "it is a web page" in message and "moved aside to blob.bin.bad" in message
    assert "\n" not in message and served.requests == []
    assert err.value.reason == "file in the cache unusable: checksum mismatch"
    assert _left(tmp_path) == ["blob.bin.bad", "served"]


def test_bad_file_in_place_is_replaced_from_a_mirror(served, tmp_path, capsys) -> None:
    dest = tmp_path / "blob.bin"
    dest.write_bytes(PAYLOAD[:1000])
    remote = Remote("blob.bin", (served.url("blob.bin"),), SHA)
    assert download(remote, dest, progress=False).read_bytes() == PAYLOAD
    assert (tmp_path / "blob.bin.bad").read_bytes() == PAYLOAD[:1000]
    err = capsys.readouterr().err
    assert "moved aside to blob.bin.bad" in err and "a fresh copy was downloaded" in err


@pytest.mark.parametrize("form", ["plain", "home", "file-url"])
def test_classroom_mirror_may_be_a_plain_folder(lab_env, tmp_path, monkeypatch, form) -> None:
    folder = tmp_path / "course-data"
    folder.mkdir()
    (folder / "blob.bin").write_bytes(PAYLOAD)
    monkeypatch.setenv("HOME", str(tmp_path))
    value = {"plain": str(folder), "home": "~/course-data/", "file-url": folder.as_uri()}[form]
    monkeypatch.setenv("LAB_DATA_MIRROR", value)
    remote = Remote("blob.bin", (dead_url("blob.bin"),), SHA)
    assert candidate_urls(remote)[0] == (folder / "blob.bin").as_uri()
    assert download(remote, tmp_path / "dl" / "blob.bin", progress=False).read_bytes() == PAYLOAD
