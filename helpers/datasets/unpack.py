"""Building a folder in one step, and unpacking an archive into one (docs/architecture.md,
"Data and weights"): a temporary sibling, removed again if anything fails, renamed into place
at the end, so an interrupted build or unpack never leaves a half folder under its name.
"""

from __future__ import annotations

import shutil
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

from helpers.datasets.download import DataUnavailable


def build_then_rename(dest: Path, fill: Callable[[Path], object]) -> Path:
    """``fill(tmp)`` into ``dest.tmp`` (made fresh), removed again if it fails, then ``dest``
    replaced by it: an interrupted build never leaves a half folder under ``dest``'s name."""
    tmp = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        fill(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(dest, ignore_errors=True)
    tmp.replace(dest)
    return dest


def extract(archive: Path, dest: Path) -> Path:
    """Unpack a zip or tar(.gz) into ``dest`` (made fresh, ``build_then_rename``), refusing
    paths that leave it."""
    def unpack(tmp: Path) -> None:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                for name in zf.namelist():
                    _refuse_outside(tmp, name)
                zf.extractall(tmp)
        elif tarfile.is_tarfile(archive):
            with tarfile.open(archive) as tf:
                for member in tf.getmembers():
                    _refuse_outside(tmp, member.name)
                if hasattr(tarfile, "data_filter"):
                    tf.extractall(tmp, filter="data")
                else:
                    tf.extractall(tmp)
        else:
            raise DataUnavailable(f"{archive.name} is neither a zip nor a tar archive")
    return build_then_rename(dest, unpack)


def _refuse_outside(root: Path, name: str) -> None:
    target = (root / name).resolve()
    if root.resolve() not in (target, *target.parents):
        raise DataUnavailable(f"archive member {name!r} would be written outside the folder")
