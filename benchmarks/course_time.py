"""Seconds per notebook of the quick course, and their total, on this machine and backend.

A benchmark, not a timed test: it runs each notebook headless in its own kernel in quick mode
(``helpers.course_run.execute``), with a fresh build and results folder in a temporary directory,
so nothing resumes from an earlier run and nothing is recorded; the data cache is the usual
one (on a first run, building the stand-ins into it adds to the times). The backend is the one
``import helpers`` picks (``LAB_BACKEND`` to choose).

Beside the seconds it prints the CPU seconds (user + system) of the notebooks' kernels, per
notebook when they run one at a time, and that total over the machine's cores: no order or
overlap of the same work finishes in less wall time, so it tells a change that cut work from one
that only moved it.

    python benchmarks/course_time.py            # every notebook, one at a time
    python benchmarks/course_time.py --jobs 2   # two at a time, as `make run` on 2 cores
    KERAS_BACKEND=jax .venv-jax/bin/python benchmarks/course_time.py 06 07
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import helpers  # noqa: F401  (picks the backend before anything else loads Keras)
from helpers import course_run, runtime


def cpu_seconds() -> float:
    """User + system CPU seconds of this process's children that have ended: the kernels."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", metavar="NOTEBOOK", help="e.g. 06 (default: all)")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per notebook")
    parser.add_argument("--jobs", type=int, default=1, help="notebooks at once, as `make run` "
                        "runs them (default 1: each notebook's own time, undisturbed)")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error("--jobs wants 1 or more")
    paths = course_run.notebook_paths(args.notebooks)
    version = runtime.versions()
    name = runtime.backend()
    print(f"quick course on {name} {version[name]} (Keras {version['keras']}), "
          f"{os.cpu_count()} CPU cores", flush=True)
    failed, total, start, cpu_start = 0, 0.0, time.monotonic(), cpu_seconds()
    with tempfile.TemporaryDirectory(prefix="course-time-") as scratch:
        os.environ.update(LAB_MODE="quick", LAB_BUILD=str(Path(scratch) / "build"),
                          LAB_RESULTS=str(Path(scratch) / "results"))

        def one(path: Path) -> tuple[course_run.RunOutcome, float]:
            before = cpu_seconds()  # one at a time, only this notebook's kernel ends meanwhile
            outcome = course_run.execute(path, Path(scratch) / "executed", timeout=args.timeout)
            return outcome, cpu_seconds() - before

        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            for path, (outcome, cpu) in zip(paths, pool.map(one, paths), strict=True):
                total += outcome.seconds
                failed += not outcome.ok
                state = "ok" if outcome.ok else f"FAILED: {outcome.error}"
                own_cpu = f"{cpu:7.0f} s CPU  " if args.jobs == 1 else ""
                print(f"{path.stem:<36} {outcome.seconds:7.0f} s  {own_cpu}{state}", flush=True)
    print(f"{'total':<36} {total:7.0f} s  ({len(paths)} notebooks on {name}"
          f"{f', {failed} failed' if failed else ''})")
    if args.jobs > 1:
        print(f"{'wall':<36} {time.monotonic() - start:7.0f} s  ({args.jobs} at a time)")
    cpu, cores = cpu_seconds() - cpu_start, os.cpu_count() or 1
    print(f"{'CPU':<36} {cpu:7.0f} s  (the kernels' user + system time; over {cores} cores, "
          f"at least {cpu / cores:.0f} s of wall time)")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
