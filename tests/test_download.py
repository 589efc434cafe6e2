"""helpers.datasets.download against a local HTTP server: mirrors, checksums, resume, extraction."""

from __future__ import annotations

import hashlib
import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from helpers.datasets.download import DataUnavailable, Remote, download, extract
from tests.conftest import dead_url, tar_add

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
    with pytest.raises(DataUnavailable, match="checksum mismatch"):
        download(only_bad, tmp_path / "again.bin", progress=False)
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


def _zip_bytes(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _tar_bytes(files: dict[str, bytes], mode: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tf:
        for name, data in files.items():
            tar_add(tf, name, data)
    return buf.getvalue()


@pytest.mark.parametrize(
    "suffix, build",
    [
        ("zip", _zip_bytes),
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
    "suffix, build", [("zip", _zip_bytes), ("tar", lambda f: _tar_bytes(f, "w"))]
)
def test_extract_refuses_paths_outside_the_folder(tmp_path: Path, suffix, build) -> None:
    archive = tmp_path / f"evil.{suffix}"
    archive.write_bytes(build({"../escaped.txt": b"x"}))
    with pytest.raises(DataUnavailable, match="outside"):
        extract(archive, tmp_path / "out")
    assert not (tmp_path / "escaped.txt").exists()


def test_extract_refuses_other_files(tmp_path: Path) -> None:
    archive = tmp_path / "plain.bin"
    archive.write_bytes(b"just bytes")
    with pytest.raises(DataUnavailable, match="neither a zip nor a tar"):
        extract(archive, tmp_path / "out")
