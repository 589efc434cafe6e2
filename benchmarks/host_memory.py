"""Peak host memory of each notebook's full-mode data path, against Colab's about 12.7 GB.

Runs each notebook as a dry run of full mode on this CPU (``LAB_DRYRUN=1``, stand-ins, random
weights, one training step per fit) with ``LAB_DRYRUN_DATA=full``: every image count, image
size and dataset of full mode is kept, only batches, epochs and grids are capped. Each notebook
runs in its own kernel; the kernel's peak resident memory is read from the operating system
when it exits (``getrusage`` of the finished child). Prints one line per notebook ending with
``peak_rss_mb N``. Where a stand-in holds fewer images than the real set (cats vs dogs,
flowers, CIFAR), the line says the counts the run held; a notebook that then fails (04 asks
for more images than its stand-in has) is run again at the dry run's own image caps, and the
line says so. 07's motor cores are synthetic in every mode, so its counts are full mode's
own. The first run of 07 draws 1,100 cores at 640 px into the cache.

    python benchmarks/host_memory.py            # every notebook
    python benchmarks/host_memory.py 07 06
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from helpers import course_run

LIMIT_MB = 10_000
"""The course's limit for a notebook's peak: Colab's about 12.7 GB of host RAM, less what the
runtime itself and the browser session take."""

_CHILD = """
import json, resource, sys
from pathlib import Path
from helpers import course_run
import nbformat
path, out = Path(sys.argv[1]), Path(sys.argv[2])
outcome = course_run.execute(path, out, timeout=int(sys.argv[3]))
peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # the kernel, once it exited
text = "".join(o.get("text", "") for c in nbformat.read(out / path.name, 4).cells
               if c.cell_type == "code" for o in c.get("outputs", []))
data = [line.split(None, 1)[1] for line in text.splitlines() if line.startswith("Data  ")]
print(json.dumps({"ok": outcome.ok, "error": outcome.error, "seconds": outcome.seconds,
                  "peak_mb": peak_kb / 1024, "data": data}))
"""


def measure(path: Path, work: Path, timeout: int, every_image: bool = True) -> dict:
    """Run one notebook's full-data dry run in a fresh process; its kernel's peak RSS in MB.
    ``every_image=False``: the dry run's own caps on image counts."""
    env = {**os.environ, "LAB_DRYRUN": "1", "LAB_MODE": "full",
           "LAB_DRYRUN_DATA": "full" if every_image else "",
           "LAB_OFFLINE": "1", "LAB_PROBE": "0", "LAB_BUILD": str(work / "build"),
           "LAB_RESULTS": str(work / "results")}
    done = subprocess.run([sys.executable, "-c", _CHILD, str(path), str(work / "out"),
                           str(timeout)], env=env, capture_output=True, text=True, check=False)
    lines = done.stdout.strip().splitlines()
    if done.returncode or not lines:
        return {"ok": False, "error": (done.stderr.strip().splitlines() or ["no output"])[-1],
                "seconds": 0.0, "peak_mb": 0.0, "data": []}
    return json.loads(lines[-1])


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", help="two-digit numbers (default: all)")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds per cell")
    args = parser.parse_args(argv)
    found = []
    with tempfile.TemporaryDirectory() as tmp:
        for path in course_run.notebook_paths(args.notebooks):
            m = measure(path, Path(tmp) / path.stem, args.timeout)
            state = "ok" if m["ok"] else f"FAILED ({m['error'][:80]})"
            if not m["ok"]:  # e.g. a stand-in holds fewer images than full mode asks for
                m = measure(path, Path(tmp) / f"{path.stem}-capped", args.timeout, False)
                state += (" with every image; rerun at the dry run's image caps: "
                          + ("ok" if m["ok"] else f"FAILED ({m['error'][:80]})"))
            verdict = "within" if m["peak_mb"] <= LIMIT_MB else "OVER"
            held = "; ".join(m["data"]) or "no data"
            print(f"{path.stem}: {state} in {m['seconds']:.0f} s, data held: {held}; "
                  f"{verdict} {LIMIT_MB:,} MB; peak_rss_mb {m['peak_mb']:.0f}", flush=True)
            found.append({"notebook": path.stem, **m})
    return found


if __name__ == "__main__":
    main()
