"""Seconds per notebook of the quick course, and their total, on this machine and backend.

A benchmark, not a timed test: it runs each notebook headless in its own kernel in quick mode
(``helpers.course_run.execute``), with a fresh build and results folder in a temporary directory,
so nothing resumes from an earlier run and nothing is recorded; the data cache is the usual
one (on a first run, building the stand-ins into it adds to the times). The backend is the one
``import helpers`` picks (``LAB_BACKEND`` to choose).

    python benchmarks/course_time.py            # every notebook
    KERAS_BACKEND=jax .venv-jax/bin/python benchmarks/course_time.py 06 07
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import helpers  # noqa: F401  (picks the backend before anything else loads Keras)
from helpers import course_run, runtime


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", metavar="NOTEBOOK", help="e.g. 06 (default: all)")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per notebook")
    args = parser.parse_args(argv)
    paths = course_run.notebook_paths(args.notebooks)
    version = runtime.versions()
    name = runtime.backend()
    print(f"quick course on {name} {version[name]} (Keras {version['keras']}), "
          f"{os.cpu_count()} CPU cores", flush=True)
    failed, total = 0, 0.0
    with tempfile.TemporaryDirectory(prefix="course-time-") as scratch:
        os.environ.update(LAB_MODE="quick", LAB_BUILD=str(Path(scratch) / "build"),
                          LAB_RESULTS=str(Path(scratch) / "results"))
        for path in paths:
            outcome = course_run.execute(path, Path(scratch) / "executed", timeout=args.timeout)
            total += outcome.seconds
            failed += not outcome.ok
            state = "ok" if outcome.ok else f"FAILED: {outcome.error}"
            print(f"{path.stem:<36} {outcome.seconds:7.0f} s  {state}", flush=True)
    print(f"{'total':<36} {total:7.0f} s  ({len(paths)} notebooks on {name}"
          f"{f', {failed} failed' if failed else ''})")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
