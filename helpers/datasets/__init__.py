"""Registry of the course's named datasets (docs/architecture.md, "Data and weights").

Each entry has a real loader (files downloaded with mirrors, verification and resume, then
arranged) and a deterministic stand-in written in the same on-disk layout, so notebook code is
the same either way. ``prepare(name, mode)`` decides which one a run uses:

* the real data, when it is already in the cache or can be downloaded and unpacked now;
* in quick mode only, otherwise the stand-in, and the reason is kept for the banner;
* in full mode, otherwise ``DataUnavailable``: one line naming the URL(s) and the cache path.

Either way it returns a ``Prepared``: one interface for every dataset (kind, class names,
counts, skipped files, ``load()`` or ``folder(split)``, ``summary()``), read from the
``manifest.json`` written into the prepared folder when it was built.

Dataset modules in this package register themselves on import; every module is imported here.
"""

from __future__ import annotations

import importlib
import os
import pickle
import pkgutil
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from helpers.datasets.download import (
    DataUnavailable,
    Remote,
    candidate_urls,
    download,
    error_text,
    in_full_mode,
    move_aside,
    one_line,
)
from helpers.datasets.folder import (
    DatasetError,
    FolderScan,
    copy_valid,
    scan_image_folder,
    skipped_text,
)
from helpers.datasets.manifest import MANIFEST, Manifest
from helpers.datasets.unpack import build_then_rename, one_at_a_time
from helpers.runtime import cache_dir, downloads_dir, ensure_writable

__all__ = [
    "DataUnavailable",
    "Dataset",
    "DatasetError",
    "FolderScan",
    "Manifest",
    "Prepared",
    "Remote",
    "copy_valid",
    "download_path",
    "fetch",
    "get",
    "names",
    "prepare",
    "register",
    "scan_image_folder",
    "status",
]

UNPACKED = "_unpacked"  # where builders unpack archives inside the folder being built
# What unpacking or reading a damaged, wrong or hostile file raises; each becomes one line.
UNPACK_ERRORS = (
    OSError,
    EOFError,
    ValueError,
    KeyError,
    IndexError,
    pickle.UnpicklingError,
    tarfile.TarError,
    zipfile.BadZipFile,
    zlib.error,
    DataUnavailable,
)
LISTED_CLASSES = 4  # a summary lists the count of each class up to this many classes


@dataclass(frozen=True)
class Dataset:
    """A registry entry.

    ``build_real(files, out)`` arranges the downloaded ``files`` (one per ``remotes`` entry) into
    ``out``; ``build_standin(out, seed)`` writes the stand-in into ``out`` in the same layout;
    both return the ``Manifest`` of what they wrote. ``load(root, **kwargs)``, for an array
    dataset, turns a prepared folder into arrays (``Prepared.load``); without it the dataset is
    a folder dataset (``Prepared.folder``). ``synthetic``: the generator is the dataset, in both
    modes.
    """

    name: str
    title: str
    document: str
    remotes: tuple[Remote, ...]
    build_real: Callable[[list[Path], Path], Manifest]
    build_standin: Callable[[Path, int], Manifest]
    load: Callable[..., Any] | None = None
    quick_download: bool = True
    real_label: str = "real"
    standin_label: str = "stand-in"
    synthetic: bool = False


@dataclass(frozen=True)
class Prepared:
    """A dataset ready on disk, with one interface for every dataset.

    ``kind`` is ``"real"``, ``"stand-in"`` or ``"synthetic"``; ``label`` the human-readable
    source; ``reason`` (short) why a stand-in was used and ``detail`` the full download error
    (both ``""`` for the real data). ``class_names``, ``counts`` (split -> class -> images),
    ``skipped`` (reason -> files skipped as unreadable) and ``info`` (facts particular to the
    dataset) come from the manifest written when the folder was built.
    """

    name: str
    kind: str
    label: str
    root: Path
    reason: str = ""
    detail: str = ""

    @cached_property
    def manifest(self) -> Manifest:
        return Manifest.read(self.root)

    @property
    def class_names(self) -> list[str]:
        return self.manifest.class_names

    @property
    def counts(self) -> dict[str, dict[str, int]]:
        return self.manifest.counts

    @property
    def skipped(self) -> dict[str, int]:
        return self.manifest.skipped

    @property
    def info(self) -> dict[str, Any]:
        return self.manifest.info

    @property
    def splits(self) -> list[str]:
        return list(self.counts)

    def load(self, **kwargs: Any) -> Any:
        """The arrays of an array dataset (MNIST, CIFAR: ``(x_train, y_train), (x_test,
        y_test)``; motor cores: ``MotorImages``, ``size=`` to resize)."""
        loader = get(self.name).load
        if loader is None:
            raise DatasetError(
                f"{self.name} is a folder dataset: use .folder(split), split one of "
                f"{', '.join(self.splits)}"
            )
        return loader(self.root, **kwargs)

    def folder(self, split: str) -> Path:
        """The folder of ``split`` with one subfolder per class, for a folder dataset."""
        if get(self.name).load is not None:
            raise DatasetError(f"{self.name} is an array dataset: use .load()")
        if split not in self.counts:
            raise DatasetError(
                f"{self.name} has no split {split!r}; it has {', '.join(self.splits)}"
            )
        return self.root / split

    def summary(self) -> str:
        """One line: ``cats_vs_dogs: real; train: cats 1000, dogs 1000; validation: cats 500,
        dogs 500; skipped 3 (2 truncated, 1 not an image)``."""
        parts = [f"{self.name}: {self.kind}" + (f" ({self.reason})" if self.reason else "")]
        parts += [f"{split}: {_class_counts(counts)}" for split, counts in self.counts.items()]
        if self.skipped:
            parts.append(skipped_text(self.skipped))
        return "; ".join(parts)

    def as_record(self) -> dict[str, Any]:
        """The structured provenance the results JSON keeps."""
        record: dict[str, Any] = {"kind": self.kind, "label": self.label, "reason": self.reason}
        if self.skipped:
            record["skipped"] = dict(self.skipped)
        return record

    def __str__(self) -> str:
        return f"{self.label} ({self.reason})" if self.reason else self.label


def _class_counts(counts: dict[str, int]) -> str:
    """``cats 1000, dogs 1000``; for many classes ``50000 images, 10 classes (5000 each)``."""
    if len(counts) <= LISTED_CLASSES:
        return ", ".join(f"{cls} {n}" for cls, n in counts.items())
    low, high = min(counts.values()), max(counts.values())
    each = f"{low} each" if low == high else f"{low}-{high} each"
    return f"{sum(counts.values())} images, {len(counts)} classes ({each})"


_REGISTRY: dict[str, Dataset] = {}


def register(dataset: Dataset) -> Dataset:
    _REGISTRY[dataset.name] = dataset
    return dataset


def get(name: str) -> Dataset:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown dataset {name!r}; known: {', '.join(names())}") from None


def names() -> list[str]:
    return sorted(_REGISTRY)


def _folder(name: str, kind: str) -> Path:
    return cache_dir() / name / kind


def download_path(remote: Remote) -> Path:
    """Where a downloaded file lives, and where a student may place it by hand."""
    return downloads_dir() / remote.filename


def _complete(folder: Path) -> bool:
    return (folder / MANIFEST).exists()


def _tmp(folder: Path) -> Path:
    return folder.with_name(folder.name + ".tmp")


def _build(folder: Path, build: Callable[[Path], Manifest]) -> Path:
    """Build into a temporary sibling, then rename (``unpack.build_then_rename``); the
    manifest, written last, marks the build complete, so an interrupted one is redone. One
    process at a time (``unpack.one_at_a_time``): one that waited for another (parallel notebook
    runs, two notebooks open at once) finds the folder built and uses it."""
    ensure_writable(folder.parent)
    with one_at_a_time(folder):
        if _complete(folder):
            return folder
        return build_then_rename(folder, lambda tmp: build(tmp).write(tmp))


def _kind(dataset: Dataset, real: bool) -> str:
    return "synthetic" if dataset.synthetic else ("real" if real else "stand-in")


def _unusable(dataset: Dataset, files: list[Path], err: Exception, tmp: Path) -> DataUnavailable:
    """One line for a failure while unpacking or reading the downloaded ``files``: the archive,
    the error without internal paths, what became of the file, and where a good copy goes."""
    text = str(err) if isinstance(err, (DatasetError, DataUnavailable)) else error_text(err)
    for inner in (tmp / UNPACKED, tmp):
        text = text.replace(f"{inner}{os.sep}", "").replace(str(inner), "the unpacked archive")
    why = one_line(text)
    if not files:
        return DataUnavailable(f"{dataset.name} could not be built: {why}", f"build failed: {why}")
    lines = []
    for remote, path in zip(dataset.remotes, files, strict=True):
        urls = " or ".join(candidate_urls(remote))
        if remote.checksum:
            lines.append(
                f"the file at {path} is the official copy from {urls} (its checksum matches), "
                "so it was kept"
            )
        else:
            bad = move_aside(path)
            lines.append(
                f"it was moved aside to {bad.name}, so the next run downloads it again from "
                f"{urls}; or place a good copy at {path}"
            )
    filenames = " and ".join(r.filename for r in dataset.remotes)
    return DataUnavailable(
        f"{filenames} could not be used: {why}; {'; '.join(lines)}", f"download unusable: {why}"
    )


def fetch(name: str, progress: bool = True) -> Prepared:
    """The real dataset, downloading, verifying and arranging it if needed; ``DataUnavailable``
    (one line) when it cannot be had or its files cannot be unpacked or read."""
    dataset = get(name)
    folder = _folder(name, "real")
    if not _complete(folder):
        files = [download(r, download_path(r), progress=progress) for r in dataset.remotes]
        try:
            _build(folder, lambda out: dataset.build_real(files, out))
        except UNPACK_ERRORS as err:
            raise _unusable(dataset, files, err, _tmp(folder)) from None
    return Prepared(name, _kind(dataset, True), dataset.real_label, folder)


def prepare(name: str, mode: str, seed: int = 0, standin: bool = False) -> Prepared:
    """The real dataset if it can be had, else (quick mode only) the stand-in; see module doc.

    Entries with ``quick_download=False`` (archives too large for a quick run) use the real data
    in quick mode only when it is already cached (``python -m helpers fetch NAME``).
    ``standin=True`` (a dry run) takes the stand-in without trying the real data.
    """
    dataset = get(name)
    if standin:
        reason, detail = "dry run", "a dry run checks shapes on the stand-in, never the real data"
    elif mode == "quick" and not dataset.quick_download and not _complete(_folder(name, "real")):
        reason = "real data not cached"
        detail = f"too large for a quick run's download: `python -m helpers fetch {name}` gets it"
    else:
        try:
            return fetch(name)
        except DataUnavailable as err:
            if mode != "quick":
                raise in_full_mode(err, "the built-in stand-in") from None
            reason = err.reason or "download failed"
            detail = str(err)
    folder = _folder(name, "standin")
    if not _complete(folder):
        _build(folder, lambda out: dataset.build_standin(out, seed))
    return Prepared(name, _kind(dataset, False), dataset.standin_label, folder, reason, detail)


def status(name: str) -> str:
    """Cache status for the CLI: which of real / stand-in is ready."""
    ready = [kind for kind in ("real", "standin") if _complete(_folder(name, kind))]
    return ", ".join(ready) + " cached" if ready else "not cached"


for _module in pkgutil.iter_modules(__path__):
    if _module.name not in ("download", "folder", "manifest"):
        importlib.import_module(f"{__name__}.{_module.name}")
