"""Two processes preparing the same dataset, downloading the same file or pretraining the same
backbone at once (a parallel ``make run``, two notebooks open at once) take turns
(``unpack.one_at_a_time``): both get a good copy, built, fetched or trained once. The processes
are real (spawned, like a second kernel), kept for the module (each imports Keras once), and
start each task together at a barrier; a slow build, transfer or training (``STALL``) makes
sure the two overlap."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib
import io
import multiprocessing
import os
import time
from collections.abc import Callable, Iterator
from multiprocessing.pool import Pool
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from helpers import datasets, pretrain, runtime
from helpers.datasets import Dataset, Manifest, Remote
from helpers.datasets.download import download

STALL = 0.5  # seconds a build or a transfer takes here
WAIT = 120  # seconds at most for both workers to start (each imports Keras) and finish
PAYLOAD = bytes(range(256)) * 4096  # 1 MiB
SHA = "sha256:" + hashlib.sha256(PAYLOAD).hexdigest()

_together: Barrier  # set in each worker by ``_share``


def _share(barrier: Barrier) -> None:
    global _together
    _together = barrier


@pytest.fixture(scope="module")
def two_workers() -> Iterator[Pool]:
    context = multiprocessing.get_context("spawn")
    with context.Pool(2, initializer=_share, initargs=(context.Barrier(2),)) as pool:
        yield pool


def _at_once(pool: Pool, task: Callable[..., Any], *args: object) -> list[Any]:
    """``task(*args)`` in both workers, started together (each task waits at the barrier for
    the other, so the two run in different workers); their results."""
    pending = [pool.apply_async(task, args) for _ in range(2)]
    return [result.get(WAIT) for result in pending]


# --- in the workers ---------------------------------------------------------------------------

def _build_slowly(log: Path, out: Path, seed: int) -> Manifest:
    """A stand-in that takes ``STALL`` seconds and notes each build in ``log``."""
    with log.open("a") as notes:
        notes.write(f"built by {os.getpid()}\n")
    time.sleep(STALL)
    (out / "data.txt").write_text("the stand-in")
    return Manifest(["a"], {"train": {"a": 1}})


def _no_real_data(files: list[Path], out: Path) -> Manifest:
    raise AssertionError("the test prepares the stand-in only")


def _prepare(cache: str, log: str) -> str:
    os.environ["LAB_CACHE"] = cache
    datasets.register(Dataset("slow", "a slow stand-in", "", (), _no_real_data,
                              functools.partial(_build_slowly, Path(log))))
    _together.wait(WAIT)
    return str(datasets.prepare("slow", "quick", standin=True).root)


def _download(url: str, dest: str) -> str:
    os.environ["LAB_OFFLINE"] = "0"
    module = importlib.import_module("helpers.datasets.download")
    fetch = module._fetch

    def slow_network(*args: object) -> None:
        time.sleep(STALL)
        fetch(*args)

    with mock.patch.object(module, "_fetch", slow_network):
        _together.wait(WAIT)
        return str(download(Remote("blob.bin", (url,), SHA), Path(dest), progress=False))


def _pretrain(cache: str, log: str) -> tuple[str, str, str]:
    """``pretrain.ensure`` of a tiny VGG16 recipe whose training starts ``STALL`` seconds late
    and is noted in ``log``: the weights' path, their digest and what the process printed."""
    os.environ.update(LAB_CACHE=cache, LAB_OFFLINE="1")
    pretrain.RECIPES["VGG16"] = pretrain.Recipe("VGG16", 32, steps=2, batch=4, per_class=1)
    build = pretrain.build

    def slow_build(*args: object, **kwargs: object) -> pretrain.Pretrained:
        with Path(log).open("a") as notes:
            notes.write(f"trained by {os.getpid()}\n")
        time.sleep(STALL)
        return build(*args, **kwargs)

    printed = io.StringIO()
    with mock.patch.object(pretrain, "build", slow_build), contextlib.redirect_stdout(printed):
        _together.wait(WAIT)
        made = pretrain.ensure("VGG16", progress=False)
    return str(made.path), made.info["sha256"], printed.getvalue()


# --- the tests --------------------------------------------------------------------------------

def test_two_processes_preparing_one_dataset_build_it_once(two_workers, tmp_path) -> None:
    log = tmp_path / "builds.log"
    roots = _at_once(two_workers, _prepare, str(tmp_path / "cache"), str(log))
    folder = tmp_path / "cache" / "slow" / "standin"
    assert roots == [str(folder)] * 2
    assert len(log.read_text().splitlines()) == 1, log.read_text()
    assert (folder / "data.txt").read_text() == "the stand-in"
    assert sorted(p.name for p in folder.parent.iterdir()) == ["standin"]  # no .tmp, no .lock


def test_two_processes_downloading_one_file_fetch_it_once(two_workers, file_server,
                                                         tmp_path) -> None:
    (file_server.root / "blob.bin").write_bytes(PAYLOAD)
    dest = tmp_path / "downloads" / "blob.bin"
    assert _at_once(two_workers, _download, file_server.url("blob.bin"), str(dest)) == [
        str(dest)] * 2
    assert dest.read_bytes() == PAYLOAD
    assert file_server.requests == [("blob.bin", None)]  # one whole transfer, none resumed
    assert sorted(p.name for p in dest.parent.iterdir()) == ["blob.bin"]  # no .part, no .lock


def test_a_good_file_in_a_read_only_folder_is_served_without_a_lock(tmp_path, monkeypatch):
    dest = tmp_path / "classroom" / "blob.bin"
    dest.parent.mkdir()
    dest.write_bytes(PAYLOAD)
    monkeypatch.setattr(runtime, "writable", lambda folder: False)  # read-only, for root too
    monkeypatch.setenv("LAB_OFFLINE", "1")  # taking the lock would raise NotWritable first
    assert download(Remote("blob.bin", ("http://127.0.0.1:9/blob.bin",), SHA), dest) == dest
    assert [p.name for p in dest.parent.iterdir()] == ["blob.bin"]


def _download_over_a_bad_copy(url: str, dest: str) -> str:
    """``_download``, with the check of a file slowed down, so that both processes find the
    bad copy in place before either moves it aside."""
    module = importlib.import_module("helpers.datasets.download")
    check = module.check_file

    def slow_check(*args: object) -> object:
        time.sleep(STALL)
        return check(*args)

    with mock.patch.object(module, "check_file", slow_check):
        return _download(url, dest)


def test_two_processes_finding_one_bad_copy_replace_it_once(two_workers, file_server,
                                                           tmp_path) -> None:
    (file_server.root / "blob.bin").write_bytes(PAYLOAD)
    dest = tmp_path / "downloads" / "blob.bin"
    dest.parent.mkdir()
    dest.write_bytes(PAYLOAD[:1000])  # an interrupted copy, placed by hand
    assert _at_once(two_workers, _download_over_a_bad_copy, file_server.url("blob.bin"),
                    str(dest)) == [str(dest)] * 2
    assert dest.read_bytes() == PAYLOAD
    assert file_server.requests == [("blob.bin", None)]
    assert (dest.parent / "blob.bin.bad").read_bytes() == PAYLOAD[:1000]
    assert sorted(p.name for p in dest.parent.iterdir()) == ["blob.bin", "blob.bin.bad"]


def test_two_processes_pretraining_one_backbone_train_it_once(two_workers, tmp_path) -> None:
    """The second waits, says so, and loads the first one's weights."""
    log = tmp_path / "trainings.log"
    results = _at_once(two_workers, _pretrain, str(tmp_path / "cache"), str(log))
    assert len(log.read_text().splitlines()) == 1, log.read_text()
    (path, digest, _), (other_path, other_digest, _) = results
    assert path == other_path and digest == other_digest
    said = [printed for _, _, printed in results]
    assert sorted("VGG16: another process is pretraining it; waiting for its weights" in text
                  for text in said) == [False, True], said
    folder = Path(path).parent
    assert sorted(p.suffix for p in folder.iterdir()) == [".h5", ".json"]  # no .lock left
