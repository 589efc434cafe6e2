"""Downloads: mirrors tried in order, checksums, resume of partial files, safe extraction.

DESIGN.md "Reliability": downloads are checksummed and resumable; a missing download fails with
one clear line naming the URL(s) and the path where the file can be placed by hand.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from http.client import HTTPException
from pathlib import Path

from tqdm.auto import tqdm

from helpers.config import offline

CHUNK = 1 << 16
RESUME_ATTEMPTS = 3


class DataUnavailable(RuntimeError):
    """A real file could not be had; the message is one line a student can act on."""


@dataclass(frozen=True)
class Remote:
    """One downloadable file: its name in the cache, mirrors in order, and ``algo:hexdigest``."""

    filename: str
    urls: tuple[str, ...]
    checksum: str | None = None


def candidate_urls(remote: Remote) -> list[str]:
    """``LAB_DATA_MIRROR`` (a classroom server holding the files by name) first, then the
    official mirrors in order."""
    mirror = os.environ.get("LAB_DATA_MIRROR", "").rstrip("/")
    return ([f"{mirror}/{remote.filename}"] if mirror else []) + list(remote.urls)


def file_digest(path: Path, algo: str) -> str:
    digest = hashlib.new(algo)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def checksum_ok(path: Path, checksum: str | None) -> bool:
    if checksum is None:
        return True
    algo, _, expected = checksum.partition(":")
    return file_digest(path, algo) == expected.lower()


def unavailable(remote: Remote, dest: Path, reasons: Mapping[str, str]) -> DataUnavailable:
    """One line: every URL with why it failed, and where to place the file by hand."""
    tried = " or ".join(f"{url} ({reasons[url]})" for url in candidate_urls(remote))
    return DataUnavailable(
        f"could not get {remote.filename} from {tried}. Download it by hand and place it at {dest}"
    )


def in_full_mode(err: DataUnavailable, fallback: str) -> DataUnavailable:
    """``err`` as full mode raises it: with quick mode named as the alternative."""
    return DataUnavailable(f"{err}, or run in quick mode (LAB_MODE=quick) to use {fallback}.")


def download(remote: Remote, dest: Path, timeout: float = 30.0, progress: bool = True) -> Path:
    """Fetch ``remote`` to ``dest`` (kept if already there and its checksum matches).

    Bytes arrive in ``dest.part``; an interrupted transfer is resumed with an HTTP Range request,
    on the next attempt or the next run. A checksum mismatch discards the file and tries the
    next mirror. Raises ``DataUnavailable`` when no mirror delivers.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.exists() and checksum_ok(dest, remote.checksum):
        return dest
    if offline():
        bad = f"; the file at {dest} fails its checksum" if dest.exists() else ""
        why = f"not tried: downloads are disabled, LAB_OFFLINE=1{bad}"
        raise unavailable(remote, dest, dict.fromkeys(candidate_urls(remote), why))
    part = dest.with_name(dest.name + ".part")
    reasons = {}
    for url in candidate_urls(remote):
        try:
            _fetch_with_resume(url, part, timeout, progress)
        except (urllib.error.URLError, HTTPException, OSError, ValueError) as err:
            reasons[url] = _reason(err)
            continue
        if not checksum_ok(part, remote.checksum):
            part.unlink()
            reasons[url] = "checksum mismatch"
            continue
        part.replace(dest)
        return dest
    raise unavailable(remote, dest, reasons)


def _fetch_with_resume(url: str, part: Path, timeout: float, progress: bool) -> None:
    for attempt in range(RESUME_ATTEMPTS):
        try:
            _fetch(url, part, timeout, progress)
            return
        except (HTTPException, ConnectionError, TimeoutError):
            if attempt == RESUME_ATTEMPTS - 1:
                raise


def _fetch(url: str, part: Path, timeout: float, progress: bool) -> None:
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "dl-course-helpers"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as err:
        if err.code == 416 and have:  # nothing left to send: the part is complete
            return
        raise
    with response:
        resumed = have and getattr(response, "status", None) == 206
        start = have if resumed else 0
        length = response.headers.get("Content-Length")
        total = start + int(length) if length else None
        with (
            open(part, "ab" if resumed else "wb") as out,
            tqdm(
                total=total,
                initial=start,
                unit="B",
                unit_scale=True,
                desc=part.name.removesuffix(".part"),
                disable=not progress,
                leave=False,
            ) as bar,
        ):
            for block in iter(lambda: response.read(CHUNK), b""):
                out.write(block)
                bar.update(len(block))
    if total is not None and part.stat().st_size < total:
        raise HTTPException(f"connection closed at {part.stat().st_size} of {total} bytes")


def _reason(err: BaseException) -> str:
    if isinstance(err, urllib.error.HTTPError):
        return f"HTTP {err.code}"
    if isinstance(err, urllib.error.URLError):
        return str(err.reason)
    return str(err) or type(err).__name__


def extract(archive: Path, dest: Path) -> Path:
    """Unpack a zip or tar(.gz) into ``dest`` (made fresh), refusing paths that leave it."""
    tmp = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            for name in zf.namelist():
                _inside(tmp, name)
            zf.extractall(tmp)
    elif tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tf:
            for member in tf.getmembers():
                _inside(tmp, member.name)
            if hasattr(tarfile, "data_filter"):
                tf.extractall(tmp, filter="data")
            else:
                tf.extractall(tmp)
    else:
        raise DataUnavailable(f"{archive} is neither a zip nor a tar archive")
    shutil.rmtree(dest, ignore_errors=True)
    tmp.replace(dest)
    return dest


def _inside(root: Path, name: str) -> None:
    target = (root / name).resolve()
    if root.resolve() not in (target, *target.parents):
        raise DataUnavailable(f"archive member {name!r} would be written outside {root}")
