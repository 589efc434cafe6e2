"""A class graded: submissions run a few at once (``jobs``), each in a temporary folder that is
its home, the shared folders watched; feedback, executed notebooks and the CSV written in the
submissions' order as they finish, the histogram at the end."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from helpers import exercises, runtime, weights
from helpers.grading import guard, judge, kernel, report, sandbox, submission
from helpers.grading.handout import GradingError, Spec, first_line
from helpers.grading.kernel import Grade, Limits, Problem

DEFAULT_LIMITS = Limits()


def default_jobs() -> int:
    """How many submissions ``grade`` runs at once unless told: the CPU cores."""
    return getattr(os, "process_cpu_count", os.cpu_count)() or 1


def _safe(name: str) -> str:
    return re.sub(r"[^\w.-]", "_", name.replace("/", "__"))


@dataclass
class _Watched:
    """The folders every submission must leave alone, their state as last settled, and the
    submissions running now, each with the problems found for it while it runs."""

    watches: list[guard.Watch]
    quarantine: Path
    states: list[dict[str, tuple[int, int]]] = field(default_factory=list)
    running: dict[str, list[Problem]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    hidden: list[Path] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)
    sandboxed: bool = False

    def kernel_manager(self, work: Path) -> type:
        """The kernel manager class whose kernels see nothing of ``hidden`` but ``kept`` (read
        only) and ``work``, the data cache and Keras home (writable)."""
        shared = [runtime.cache_dir(), weights.keras_models_dir().parent]
        return sandbox.kernel_manager_class(self.hidden, self.kept,
                                            [work, *(p for p in shared if p.is_dir())])

    def start(self, name: str) -> None:
        with self.lock:
            self.running[name] = []

    def settle(self, name: str) -> list[Problem]:
        """What changed since the last settle, put back; blamed on every submission that runs
        now (only ``name``, which ends, with one job), and the problems found for ``name``."""
        with self.lock:
            found: list[Problem] = []
            for i, watch in enumerate(self.watches):
                problems, self.states[i] = watch.settle(self.states[i],
                                                        self.quarantine / _safe(name))
                found += problems
            if found and len(self.running) > 1:
                note = (f" (seen while {len(self.running)} submissions ran at once: "
                        f"{', '.join(self.running)}; any of them may have done it: grade them "
                        "again with --jobs 1 to tell)")
                found = [Problem(p.reason, p.message + note) for p in found]
                for other in self.running:
                    if other != name:
                        self.running[other] += found
            return self.running.pop(name) + found


def _kept(course: Path, tmp_root: Path) -> list[Path]:
    """What a sandboxed kernel may read of the hidden folders: the course's ``helpers`` and
    Python environment, the student versions, and the grader's copy of ``exercises``."""
    import helpers

    return [path for path in (Path(helpers.__file__).parent, Path(sys.prefix), course / "student",
                              tmp_root / "exercises.py") if path.exists()]


def sandbox_note() -> str:
    """One line for the instructor: whether submissions run in the sandbox, and if not why."""
    if (why := sandbox.available()) is None:
        return ("sandbox: each kernel sees none of the course folder but helpers, its Python "
                "and student/, nor the submissions, the grades or the other kernels")
    return (f"sandbox: none ({why}); a submission can read the course folder (solutions, "
            "grading tests): grade untrusted work as a separate user (docs/grading.md)")


def _grade_one(name: str, path: Path, spec: Spec, limits: Limits, tmp_root: Path, run: Path,
               watched: _Watched) -> tuple[Grade, str | None]:
    """One submission's grade, and the notebook as it ran (JSON; None when it did not)."""
    import nbformat

    marks = Grade(name, {ex.key: 0.0 for ex in spec.exercises},
                  {ex.key: "not graded: its grading tests did not run" for ex in spec.exercises})
    try:
        nb = submission.read(path, limits.file_mib)
    except submission.Unreadable as err:
        marks.problems.append(Problem(err.reason, str(err)))
        what = "not a notebook" if err.reason == "unreadable" else "a malformed notebook"
        marks.results = dict.fromkeys(marks.results, f"not graded: the file is {what}")
        return marks, None
    seed = secrets.randbelow(2**31)
    work = run / "work"
    prepared = kernel.prepare(nb, spec, tmp_root / "exercises.py", work / "answers", seed)
    marks.problems += prepared.problems
    (work / "tmp").mkdir(parents=True)
    nbformat.write(nb, work / path.name)
    watched.start(name)
    try:
        manager = watched.kernel_manager(work) if watched.sandboxed else None
        marks.problems += kernel.execute(prepared, work, run / "kernel.log",
                                         kernel.kernel_env(work), limits, manager)
    finally:
        marks.problems += watched.settle(name)
        if (work / "answers").is_dir() and not (work / "answers").is_symlink():
            shutil.move(work / "answers", run / "answers")
        shutil.rmtree(work, ignore_errors=True)
        (run / "kernel.log").unlink(missing_ok=True)
    # Results come from the kernel only where the grading tests ran there (no answers cell).
    outside = {ex.key for ex in spec.exercises if ex.answers}
    recorded = {k: v for k, v in kernel.recorded(prepared).items() if k not in outside}
    if outside and (run / "answers").is_dir():
        judged, problems = judge.judge(spec, run / "answers", seed, run / "judge", limits)
        recorded |= {key: judged[key] for key in judged if key in outside}
        marks.problems += problems
        shutil.rmtree(run / "judge", ignore_errors=True)
    for ex in spec.exercises:
        if (record := recorded.get(ex.key)) is None:
            continue
        result = exercises.Result(ex.key, tuple(record["right"]), tuple(record["wrong"]),
                                  record["undefined"], tuple(record.get("unmet", ())))
        marks.scores[ex.key] = score(ex.points, result)
        marks.results[ex.key] = result.line()
    return marks, nbformat.writes(prepared.nb)


def score(points: float, result: exercises.Result) -> float:
    """An exercise's points: ``points`` times the share of its tests that pass, or 0 when an
    essential test (the work itself) fails."""
    total = len(result.right) + len(result.wrong)
    if result.unmet or not total:
        return 0.0
    return round(points * len(result.right) / total, 3)


def _timed(name: str, spec: Spec, task: Callable[[], tuple[Grade, str | None]]
           ) -> tuple[Grade, str | None]:
    """``task``'s result with its seconds; the grader's own failure as a grade that says so."""
    start = time.monotonic()
    try:
        marks, executed = task()
    except Exception as err:  # the grader's own failure: say so, go on with the others
        marks, executed = Grade(
            name, {ex.key: 0.0 for ex in spec.exercises},
            dict.fromkeys((ex.key for ex in spec.exercises), "not graded"),
            [Problem("grader", "the grader failed on this submission: "
                     f"{type(err).__name__}: {first_line(str(err))}")]), None
    marks.seconds = time.monotonic() - start
    return marks, executed


def _as_they_finish(tasks: Sequence[Callable[[], tuple[Grade, str | None]]], jobs: int
                    ) -> Iterator[tuple[int, tuple[Grade, str | None]]]:
    """(index, result) of each task as it finishes, ``jobs`` at a time (one: in this thread)."""
    if jobs == 1:
        yield from enumerate(task() for task in tasks)
        return
    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="grading") as pool:
        futures = {pool.submit(task): i for i, task in enumerate(tasks)}
        try:
            for future in as_completed(futures):
                yield futures[future], future.result()
        finally:  # interrupted: start no more (those running finish)
            for future in futures:
                future.cancel()


def submissions_in(folder: Path) -> list[tuple[str, Path]]:
    """The notebooks in ``folder`` (and its subfolders), each named by its path without the
    suffix: ``alice.ipynb`` is alice, ``alice/03.ipynb`` is alice/03."""
    if not folder.is_dir():
        raise GradingError(f"{folder} is not a folder")
    paths = sorted(p for p in folder.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    if not paths:
        raise GradingError(f"no notebooks (*.ipynb) in {folder}")
    return [(p.relative_to(folder).with_suffix("").as_posix(), p) for p in paths]


def grade(spec: Spec, submissions: Path, out: Path, *, limits: Limits = DEFAULT_LIMITS,
          course: Path | None = None, progress: bool = True, jobs: int | None = None
          ) -> list[Grade]:
    """Grade every notebook in ``submissions``, ``jobs`` at once (default: the CPU cores),
    each under ``limits``; write ``out`` (CSV), beside it ``<out>.png`` (histogram of the
    totals) and the folder ``<out>/`` (``feedback/``, ``executed/``, and ``quarantine/`` for
    what a submission wrote into watched folders)."""
    from tqdm import tqdm

    jobs = jobs or default_jobs()
    if jobs < 1:
        raise GradingError(f"jobs must be at least 1, not {jobs}")
    out = out.resolve()
    folder = out.with_suffix("")
    files = [(name, path) for name, path in submissions_in(submissions.resolve())
             if folder not in path.parents]
    (folder / "feedback").mkdir(parents=True, exist_ok=True)
    (folder / "executed").mkdir(parents=True, exist_ok=True)
    course = (course or runtime.project_root()).resolve()
    grades: list[Grade] = []
    with tempfile.TemporaryDirectory(prefix="lab-grading-") as tmp:
        tmp_root = Path(tmp).resolve()
        fixed = {"exercises.py": Path(exercises.__file__).read_bytes(),
                 "canary.txt": b"a submission that changes this wrote outside its folder\n"}
        for rel, data in fixed.items():
            (tmp_root / rel).write_bytes(data)
        runs = [tmp_root / f"run-{i}" for i in range(len(files))]
        for run in runs:
            run.mkdir()
        ours = [out, out.with_suffix(".png"), folder]
        watches = guard.watches(tmp_root, fixed, runs, course, submissions.resolve(), ours)
        watched = _Watched(watches, folder / "quarantine", [w.scan() for w in watches],
                           hidden=[course, submissions.resolve(), folder, tmp_root],
                           kept=_kept(course, tmp_root), sandboxed=sandbox.available() is None)
        tasks = [partial(_timed, name, spec, partial(_grade_one, name, path, spec, limits,
                                                      tmp_root, run, watched))
                 for (name, path), run in zip(files, runs, strict=True)]
        done: dict[int, tuple[Grade, str | None]] = {}
        with tqdm(total=len(files), desc=f"grading {spec.notebook}", unit="notebook",
                  disable=not progress) as bar:
            for index, result in _as_they_finish(tasks, min(jobs, len(files))):
                done[index] = result
                bar.set_postfix_str(files[index][0])
                bar.update()
                while len(grades) in done:  # in the submissions' order
                    marks, executed = done.pop(len(grades))
                    if executed is not None:
                        (folder / "executed" / f"{_safe(marks.student)}.ipynb").write_text(
                            executed, encoding="utf-8")
                    (folder / "feedback" / f"{_safe(marks.student)}.md").write_text(
                        report.feedback(marks, spec), encoding="utf-8")
                    grades.append(marks)
                    report.write_csv(out, grades, spec)
    report.histogram(out.with_suffix(".png"), grades, spec)
    return grades
