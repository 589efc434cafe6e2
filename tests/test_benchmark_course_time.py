"""benchmarks/course_time.py: one line per notebook with its seconds, CPU seconds and state, then
the total with the backend named and the kernels' CPU seconds (run here on a project of two tiny
notebooks, one busy for a second and a half of CPU time, one failing)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUSY = "import time\nstart = time.process_time()\nwhile time.process_time() - start < 1.5:\n    ..."


def _notebook(path: Path, source: str) -> None:
    cell = {"cell_type": "code", "execution_count": None, "id": "c1", "metadata": {},
            "outputs": [], "source": source}
    path.write_text(json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4,
                                "nbformat_minor": 5}))


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    project = tmp_path / "project"
    (project / "notebooks").mkdir(parents=True)
    (project / "helpers").mkdir()
    _notebook(project / "notebooks" / "01_fine.ipynb", BUSY)
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
    fine = re.match(r"01_fine\s+\d+ s\s+(\d+) s CPU  ok$", lines[1])
    assert fine and int(fine[1]) >= 2, lines[1]  # the busy loop's 1.5 s and the kernel's start
    assert re.match(r"02_broken\s+\d+ s\s+\d+ s CPU  FAILED: .*broken on purpose",
                    lines[2]), lines[2]
    assert re.match(r"total\s+\d+ s  \(2 notebooks on (tensorflow|jax), 1 failed\)$",
                    lines[3]), lines[3]
    cpu = re.match(r"CPU\s+(\d+) s  \(the kernels' user \+ system time; over (\d+) cores, at "
                   r"least (\d+) s of wall time\)$", lines[4])
    assert cpu, lines[4]
    assert int(cpu[1]) >= int(fine[1]) and int(cpu[2]) == os.cpu_count(), lines[4]
    assert abs(int(cpu[3]) - int(cpu[1]) / int(cpu[2])) <= 1, lines[4]


def test_two_at_a_time_also_prints_the_wall_time(tmp_path: Path) -> None:
    done = _run(tmp_path, "--jobs", "2")
    lines = done.stdout.strip().splitlines()
    assert done.returncode == 1, done.stderr[-2000:]
    assert [line.split()[0] for line in lines[1:]] == ["01_fine", "02_broken", "total", "wall",
                                                        "CPU"]
    assert re.match(r"01_fine\s+\d+ s  ok$", lines[1]), lines[1]  # CPU not per notebook here
    assert re.match(r"wall\s+\d+ s  \(2 at a time\)$", lines[4]), lines[4]
    assert int(lines[5].split()[1]) >= 2, lines[5]
