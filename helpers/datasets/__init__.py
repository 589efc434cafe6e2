"""Registry of the course's named datasets (DESIGN.md, "Modes and data: never a silent substitute").

Each entry has a real loader (files downloaded with mirrors, checksum and resume, then arranged)
and a deterministic stand-in written in the same on-disk layout, so notebook code is the same
either way. ``prepare(name, mode)`` decides which one a run uses:

* the real data, when it is already in the cache or can be downloaded now;
* in quick mode only, otherwise the stand-in, and the reason is kept for the banner;
* in full mode, otherwise ``DataUnavailable``: one line naming the URL(s) and the cache path.

Dataset modules in this package register themselves on import; every module is imported here.
"""

from __future__ import annotations

import importlib
import pkgutil
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from helpers.config import cache_dir, offline
from helpers.datasets.download import DataUnavailable, Remote, download, in_full_mode
from helpers.datasets.folder import DatasetError, FolderScan, copy_valid, scan_image_folder

__all__ = [
    "DataUnavailable",
    "Dataset",
    "DatasetError",
    "FolderScan",
    "Prepared",
    "Remote",
    "copy_valid",
    "fetch",
    "get",
    "names",
    "prepare",
    "register",
    "scan_image_folder",
    "status",
]

COMPLETE = ".complete"


@dataclass(frozen=True)
class Dataset:
    """A registry entry.

    ``build_real(files, out)`` arranges the downloaded ``files`` (one per ``remotes`` entry) into
    ``out``; ``build_standin(out, seed)`` writes the stand-in into ``out`` in the same layout;
    ``load(root)``, if given, turns a prepared folder into arrays (``Prepared.load``).
    """

    name: str
    title: str
    document: str
    remotes: tuple[Remote, ...]
    build_real: Callable[[list[Path], Path], None]
    build_standin: Callable[[Path, int], None]
    load: Callable[[Path], Any] | None = None
    quick_download: bool = True
    real_label: str = "real"
    standin_label: str = "stand-in"


@dataclass(frozen=True)
class Prepared:
    """A dataset ready on disk: which source it is, where, and why a stand-in was used
    (``reason`` in short, ``detail`` the full download error for the banner)."""

    name: str
    source: str
    root: Path
    reason: str = ""
    detail: str = ""

    @property
    def is_real(self) -> bool:
        return self.source == get(self.name).real_label

    def load(self) -> Any:
        """The dataset's arrays (for array datasets such as MNIST), else its root folder."""
        loader = get(self.name).load
        return loader(self.root) if loader else self.root

    def __str__(self) -> str:
        return f"{self.source} ({self.reason})" if self.reason else self.source


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
    return cache_dir() / "downloads" / remote.filename


def _complete(folder: Path) -> bool:
    return (folder / COMPLETE).exists()


def _build(folder: Path, build: Callable[[Path], None]) -> Path:
    """Build into a temporary sibling and rename, so an interrupted build is simply redone."""
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    build(tmp)
    (tmp / COMPLETE).touch()
    shutil.rmtree(folder, ignore_errors=True)
    tmp.replace(folder)
    return folder


def fetch(name: str, progress: bool = True) -> Prepared:
    """The real dataset, downloading and arranging it if needed; ``DataUnavailable`` otherwise."""
    dataset = get(name)
    folder = _folder(name, "real")
    if not _complete(folder):
        files = [download(r, download_path(r), progress=progress) for r in dataset.remotes]
        _build(folder, lambda out: dataset.build_real(files, out))
    return Prepared(name, dataset.real_label, folder)


def prepare(name: str, mode: str, seed: int = 0) -> Prepared:
    """The real dataset if it can be had, else (quick mode only) the stand-in; see module doc.

    Entries with ``quick_download=False`` (archives too large for a quick run) use the real data
    in quick mode only when it is already cached (``python -m helpers fetch NAME``).
    """
    dataset = get(name)
    detail = ""
    if mode == "quick" and not dataset.quick_download and not _complete(_folder(name, "real")):
        reason = "real data not cached"
        detail = f"too large for a quick run's download: `python -m helpers fetch {name}` gets it"
    else:
        try:
            return fetch(name)
        except DataUnavailable as err:
            if mode == "full":
                raise in_full_mode(err, "the built-in stand-in") from None
            reason = "offline" if offline() else "download failed"
            detail = str(err)
    folder = _folder(name, "standin")
    if not _complete(folder):
        _build(folder, lambda out: dataset.build_standin(out, seed))
    return Prepared(name, dataset.standin_label, folder, reason, detail)


def status(name: str) -> str:
    """Cache status for the CLI: which of real / stand-in is ready."""
    ready = [kind for kind in ("real", "standin") if _complete(_folder(name, kind))]
    return ", ".join(ready) + " cached" if ready else "not cached"


for _module in pkgutil.iter_modules(__path__):
    if _module.name not in ("download", "folder"):
        importlib.import_module(f"{__name__}.{_module.name}")
