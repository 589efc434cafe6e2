"""Shared fixtures: an isolated cache/results environment and a local HTTP file server.

No test touches the internet: real loaders are exercised against files served on 127.0.0.1.
"""

from __future__ import annotations

import dataclasses
import http.server
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from helpers.datasets.download import Remote

BACKEND_AGNOSTIC = {
    "test_benchmark_course_time", "test_cli", "test_concurrent_builds", "test_course_run",
    "test_datasets",
    "test_datasets_caltech", "test_datasets_cats_vs_dogs", "test_datasets_cifar",
    "test_datasets_faults", "test_datasets_flowers", "test_datasets_motor", "test_download",
    "test_evaluation", "test_exercises", "test_folder", "test_folder_faults", "test_grading",
    "test_grading_answers", "test_grading_sandbox",
    "test_histories", "test_make_test_summary", "test_nbval_settings", "test_notebooks",
    "test_plots", "test_pretrain_jobs",
    "test_readme", "test_readonly_cache", "test_rehearsal", "test_release", "test_results_faults",
    "test_settings", "test_student_versions", "test_sweeps", "test_synth_animals",
    "test_synth_motor", "test_synth_creatures", "test_synth_photos", "test_synth_sources",
    "test_verdicts",
}
"""Test modules without Keras computations (files, downloads, CSVs, grading, documentation), or
whose subject does not depend on the backend (test_pretrain_jobs: processes scheduled): marked
``backend_agnostic``, which the JAX half of ``make test`` deselects, so they run once."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.stem in BACKEND_AGNOSTIC:
            item.add_marker(pytest.mark.backend_agnostic)


@pytest.fixture(autouse=True)
def no_real_pretraining(monkeypatch: pytest.MonkeyPatch) -> None:
    """A unit test never trains one of ``helpers.pretrain``'s real recipes (minutes each): one
    that would fails at once, naming the fix (a small recipe in ``pretrain.RECIPES``)."""
    from helpers import pretrain

    real, build = dict(pretrain.RECIPES), pretrain.build

    def guarded(name: str, progress: bool = True) -> pretrain.Pretrained:
        if pretrain.RECIPES.get(name) is real.get(name):
            raise AssertionError(f"this test would pretrain {name} for minutes: set a small "
                                 "recipe with monkeypatch.setitem(pretrain.RECIPES, ...)")
        return build(name, progress)

    monkeypatch.setattr(pretrain, "build", guarded)


@pytest.fixture
def lab_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Cache, results and Keras home in ``tmp_path``; quick mode; no classroom mirror."""
    monkeypatch.setenv("LAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("LAB_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setenv("LAB_MODE", "quick")
    monkeypatch.delenv("LAB_DATA_MIRROR", raising=False)
    monkeypatch.delenv("LAB_OFFLINE", raising=False)
    return tmp_path


@dataclass
class FileServer:
    """Serves ``root`` on 127.0.0.1 with HTTP Range support; records every request.

    ``cut_after[name] = n`` makes the *first* response for ``name`` stop after ``n`` bytes
    (an interrupted transfer); ``fail[name] = code`` answers with that HTTP error;
    ``no_length`` names files served without a Content-Length header (so a cut transfer looks
    complete to the client).
    """

    root: Path
    port: int = 0
    requests: list[tuple[str, str | None]] = field(default_factory=list)
    cut_after: dict[str, int] = field(default_factory=dict)
    fail: dict[str, int] = field(default_factory=dict)
    no_length: set[str] = field(default_factory=set)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"


def _handler(server: FileServer) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            name = self.path.lstrip("/")
            rng = self.headers.get("Range")
            server.requests.append((name, rng))
            if name in server.fail:
                self.send_error(server.fail[name])
                return
            path = server.root / name
            if not path.is_file():
                self.send_error(404)
                return
            data = path.read_bytes()
            start = 0
            if rng and rng.startswith("bytes="):
                start = int(rng.removeprefix("bytes=").split("-")[0])
                if start >= len(data):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(data)}")
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            else:
                self.send_response(200)
            body = data[start:]
            if name not in server.no_length:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            cut = server.cut_after.pop(name, None)
            self.wfile.write(body if cut is None else body[:cut])
            if cut is not None:
                self.close_connection = True

    return Handler


@pytest.fixture
def file_server(tmp_path: Path) -> Iterator[FileServer]:
    """A local HTTP server over ``tmp_path / "served"``; put files there, fetch ``url(name)``."""
    root = tmp_path / "served"
    root.mkdir()
    server = FileServer(root)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(server))
    server.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield server
    httpd.shutdown()
    httpd.server_close()


def dead_url(name: str) -> str:
    """A URL on 127.0.0.1 where nothing listens (port 9 is 'discard', closed here)."""
    return f"http://127.0.0.1:9/{name}"


def replace_remote(monkeypatch: pytest.MonkeyPatch, name: str, remote: Remote) -> None:
    """Point registry entry ``name`` at ``remote`` for this test."""
    from helpers import datasets

    entry = datasets.get(name)
    monkeypatch.setitem(datasets._REGISTRY, name, dataclasses.replace(entry, remotes=(remote,)))
