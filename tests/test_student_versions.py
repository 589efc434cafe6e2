"""The committed student versions (``student/``, opened by the README's Colab links) are what
``python -m helpers student`` makes from the course notebooks: every exercise's check kept, no
solution or grading test in them, and none stale."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from helpers import grading

ROOT = Path(__file__).resolve().parents[1]
MASTERS = [path for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
           if grading.has_exercises(path)]


def test_every_notebook_has_exercises() -> None:
    assert len(MASTERS) == len(list((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")))


@pytest.mark.parametrize("master", MASTERS, ids=lambda p: p.stem)
def test_the_student_version_is_current_and_holds_no_solution(master: Path) -> None:
    committed = ROOT / "student" / master.name
    assert committed.exists(), f"run `python -m helpers student {master.stem[:2]}` and commit it"
    nb = nbformat.read(master, as_version=4)
    expected = grading.student_version(nb)
    student = nbformat.read(committed, as_version=4)
    assert [c.source for c in student.cells] == [c.source for c in expected.cells], (
        f"student/{master.name} is stale: run `python -m helpers student {master.stem[:2]}`")
    assert grading.solution_leaks(student, nb) == []
    tags = [set(c.metadata.get("tags", [])) for c in student.cells]
    assert not any(t & {grading.SOLUTION, grading.HIDDEN, grading.ANSWERS, grading.HIDDEN_SETUP}
                   for t in tags)
    spec = grading.spec_from_notebook(nb, master.stem, "")
    checks = [c.source for c in student.cells if grading.CHECK in c.metadata.get("tags", [])]
    assert len(checks) == len(spec.exercises) >= 2


@pytest.mark.parametrize("master", MASTERS, ids=lambda p: p.stem)
def test_every_exercise_hands_its_answers_over_as_data(master: Path) -> None:
    """No exercise's grading tests run in the student's kernel, where a submission could forge
    them (docs/grading.md, "Answers as data"): each has an answers cell, and the grading
    process has setup cells to run before its tests."""
    spec = grading.spec_from_notebook(nbformat.read(master, as_version=4), master.stem, "")
    assert [ex.key for ex in spec.exercises if not ex.answers] == []
    assert spec.judge
