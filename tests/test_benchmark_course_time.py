"""benchmarks/course_time.py: one line per notebook with its seconds and state, then the total
with the backend named (run here on a project of two tiny notebooks, one failing)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _notebook(path: Path, source: str) -> None:
    cell = {"cell_type": "code", "execution_count": None, "id": "c1", "metadata": {},
            "outputs": [], "source": source}
    path.write_text(json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4,
                                "nbformat_minor": 5}))


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    project = tmp_path / "project"
    (project / "notebooks").mkdir(parents=True)
    (project / "helpers").mkdir()
    _notebook(project / "notebooks" / "01_fine.ipynb", "print('ok')")
    _notebook(project / "notebooks" / "02_broken.ipynb", "raise ValueError('broken on purpose')")
    return subprocess.run([sys.executable, str(ROOT / "benchmarks" / "course_time.py"), *args],
                          capture_output=True, text=True, timeout=300, cwd=ROOT,
                          env={**os.environ, "LAB_HOME": str(project),
                               "LAB_CACHE": str(tmp_path / "cache")})


def test_prints_seconds_per_notebook_and_the_total(tmp_path: Path) -> None:
    done = _run(tmp_path)
    lines = done.stdout.strip().splitlines()
    assert done.returncode == 1, done.stderr[-2000:]
    assert re.match(r"quick course on (tensorflow|jax) \S+ \(Keras \S+\), \d+ CPU cores$",
                    lines[0]), lines[0]
    assert re.match(r"01_fine\s+\d+ s  ok$", lines[1]), lines[1]
    assert re.match(r"02_broken\s+\d+ s  FAILED: .*broken on purpose", lines[2]), lines[2]
    assert re.match(r"total\s+\d+ s  \(2 notebooks on (tensorflow|jax), 1 failed\)$",
                    lines[3]), lines[3]


def test_two_at_a_time_also_prints_the_wall_time(tmp_path: Path) -> None:
    done = _run(tmp_path, "--jobs", "2")
    lines = done.stdout.strip().splitlines()
    assert done.returncode == 1, done.stderr[-2000:]
    assert [line.split()[0] for line in lines[1:]] == ["01_fine", "02_broken", "total", "wall"]
    assert re.match(r"wall\s+\d+ s  \(2 at a time\)$", lines[4]), lines[4]
