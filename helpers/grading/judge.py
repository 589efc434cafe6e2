"""The grading tests of the exercises whose answers cross over as data, run in a process of
their own (issue 26, docs/grading.md).

The student's kernel runs each such exercise's answers cell, which writes the answers as files
(``helpers.exercises.answers``). When the submission's run has ended, a new kernel, started by
the grader and never by the submission, runs the course notebook's ``grading-setup`` and
``hidden-setup`` cells (what the tests compare with, recomputed from the notebook's inputs) and
then the grading tests, on those files. The hidden tests, the references and this process's
one-time token exist only here.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from helpers.grading.handout import Spec, first_line
from helpers.grading.kernel import (
    Limits,
    Prepared,
    Problem,
    execute,
    fresh_exercises,
    kernel_env,
    recorded,
)


def _notebook(spec: Spec, answers: Path, seed: int, token: str) -> Prepared:
    from nbformat.v4 import new_code_cell, new_notebook

    from helpers import exercises

    begin = new_code_cell("\n".join([
        "# Added by the grader: the grading tests read the answers the submission handed over.",
        *fresh_exercises(Path(exercises.__file__), "_lab_exercises"),
        f"_lab_exercises.begin_judging({str(answers)!r}, {seed}, {token!r})"]))
    again = "exercises = _lab_exercises  # added by the grader: whatever a cell above imported\n"
    setup = [new_code_cell(again + source) for source in spec.judge]
    graded = [ex for ex in spec.exercises if ex.answers]
    tests = [new_code_cell(again + ex.hidden) for ex in graded]
    nb = new_notebook(cells=[begin, *setup, *tests])
    labels = {0: "its start", **{1 + i: f"its setup cell {i + 1} ({first_line(source, 40)})"
                                 for i, source in enumerate(spec.judge)}}
    first = 1 + len(setup)
    labels |= {first + i: f"the grading tests of {ex.key}" for i, ex in enumerate(graded)}
    tokens = {first + i: (ex.key, token) for i, ex in enumerate(graded)}
    return Prepared(nb, labels, tokens, [])


def judge(spec: Spec, answers: Path, seed: int, work: Path, limits: Limits
          ) -> tuple[dict[str, dict[str, Any]], list[Problem]]:
    """The results of the grading tests of ``spec``'s exercises with answers cells, on the
    answers under ``answers`` (drawn with ``seed``), run in a new kernel in ``work``; what
    went wrong there (reason ``grader``: the course's tests or setup failed, not the
    submission)."""
    prepared = _notebook(spec, answers, seed, secrets.token_hex(16))
    (work / "tmp").mkdir(parents=True, exist_ok=True)
    found = execute(prepared, work, work / "kernel.log", kernel_env(work), limits)
    problems = [Problem("grader", f"the grading tests' own process: {p.message}")
                for p in found]
    return recorded(prepared), problems
