"""Building a folder in one step, and unpacking an archive into one (docs/architecture.md,
"Data and weights"): a temporary sibling, removed again if anything fails, renamed into place
at the end, so an interrupted build or unpack never leaves a half folder under its name; and
``one_at_a_time``, so two processes never build or download the same thing at once.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

from helpers.datasets.download import DataUnavailable

try:
    import fcntl
except ImportError:  # native Windows has no flock: builds and downloads there are not guarded
    fcntl = None


@contextlib.contextmanager
def one_at_a_time(dest: Path, waiting: Callable[[], object] | None = None) -> Iterator[None]:
    """Hold an exclusive lock on ``<dest name>.lock`` beside ``dest`` for the ``with`` block,
    waiting while another process holds it: two kernels (a parallel ``make run``, two notebooks
    open at once) preparing the same dataset, downloading the same file or pretraining the same
    backbone take turns instead of sharing one ``.tmp`` folder or ``.part`` file. ``waiting()``
    is called once before this process waits (to say so). An ``flock``: the system releases it
    when its process ends, however it ends. The lock file is removed at the block's end (the
    cache keeps only data); one left by a process that died is harmless, and taken over by the
    next. ``dest``'s folder must exist. Without ``fcntl`` (native Windows) nothing is locked."""
    if fcntl is None:
        yield
        return
    lock = dest.with_name(dest.name + ".lock")
    while True:
        fd = os.open(lock, os.O_RDONLY | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if waiting:
                waiting()
                waiting = None
            fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            if os.path.samestat(os.fstat(fd), os.stat(lock)):
                break
        except FileNotFoundError:
            pass
        os.close(fd)  # the holder removed this file while this process waited: lock anew
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)
        os.close(fd)  # closing releases the lock


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
