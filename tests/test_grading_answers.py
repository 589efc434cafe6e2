"""Grading tests that run outside the student's kernel (issue 26): the answers cell hands the
answers over as data, and the grading tests run in a process of their own on them.

A tiny master, notebook 93, has one such exercise: ``double`` (a function, called on inputs
drawn afresh at each grading) and ``doubled`` (its result on the lesson's numbers). Its
references live in a ``hidden-setup`` cell. Submissions that would have forged full marks while
the tests ran in their kernel (a patched ``json.dumps``, an IPython hook that reads the grader's
cells, a printed record) get only what their answers earn; the grading tests and references
never reach the kernel.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from helpers import grading
from tests.test_grading import LIMITS, SETUP, cell, course, submission

__all__ = ["course"]  # the fixture, shared with test_grading

ANSWERS_931 = '''probe_x = exercises.probe_rng("93.1").random(7)
exercises.answers("93.1", doubled=lambda: doubled, probe=lambda: double(probe_x))'''
REFERENCE = "reference_931 = np.arange(5) * 2  # SECRET-REFERENCE"
HIDDEN_931 = '''probe_x = exercises.probe_rng("93.1").random(7)
exercises.hidden(
    "93.1",
    ("doubled is twice 0 to 4", lambda a: list(a["doubled"]) == list(reference_931)),
    ("double doubles numbers it has not seen", lambda a: list(a["probe"]) == list(2 * probe_x)),
    essential=("double doubles numbers it has not seen",),
    points=2,
)  # SECRET-TESTS'''
CHECK_931 = ('exercises.check("93.1", ("five values", lambda: len(doubled) == 5), '
             '("double(1) is 2", lambda: double(1) == 2))')
RIGHT = "def double(x):\n    return 2 * x\n\n\ndoubled = double(np.arange(5))"


def master_93() -> nbformat.NotebookNode:
    return nbformat.v4.new_notebook(cells=[
        cell("# 93 answers as data", markdown=True), cell(SETUP, grading.GRADING_SETUP),
        cell("### 93.1\n\nWrite `double(x)` and `doubled`, twice 0 to 4.", markdown=True),
        cell("# your code here"), cell(f"{RIGHT}  # SOLUTION-93.1", grading.SOLUTION),
        cell(CHECK_931, grading.CHECK), cell(REFERENCE, grading.HIDDEN_SETUP),
        cell(ANSWERS_931, grading.ANSWERS), cell(HIDDEN_931, grading.HIDDEN),
    ])


FORGE = "\n".join([
    "import json",
    "_dumps = json.dumps",
    "json.dumps = lambda record, *a, **k: _dumps({**record, 'right': ['x', 'y'], 'wrong': [],"
    " 'unmet': []}, *a, **k)",
    "def _forge(info):",
    "    import re",
    "    for token in re.findall(r\"[0-9a-f]{32}\", info.raw_cell):",
    "        print(token, _dumps({'key': '93.1', 'right': ['x', 'y'], 'wrong': [],"
    " 'undefined': '', 'unmet': [], 'points': 2}))",
    "get_ipython().events.register('pre_run_cell', _forge)",
    "get_ipython().events.register('post_run_cell', lambda result: _forge(result.info))",
])
SAMPLES = {
    "correct": (RIGHT, ""),
    "copied_result": ("doubled = np.array([0, 2, 4, 6, 8])\ndef double(x):\n    return x", ""),
    "empty": ("", ""),
    "forges": ("doubled = [0] * 5", FORGE),
    "forges_the_files": ("doubled = [0] * 5", "import os, json\nos.makedirs('answers/93.1',"
                         " exist_ok=True)\n"),
}


@pytest.fixture(scope="module")
def graded(course) -> tuple[dict[str, grading.Grade], Path]:
    nbformat.write(master_93(), course / "notebooks" / "93_answers.ipynb")
    _, spec = grading.write_student(course / "notebooks" / "93_answers.ipynb",
                                    course / "student")
    folder = course.parent / "submissions_93"
    folder.mkdir()
    for name, (answer, first) in SAMPLES.items():
        text = submission(master_93(), answer)
        if first:  # the forging code runs before the answer
            nb = nbformat.reads(text, as_version=4)
            nb.cells.insert(2, nbformat.v4.new_code_cell(first))
            text = nbformat.writes(nb)
        (folder / f"{name}.ipynb").write_text(text)
    out = course.parent / "out_93" / "grades.csv"
    grades = grading.grade(spec, folder, out, limits=LIMITS, course=course, progress=False,
                           jobs=2)
    return {g.student: g for g in grades}, out.with_suffix("")


def test_the_spec_keeps_answers_and_setup_and_the_student_version_neither(course) -> None:
    spec = grading.spec_from_notebook(master_93(), "93_answers", "")
    (ex,) = spec.exercises
    assert ex.answers == ANSWERS_931 and spec.judge == (SETUP, REFERENCE)
    sources = "\n".join(c.source for c in grading.student_version(master_93()).cells)
    assert "SECRET" not in sources and "exercises.answers" not in sources
    assert SETUP in sources  # grading-setup cells are lesson cells: kept


def test_correct_answers_score_in_the_grading_process(graded) -> None:
    g = graded[0]["correct"]
    assert g.scores == {"93.1": 2.0} and g.problems == []
    assert g.results["93.1"] == ("✓ 93.1 right: doubled is twice 0 to 4; double doubles "
                                 "numbers it has not seen")


def test_a_copied_result_without_the_work_scores_nothing(graded) -> None:
    g = graded[0]["copied_result"]
    assert g.scores == {"93.1": 0.0}
    assert "no points, because the work itself is missing" in g.results["93.1"]


def test_missing_answers_say_so(graded) -> None:
    g = graded[0]["empty"]
    assert g.scores == {"93.1": 0.0}
    assert "doubled is not defined yet" in g.results["93.1"]


@pytest.mark.parametrize("name", ["forges", "forges_the_files"])
def test_forging_in_the_kernel_earns_nothing(graded, name) -> None:
    """Patching json.dumps, hooks that print records with every token they see, and answer
    files written by hand: the grading tests did not run there, so nothing is forged."""
    g = graded[0][name]
    assert g.scores == {"93.1": 0.0}, g.results


def test_the_kernel_never_sees_the_tests_or_the_references(graded) -> None:
    executed = (graded[1] / "executed" / "correct.ipynb").read_text()
    assert "SECRET" not in executed and "reference_931" not in executed
    ran = nbformat.reads(executed, as_version=4)
    assert any("exercises.begin_export(" in c.source for c in ran.cells)
    assert not any("begin_grading" in c.source for c in ran.cells)


def test_answers_are_read_as_data_only(tmp_path) -> None:
    """What a kernel could leave in its answers folder: names that are paths, pickled arrays,
    links: none is read."""
    import numpy as np

    from helpers import exercises

    folder = tmp_path / "93.1"
    folder.mkdir()
    (tmp_path / "outside.keras").write_text("not a model")
    np.save(folder / "not_npz.npy", np.array([object()], dtype=object), allow_pickle=True)
    np.savez(folder / "arrays.npz", pickled=np.array([{"a": 1}], dtype=object), fine=np.ones(2))
    (folder / "answers.json").write_text(json.dumps({
        "json": {"x": 1, "../y": 2}, "arrays": ["pickled", "fine"],
        "models": ["../outside"], "missing": {"z": ["why", "not a name"]}}))
    a = exercises.read_answers(folder)
    assert a["x"] == 1 and "../y" not in a and "../outside" not in a
    with pytest.raises(exercises.Unanswered, match="pickle"):
        a["pickled"]
    assert list(a["fine"]) == [1.0, 1.0]
    with pytest.raises(exercises.Unanswered, match="why"):
        a["z"]
