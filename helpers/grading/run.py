"""A class graded: each submission in turn, in a temporary folder that is its home, watched;
feedback and the CSV written as it goes, the histogram at the end."""

from __future__ import annotations

import re
import shutil
import tempfile
import time
from pathlib import Path

from helpers import exercises, runtime
from helpers.grading import guard, kernel, report
from helpers.grading.handout import GradingError, Spec, first_line
from helpers.grading.kernel import Grade, Limits, Problem

DEFAULT_LIMITS = Limits()


def _safe(name: str) -> str:
    return re.sub(r"[^\w.-]", "_", name.replace("/", "__"))


def _grade_one(name: str, path: Path, spec: Spec, limits: Limits, tmp_root: Path,
               watches: list[guard.Watch], folder: Path) -> Grade:
    import nbformat

    start = time.monotonic()
    marks = Grade(name, {ex.key: 0.0 for ex in spec.exercises},
                  {ex.key: "not graded: its grading tests did not run" for ex in spec.exercises})
    try:
        nb = nbformat.reads(path.read_text(encoding="utf-8"), as_version=4)
    except Exception as err:  # not JSON, not a notebook, not UTF-8
        marks.problems.append(Problem("unreadable", "not a readable notebook: "
                                      f"{type(err).__name__}: {first_line(str(err))}"))
        marks.results = dict.fromkeys(marks.results, "not graded: the file is not a notebook")
        return marks
    prepared = kernel.prepare(nb, spec, tmp_root / "exercises.py")
    marks.problems += prepared.problems
    run = tmp_root / "run"
    shutil.rmtree(run, ignore_errors=True)
    work = run / "work"
    (work / "tmp").mkdir(parents=True)
    nbformat.write(nb, work / path.name)
    before = [watch.scan() for watch in watches]
    marks.problems += kernel.execute(prepared, work, run / "kernel.log", kernel.kernel_env(work),
                                     limits)
    for watch, state in zip(watches, before, strict=True):
        marks.problems += watch.settle(state, folder / "quarantine" / _safe(name))
    (folder / "executed").mkdir(parents=True, exist_ok=True)
    nbformat.write(prepared.nb, folder / "executed" / f"{_safe(name)}.ipynb")
    shutil.rmtree(run, ignore_errors=True)
    recorded = kernel.recorded(prepared)
    for ex in spec.exercises:
        if (record := recorded.get(ex.key)) is None:
            continue
        result = exercises.Result(ex.key, tuple(record["right"]), tuple(record["wrong"]),
                                  record["undefined"])
        total = len(result.right) + len(result.wrong)
        marks.scores[ex.key] = round(ex.points * len(result.right) / total, 3) if total else 0.0
        marks.results[ex.key] = result.line()
    marks.seconds = time.monotonic() - start
    return marks


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
          course: Path | None = None, progress: bool = True) -> list[Grade]:
    """Grade every notebook in ``submissions``; write ``out`` (CSV), beside it ``<out>.png``
    (histogram of the totals) and the folder ``<out>/`` (``feedback/``, ``executed/``, and
    ``quarantine/`` for what a submission wrote into watched folders)."""
    from tqdm import tqdm

    out = out.resolve()
    folder = out.with_suffix("")
    files = [(name, path) for name, path in submissions_in(submissions.resolve())
             if folder not in path.parents]
    (folder / "feedback").mkdir(parents=True, exist_ok=True)
    course = (course or runtime.project_root()).resolve()
    grades: list[Grade] = []
    with tempfile.TemporaryDirectory(prefix="lab-grading-") as tmp:
        tmp_root = Path(tmp).resolve()
        fixed = {"exercises.py": Path(exercises.__file__).read_bytes(),
                 "canary.txt": b"a submission that changes this wrote outside its folder\n"}
        for rel, data in fixed.items():
            (tmp_root / rel).write_bytes(data)
        ours = [out, out.with_suffix(".png"), folder]
        watches = guard.watches(tmp_root, fixed, course, submissions.resolve(), ours)
        bar = tqdm(files, desc=f"grading {spec.notebook}", unit="notebook", disable=not progress)
        for name, path in bar:
            bar.set_postfix_str(name)
            try:
                result = _grade_one(name, path, spec, limits, tmp_root, watches, folder)
            except Exception as err:  # the grader's own failure: say so, go on with the others
                result = Grade(name, {ex.key: 0.0 for ex in spec.exercises},
                               dict.fromkeys((ex.key for ex in spec.exercises), "not graded"),
                               [Problem("grader", f"the grader failed on this submission: "
                                        f"{type(err).__name__}: {first_line(str(err))}")])
            grades.append(result)
            (folder / "feedback" / f"{_safe(name)}.md").write_text(report.feedback(result, spec),
                                                                   encoding="utf-8")
            report.write_csv(out, grades, spec)
    report.histogram(out.with_suffix(".png"), grades, spec)
    return grades
