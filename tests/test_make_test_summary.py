"""`make test`'s last line: the parts' wall seconds, their CPU seconds (the shell's `times`) and
that over the cores, then the exit status. Run here with `MAKE` standing in for the parts: a
command that keeps a core busy for 1.5 s of CPU time and exits with status 3."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUSY = ("import sys, time\nstart = time.process_time()\nwhile time.process_time() - start < 1.5:"
        "\n    ...\nsys.exit(3)")


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_the_last_line_gives_wall_and_cpu_seconds_and_the_parts_status(tmp_path: Path) -> None:
    parts = tmp_path / "parts.py"
    parts.write_text(BUSY)
    stamps = [tmp_path / "installed", tmp_path / "installed-jax"]  # up to date: nothing installs
    for stamp in stamps:
        stamp.touch()
        os.utime(stamp, (stamp.stat().st_atime, stamp.stat().st_mtime + 10 * 365 * 86400))
    done = subprocess.run(
        ["make", "--no-print-directory", "-C", str(ROOT), "test", f"MAKE={sys.executable} {parts}",
         f"STAMP={stamps[0]}", f"STAMP_JAX={stamps[1]}", f"JAX_TEST_CACHE={tmp_path / 'jax'}"],
        capture_output=True, text=True, timeout=120, env={**os.environ, "MAKEFLAGS": ""},
    )
    last = done.stdout.strip().splitlines()[-1]
    line = re.fullmatch(r"make test: the four parts took (\d+) s \(CPU (\d+) s; over (\d+) cores "
                        r"at least (\d+) s\), exit status 3", last)
    assert line, done.stdout + done.stderr
    wall, cpu, cores, floor = map(int, line.groups())
    assert cpu >= 1 and wall >= 1  # 1.5 s, rounded either way
    assert cores == len(os.sched_getaffinity(0)) and floor == cpu // cores  # nproc
    assert done.returncode != 0
