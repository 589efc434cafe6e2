"""Downloads: mirrors tried in order, verification, resume of partial files, safe extraction.

Every file is verified before it is used (docs/architecture.md, "Data and weights"): by its
published checksum or, where none is published, by its structure (a web page is refused; an
archive must open, its members must pass their CRC, and ``Remote.layout``'s folders must hold
their minimum counts).
A download that fails verification is deleted before it becomes the file; a file already in
place that fails is moved aside to ``<file>.bad``. Either way the next mirror or the next run
starts clean, and a missing file fails with one line naming the URL(s), why each failed, and
the path where the file can be placed by hand.

A rehearsal (``LAB_REHEARSAL``, ``rehearsal()``) verifies the files it built by their own
digests instead, so that the real code paths run on them in CI.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tarfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from http.client import HTTPException
from pathlib import Path

from tqdm.auto import tqdm

from helpers import settings
from helpers.runtime import ensure_writable, offline

CHUNK = 1 << 16
RESUME_ATTEMPTS = 3
ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz")
REHEARSAL_DIGESTS = "checksums.json"  # in the LAB_REHEARSAL folder: file name -> algo:hexdigest
# The first bytes of a web page saved under a data file's name (an error or sign-in page).
WEB_PAGE_STARTS = (b"<!doctype html", b"<html", b"<?xml", b"<error")
ARCHIVE_ERRORS = (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, zlib.error)


class DataUnavailable(RuntimeError):
    """A real file could not be had or used; the message is one line a student can act on.

    ``reason`` is the short form for a banner: ``offline``, ``download failed``,
    ``download unusable: ...`` or ``file in the cache unusable: ...``.
    """

    def __init__(self, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Remote:
    """One downloadable file: its name in the cache, mirrors in order, ``algo:hexdigest``, and,
    for an archive without a published checksum, ``layout``: folder inside the archive ->
    the fewest files it must hold (anywhere below it)."""

    filename: str
    urls: tuple[str, ...]
    checksum: str | None = None
    layout: Mapping[str, int] | None = None


@dataclass(frozen=True)
class FileProblem:
    """Why a file is not a good copy: ``short`` for a banner, ``detail`` (expected vs found)."""

    short: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.short}: {self.detail}" if self.detail else self.short


def one_line(text: str) -> str:
    """``text`` with every run of whitespace (newlines included) as one space."""
    return " ".join(text.split())


def mirror_base(mirror: str) -> str:
    """``LAB_DATA_MIRROR`` as a URL: a plain folder path (``/srv/course-data``, ``~/data``)
    becomes its ``file://`` URL; a URL is kept."""
    mirror = mirror.strip()
    scheme = urllib.parse.urlsplit(mirror).scheme
    if len(scheme) < 2:  # no scheme, or a Windows drive letter
        return Path(mirror).expanduser().resolve().as_uri()
    return mirror.rstrip("/")


def candidate_urls(remote: Remote) -> list[str]:
    """``LAB_DATA_MIRROR`` (a classroom server or folder holding the files by name) first, then
    the official mirrors in order."""
    mirror = settings.text("LAB_DATA_MIRROR")
    own = [f"{mirror_base(mirror)}/{urllib.parse.quote(remote.filename)}"] if mirror else []
    return own + list(remote.urls)


def rehearsal() -> Path | None:
    """``LAB_REHEARSAL``: the folder ``python -m tests.rehearsal`` built (random weights and
    small archives in the published layouts, and ``checksums.json``, their digests), or None.

    Its files pass for the real ones, so a run using them must be a dry run (it records
    nothing) and must keep its cache and Keras home (``LAB_CACHE``, ``KERAS_HOME``) inside the
    folder: none of them ever reaches a real run's cache."""
    folder = settings.path("LAB_REHEARSAL")
    if folder is None:
        return None
    if not settings.flag("LAB_DRYRUN"):
        raise RuntimeError(f"LAB_REHEARSAL={folder} needs LAB_DRYRUN=1: its files are random")
    keras_home = os.environ.get("KERAS_HOME", "").strip()  # Keras's own variable
    for var, value in (("LAB_CACHE", settings.path("LAB_CACHE")),
                       ("KERAS_HOME", Path(keras_home).expanduser().resolve() if keras_home
                        else None)):
        if value is None or folder not in value.parents:
            raise RuntimeError(f"LAB_REHEARSAL={folder} needs {var} inside that folder, so "
                               "that its files never reach a real run's cache")
    return folder


def expected_checksum(remote: Remote) -> str | None:
    """The ``algo:hexdigest`` ``check_file`` verifies ``remote``'s file against: the published
    one, or in a rehearsal the rehearsal's own digest of the file it built."""
    folder = rehearsal()
    if folder is None:
        return remote.checksum
    digests = json.loads((folder / REHEARSAL_DIGESTS).read_text())
    return digests.get(remote.filename, remote.checksum)


def file_digest(path: Path, algo: str) -> str:
    digest = hashlib.new(algo)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _web_page(path: Path) -> bool:
    with open(path, "rb") as fh:
        head = fh.read(1024).lstrip().lower()
    return head.startswith(WEB_PAGE_STARTS)


def check_file(path: Path, remote: Remote) -> FileProblem | None:
    """Why ``path`` is not a good copy of ``remote``, or ``None``: its checksum where one is
    published (``expected_checksum``), else its structure (module docstring)."""
    page = " (it is a web page: an error or sign-in page saved under the file's name)"
    checksum = expected_checksum(remote)
    if checksum:
        algo, _, expected = checksum.partition(":")
        found = file_digest(path, algo)
        if found == expected.lower():
            return None
        note = page if _web_page(path) else ""
        return FileProblem("checksum mismatch", f"{algo} expected {expected}, found {found}{note}")
    if path.stat().st_size == 0:
        return FileProblem("empty file")
    if _web_page(path):
        return FileProblem("a web page, not the file",
                           "an error or sign-in page saved under its name")
    name = remote.filename.lower()
    if not name.endswith(ARCHIVE_SUFFIXES):
        return None
    return archive_problem(path, "zip" if name.endswith(".zip") else "tar", remote.layout or {})


def archive_problem(path: Path, kind: str, layout: Mapping[str, int]) -> FileProblem | None:
    """Why the ``kind`` (``zip`` or ``tar``) archive at ``path`` cannot be used: it does not
    open, a member is damaged (zip CRC, truncated data), or a ``layout`` folder holds too few
    files."""
    damaged = f"damaged {kind} archive"
    try:
        if kind == "zip":
            if not zipfile.is_zipfile(path):
                return FileProblem("not a complete zip archive",
                                   "truncated, or another kind of file")
            with zipfile.ZipFile(path) as zf:
                bad = zf.testzip()
                if bad is not None:
                    return FileProblem(damaged, f"member {bad} fails its CRC check")
                names = [info.filename for info in zf.infolist() if not info.is_dir()]
        else:
            try:
                tar = tarfile.open(path)
            except tarfile.ReadError:
                return FileProblem("not a tar archive", "truncated, or another kind of file")
            with tar:
                names = _tar_files(tar)
    except ARCHIVE_ERRORS as err:
        return FileProblem(damaged, error_text(err))
    return layout_problem(names, layout)


def _tar_files(tar: tarfile.TarFile) -> list[str]:
    """The regular files' names, each read to its end (a truncated member raises)."""
    names = []
    for member in tar:
        if member.isfile():
            with tar.extractfile(member) as fh:
                while fh.read(CHUNK):
                    pass
            names.append(member.name)
    return names


def layout_problem(names: list[str], layout: Mapping[str, int]) -> FileProblem | None:
    """Compare the archive's file ``names`` with ``layout`` (see ``Remote``)."""
    names = [name.removeprefix("./") for name in names]
    if not names:
        return FileProblem("empty archive", "it holds no files")
    short = []
    for folder, minimum in layout.items():
        prefix = folder.rstrip("/") + "/"
        found = sum(name.startswith(prefix) for name in names)
        if found < minimum:
            files = f"{found} file" + "s" * (found != 1)
            short.append(f"{prefix} holds {files}, at least {minimum} expected")
    if not short:
        return None
    others = len(short) - 1
    more = f" (and {others} more folder{'s' * (others > 1)})" if others else ""
    top = sorted({name.split("/")[0] for name in names})
    shown = ", ".join(top[:3]) + (", ..." if len(top) > 3 else "")
    return FileProblem("not the expected archive", f"{short[0]}{more}; its top level: {shown}")


def error_text(err: BaseException) -> str:
    """``BadZipFile: Bad CRC-32 for file 'x'``: the error's type and text, on one line."""
    return one_line(f"{type(err).__name__}: {err}" if str(err) else type(err).__name__)


def move_aside(path: Path) -> Path:
    """Rename ``path`` to ``<name>.bad`` (replacing an earlier one) and return the new path."""
    bad = path.with_name(path.name + ".bad")
    path.replace(bad)
    return bad


def unavailable(
    remote: Remote, dest: Path, reasons: Mapping[str, str], reason: str, local: str = ""
) -> DataUnavailable:
    """One line: every URL with why it failed, the bytes kept for the next try to resume from,
    what was wrong with a copy already at ``dest`` (``local``), and where to place the file by
    hand."""
    tried = " or ".join(f"{url} ({reasons[url]})" for url in candidate_urls(remote))
    part = dest.with_name(dest.name + ".part")
    if part.exists() and part.stat().st_size:
        tried += (f"; the {part.stat().st_size:,} bytes received are kept in {part.name}, and "
                  "the next try resumes from there")
    if local:
        advice = f". {local}: get a fresh copy from one of those URLs and place it at {dest}"
    else:
        advice = f". Download it by hand and place it at {dest}"
    return DataUnavailable(f"could not get {remote.filename} from {tried}{advice}", reason)


def in_full_mode(err: DataUnavailable, fallback: str) -> DataUnavailable:
    """``err`` as full mode raises it: with quick mode named as the alternative."""
    return DataUnavailable(
        f"{err}, or run in quick mode (LAB_MODE=quick) to use {fallback}.", err.reason
    )


def download(remote: Remote, dest: Path, timeout: float = 30.0, progress: bool = True) -> Path:
    """Fetch ``remote`` to ``dest``, verified (module docstring); a good ``dest`` is kept.

    Bytes arrive in ``dest.part``; an interrupted transfer is resumed with an HTTP Range request,
    on the next attempt or the next run. A ``.part`` that fails verification is deleted and the
    next mirror tried; a ``dest`` that fails is moved aside to ``dest.bad``, saying so. Raises
    ``DataUnavailable`` when no mirror delivers a good copy. One process at a time fetches
    ``dest`` (``unpack.one_at_a_time``: parallel notebook runs, two notebooks open at once); one
    that waited uses the copy the other fetched.
    """
    if offline():
        found = _set_aside_if_bad(dest, remote)
        if found is None:
            return dest  # nothing written: a read-only classroom cache serves it
        local, reason = found
        why = "not tried: downloads are disabled, LAB_OFFLINE=1"
        urls = candidate_urls(remote)
        raise unavailable(remote, dest, dict.fromkeys(urls, why), reason or "offline", local)
    if dest.exists() and check_file(dest, remote) is None:
        return dest  # as offline: no lock, nothing written
    ensure_writable(dest.parent)
    from helpers.datasets.unpack import one_at_a_time  # here: unpack imports this module

    with one_at_a_time(dest):
        found = _set_aside_if_bad(dest, remote)  # again: another process may have fetched it
        if found is None:
            return dest
        local, reason = found
        part = dest.with_name(dest.name + ".part")
        reasons = {}
        for url in candidate_urls(remote):
            try:
                _fetch_with_resume(url, part, timeout, progress)
            except (urllib.error.URLError, HTTPException, OSError, ValueError) as err:
                reasons[url] = _reason(err)
                continue
            problem = check_file(part, remote)
            if problem is not None:
                part.unlink()
                reasons[url] = str(problem)
                reason = reason or f"download unusable: {problem.short}"
                continue
            part.replace(dest)
            if local:
                print(f"{local}; a fresh copy was downloaded from {url}", file=sys.stderr)
            return dest
        raise unavailable(remote, dest, reasons, reason or "download failed", local)


def _set_aside_if_bad(dest: Path, remote: Remote) -> tuple[str, str] | None:
    """None when ``dest`` is a good copy; else, for ``unavailable`` and the log, what was wrong
    with the copy there, now moved aside (empty strings when there was none)."""
    if not dest.exists():
        return "", ""
    problem = check_file(dest, remote)
    if problem is None:
        return None
    ensure_writable(dest.parent)
    bad = move_aside(dest)
    return (f"The copy at {dest} was unusable ({problem}) and was moved aside to {bad.name}",
            f"file in the cache unusable: {problem.short}")


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
        return one_line(str(err.reason))
    return one_line(str(err)) or type(err).__name__
