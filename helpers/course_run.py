"""Headless execution of the notebooks into ``build/`` and the one-table summary (``make run``).

Each executed notebook trains what it shows: the artifacts (checkpoints, sweep rows, saved
models) of a notebook's last *finished* run are cleared before it runs again, while those of an
interrupted run are kept, so its sweeps resume where they stopped.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helpers import results, runtime

FINISHED = ".finished"


@dataclass
class RunOutcome:
    notebook: str
    ok: bool
    seconds: float
    error: str = ""
    noisy: list[str] = field(default_factory=list)  # ``noisy_outputs`` of the executed copy


NOISE = re.compile(r"Warning\b|WARNING|Traceback|cuInit|CUDA error|E0000 ")
"""What a student should never see in a cell's output: a warning, a traceback, a CUDA line."""


def noisy_outputs(nb: Any) -> list[str]:
    """``"cell N: <first noisy line>"`` for each executed code cell whose printed output
    (stdout, stderr) holds a warning, a traceback or a CUDA line (issue 22: none should); a
    cell that fails is the run's failure, reported as such."""
    found = []
    for number, cell in enumerate(nb.cells, start=1):
        if cell.cell_type != "code":
            continue
        for output in cell.get("outputs", []):
            text = output.get("text", "") if output.get("output_type") == "stream" else ""
            line = next((ln for ln in text.splitlines() if NOISE.search(ln)), None)
            if line:
                found.append(f"cell {number}: {line.strip()[:160]}")
                break
    return found


def notebook_paths(selected: Sequence[str] = ()) -> list[Path]:
    """The course notebooks in order; ``selected`` may name them by number or stem prefix."""
    folder = runtime.project_root() / "notebooks"
    paths = sorted(folder.glob("[0-9][0-9]_*.ipynb"))
    if not selected:
        return paths
    chosen = []
    for key in selected:
        matches = [p for p in paths if p.stem.startswith(key) or p.stem.startswith(key.zfill(2))]
        if not matches:
            known = ", ".join(p.stem for p in paths)
            raise SystemExit(f"no notebook matches {key!r}; the notebooks are: {known}")
        chosen += [p for p in matches if p not in chosen]
    return chosen


def execute(path: Path, out_dir: Path, timeout: int = 1800) -> RunOutcome:
    """Run one notebook top to bottom in its own folder; the executed copy goes to ``out_dir``,
    the kernel's own log (TensorFlow's start-up chatter, crashes) beside it as ``<name>.log``."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.time()
    error = ""
    with open(out_dir / f"{path.stem}.log", "w") as log:
        try:
            client.execute(stdout=log, stderr=log)
        except CellExecutionError as err:
            error = str(err).strip().splitlines()[-1] if str(err).strip() else "cell failed"
    nbformat.write(nb, out_dir / path.name)
    return RunOutcome(path.stem, not error, time.time() - start, error, noisy_outputs(nb))


def summary(outcomes: Sequence[RunOutcome], mode: str) -> str:
    """The table ``make run`` prints: notebook, mode, data, weights, headline metric, seconds."""
    rows = [("notebook", "mode", "data source", "weights source", "headline metric", "seconds")]
    for o in outcomes:
        saved = results.load(o.notebook, mode) if o.ok else None
        if saved:
            prov = saved["provenance"]
            metric = results.recorded_lesson(o.notebook, saved).headline or ""
            value = results.lookup(saved["metrics"], metric)
            shown = f"{metric} = {value:.4f}" if isinstance(value, float) else f"{metric} = {value}"
            rows.append(
                (
                    o.notebook,
                    mode,
                    results.source_kinds(prov["data"], "none"),
                    results.source_kinds(prov["weights"], "none"),
                    shown,
                    f"{o.seconds:.0f}",
                )
            )
        else:
            rows.append((o.notebook, mode, "-", "-", f"FAILED: {o.error}"[:80], f"{o.seconds:.0f}"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def run(selected: Sequence[str] = (), jobs: int = 1) -> int:
    """Execute notebooks (mode from ``LAB_MODE``, default quick here), ``jobs`` at a time, each
    in its own kernel, and print the summary in the notebooks' order.

    Side by side on a CPU, one notebook's single-threaded work (tracing a model, Python, imports)
    overlaps the other's arithmetic; the data cache lets one process at a time build a data set
    or download a file (``helpers.datasets``). Returns the number of notebooks that failed.
    """
    if jobs < 1:
        raise ValueError(f"jobs must be 1 or more, not {jobs}")
    os.environ.setdefault("LAB_MODE", "quick")
    # no one watches a headless run, and a saved notebook would keep a progress bar's first
    # state ("0%") as its text (tqdm reads TQDM_* variables as its defaults)
    os.environ.setdefault("TQDM_DISABLE", "1")
    mode = runtime.resolve_mode()
    out_dir = runtime.build_dir() / "notebooks" / mode
    paths = notebook_paths(selected)
    jobs = min(jobs, len(paths)) or 1
    start = time.monotonic()

    def one(path: Path) -> RunOutcome:
        artifacts = runtime.artifacts_root(path.stem, mode)
        if (artifacts / FINISHED).exists():
            shutil.rmtree(artifacts)  # the last run finished: this one trains afresh
        print(f"running {path.name} ({mode}) ...", flush=True)
        outcome = execute(path, out_dir)
        if outcome.ok:
            artifacts.mkdir(parents=True, exist_ok=True)
            (artifacts / FINISHED).touch()
        state = "ok" if outcome.ok else f"FAILED: {outcome.error}"
        lines = [f"  {path.stem}: {state} in {outcome.seconds:.0f} s -> {out_dir / path.name}"]
        lines += [f"  output to fix, {line}" for line in outcome.noisy]
        print("\n".join(lines), flush=True)
        return outcome

    pool = ThreadPoolExecutor(max_workers=jobs)  # each thread waits on its kernel
    try:
        outcomes = list(pool.map(one, paths))
    except KeyboardInterrupt:
        # The kernels run in their own sessions, out of Ctrl-C's reach, and the threads would
        # wait for them: end this process now; each kernel ends with it (it watches its
        # parent), and its fits' backups keep the finished epochs for the next run.
        print("\ninterrupted: the running notebooks stop with this process", flush=True)
        os._exit(130)
    pool.shutdown()
    print()
    print(summary(outcomes, mode))
    at_a_time = f", {jobs} at a time" if jobs > 1 else ""
    print(f"\n{len(paths)} notebooks in {time.monotonic() - start:.0f} s{at_a_time}")
    return sum(not o.ok for o in outcomes)
