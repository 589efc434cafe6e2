"""A data cache this process cannot write (``LAB_CACHE`` on a classroom share): what it holds is
used; what must be written there stops with one line naming ``LAB_CACHE``; the course's own
caches (FLOP counts) go to the build folder instead (issue: reliability round 2)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from helpers import budget, datasets, runtime
from helpers.datasets.download import Remote, download


@pytest.fixture
def under_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``LAB_CACHE`` inside a regular file: no user, root included, can create it."""
    (tmp_path / "a_file").write_text("")
    cache = tmp_path / "a_file" / "cache"
    monkeypatch.setenv("LAB_CACHE", str(cache))
    monkeypatch.setenv("LAB_OFFLINE", "1")
    return cache


def test_building_into_an_unwritable_cache_says_so_in_one_line(under_a_file: Path) -> None:
    with pytest.raises(runtime.NotWritable) as caught:
        datasets.prepare("mnist", "quick")
    message = str(caught.value)
    assert "\n" not in message and "LAB_CACHE" in message and str(under_a_file) in message


def test_downloading_into_an_unwritable_cache_says_so_in_one_line(
        under_a_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAB_OFFLINE", "0")
    remote = Remote("x.tar.gz", ("http://127.0.0.1:9/x.tar.gz",))
    with pytest.raises(runtime.NotWritable, match="LAB_CACHE"):
        download(remote, under_a_file / "downloads" / "x.tar.gz", progress=False)


def test_the_course_caches_its_own_counts_elsewhere(under_a_file: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAB_BUILD", str(tmp_path / "build"))
    assert runtime.own_cache_dir() == tmp_path / "build" / "cache"
    monkeypatch.setenv("LAB_CACHE", str(tmp_path / "writable"))
    assert runtime.own_cache_dir() == tmp_path / "writable"


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in folder.rglob("*")}


def test_a_read_only_cache_that_holds_the_data_serves_it(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "classroom"
    monkeypatch.setenv("LAB_CACHE", str(cache))
    monkeypatch.setenv("LAB_BUILD", str(tmp_path / "build"))
    monkeypatch.setenv("LAB_OFFLINE", "1")
    datasets.prepare("mnist", "quick")  # the classroom's cache, filled once
    for path in (cache, *cache.rglob("*")):
        path.chmod(0o555 if path.is_dir() else 0o444)
    if os.geteuid() == 0:  # root writes through permissions (Colab, CI): the cache says no
        is_writable = runtime.writable
        monkeypatch.setattr(runtime, "writable", lambda folder: is_writable(folder) and not (
            folder == cache or cache in folder.parents))
    before = _snapshot(cache)
    try:
        budget.model_cost.cache_clear()
        assert datasets.prepare("mnist", "quick").kind == "stand-in"
        assert budget.model_cost("mnist_cnn", 28)[0] > 0
    finally:
        for path in (cache, *cache.rglob("*")):
            path.chmod(0o755 if path.is_dir() else 0o644)
    assert _snapshot(cache) == before, "nothing is written into a read-only cache"
    assert list((tmp_path / "build" / "cache" / "flops").glob("mnist_cnn@28-*.json"))
