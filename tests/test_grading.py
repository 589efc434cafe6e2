"""helpers.grading: student versions, and grading sample submissions of two tiny notebooks.

The course notebooks train models for minutes; these two masters are a few lines of NumPy,
with the same cell layout (answer, ``solution``, ``check``, ``hidden-tests``). Their first cell
imports ``helpers/exercises.py`` on its own, so a kernel starts in a second. Each submission
is graded in its own kernel: fully correct, partly wrong, empty, raising, looping (interrupted,
and not interruptible), out of memory, a dying kernel, edited and deleted checks, writes outside
its folder, and a file that is not a notebook. The grade of each is asserted.
"""

from __future__ import annotations

import csv
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from helpers import __main__ as cli
from helpers import exercises, grading

SETUP = f"""import sys

sys.path.insert(0, {str(Path(exercises.__file__).parent)!r})
import exercises  # helpers/exercises.py alone: the course notebooks import it from helpers
import numpy as np"""
ANSWER = "# your code here"
LIMITS = grading.Limits(notebook_seconds=20, cell_seconds=2, memory_gib=2)


def cell(source: str, *tags: str, markdown: bool = False) -> nbformat.NotebookNode:
    made = new_markdown_cell(source) if markdown else new_code_cell(source)
    if tags:
        made.metadata["tags"] = list(tags)
    return made


def exercise(key: str, text: str, solution: str, check: str, hidden: str) -> list:
    return [cell(f"### {key}\n\n{text}", markdown=True), cell(ANSWER),
            cell(f"{solution}  # SOLUTION-{key}", grading.SOLUTION),
            cell(check, grading.CHECK), cell(hidden, grading.HIDDEN)]


CHECK_911 = """exercises.check(
    "91.1",
    ("ten values", lambda: len(squares) == 10),
    ("the squares of 0 to 9", lambda: list(squares) == [i * i for i in range(10)]),
)"""
CHECK_912 = 'exercises.check("91.2", ("the mean of the squares", lambda: mean_square == 28.5))'
CHECK_921 = 'exercises.check("92.1", ("ascending", lambda: list(ordered) == [1, 3, 5, 8]))'


def master_91(solution_911: str = "squares = np.arange(10) ** 2") -> nbformat.NotebookNode:
    return new_notebook(cells=[
        cell("# 91 arrays", markdown=True), cell(SETUP),
        *exercise("91.1", "Make `squares`: the squares of 0 to 9.", solution_911, CHECK_911,
                  'exercises.hidden("91.1", ("a NumPy array", '
                  "lambda: isinstance(squares, np.ndarray)))"),
        *exercise("91.2", "Make `mean_square`, their mean.",
                  "mean_square = float(np.mean(squares))", CHECK_912,
                  'exercises.hidden("91.2", ("a float", lambda: isinstance(mean_square, float)), '
                  "points=2)"),
    ])


def master_92() -> nbformat.NotebookNode:
    return new_notebook(cells=[
        cell("# 92 lists", markdown=True), cell(SETUP),
        *exercise("92.1", "Sort 5, 3, 8, 1 into `ordered`.", "ordered = sorted([5, 3, 8, 1])",
                  CHECK_921, 'exercises.hidden("92.1")'),
        *exercise("92.2", "Their sum: `total`.", "total = sum(ordered)",
                  'exercises.check("92.2", ("the sum", lambda: total == 17))',
                  'exercises.hidden("92.2", ("an int", lambda: isinstance(total, int)))'),
    ])


def submission(master: nbformat.NotebookNode, *answers: str, extra: str = "",
               check_edits: dict[str, str | None] | None = None) -> str:
    """The student version with ``answers`` in its answer cells, ``extra`` as a last cell,
    and check cells replaced (a source) or deleted (None)."""
    nb = grading.student_version(master)
    slots = [c for c in nb.cells if c.source == ANSWER]
    for key, source in (check_edits or {}).items():
        (found,) = [c for c in nb.cells if f'check(\n    "{key}"' in c.source
                    or f'check("{key}"' in c.source]
        if source is None:
            nb.cells.remove(found)
        else:
            found.source = source
    for slot, answer in zip(slots, answers, strict=False):
        slot.source = answer
    if extra:
        nb.cells.append(new_code_cell(extra))
    return nbformat.writes(nb)


RIGHT_91 = ("squares = np.arange(10) ** 2", "mean_square = float(np.mean(squares))")


def OUTSIDE(course: Path) -> str:  # noqa: N802 (a constant of the course folder)
    """A last cell that writes beside its folder, in it, and into the course folder."""
    return (f"open('../escaped.txt', 'w').write('x')\nopen('inside.txt', 'w').write('x')\n"
            f"import os\nos.remove({str(course / 'README.md')!r})\n"
            f"open({str(course / 'notebooks' / '91_arrays.ipynb')!r}, 'w').write('{{}}')")


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A course folder holding the two masters, with the grading's environment pointing at
    it; its data cache and Keras home are empty folders beside it."""
    root = tmp_path_factory.mktemp("grading")
    course = root / "course"
    (course / "notebooks").mkdir(parents=True)
    (course / "helpers").mkdir()
    (course / "README.md").write_text("the course\n")
    nbformat.write(master_91(), course / "notebooks" / "91_arrays.ipynb")
    nbformat.write(master_92(), course / "notebooks" / "92_lists.ipynb")
    for folder in ("cache", "keras"):
        (root / folder).mkdir()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LAB_HOME", str(course))
        mp.setenv("LAB_BUILD", str(course / "build"))
        mp.setenv("LAB_CACHE", str(root / "cache"))
        mp.setenv("KERAS_HOME", str(root / "keras"))
        mp.delenv("LAB_DATA_MIRROR", raising=False)
        yield course


def test_student_version_has_no_solution_text_and_keeps_the_checks(course, capsys) -> None:
    assert cli.main(["student", "--out", str(course / "student")]) == 0
    out = capsys.readouterr().out
    assert "91_arrays.ipynb: 2 exercises (91.1, 91.2)" in out
    assert "92_lists.ipynb: 2 exercises (92.1, 92.2)" in out
    master = nbformat.read(course / "notebooks" / "91_arrays.ipynb", as_version=4)
    text = (course / "student" / "91_arrays.ipynb").read_text()
    student = nbformat.reads(text, as_version=4)
    assert "SOLUTION-" not in text and "exercises.hidden" not in text
    assert "np.arange(10) ** 2" not in text and "float(np.mean(squares))" not in text
    assert [c.source for c in student.cells] == [
        c.source for c in master.cells if not grading.tags(c) & {"solution", "hidden-tests"}]
    assert [c.source for c in student.cells if "check" in grading.tags(c)] == [
        CHECK_911, CHECK_912]
    assert sum(c.source == ANSWER for c in student.cells) == 2
    spec = grading.Spec.from_json((course / "build" / "grading" / "91_arrays.json").read_text())
    assert [(ex.key, ex.points, ex.check) for ex in spec.exercises] == [
        ("91.1", 1.0, CHECK_911), ("91.2", 2.0, CHECK_912)]


def test_leaks_and_unpaired_checks_are_found() -> None:
    leaky = master_91()
    leaky.cells.append(cell("squares = np.arange(10) ** 2  # shown again"))
    assert grading.solution_leaks(grading.student_version(leaky), leaky) == [
        "squares = np.arange(10) ** 2  # SOLUTION-91.1"]
    assert grading.solution_leaks(grading.student_version(master_91()), master_91()) == []
    nb = master_91()
    nb.cells = [c for c in nb.cells if "hidden-tests" not in grading.tags(c)
                or "91.2" not in c.source]
    with pytest.raises(grading.GradingError, match="91.2 has only one"):
        grading.spec_from_notebook(nb, "91_arrays", "")
    nb = master_91()
    nb.cells[5].source += '\nexercises.check("91.3")'
    with pytest.raises(grading.GradingError, match="exactly one exercises.check"):
        grading.spec_from_notebook(nb, "91_arrays", "")


def test_a_solution_line_left_in_a_kept_cell_is_refused(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("LAB_BUILD", str(tmp_path / "build"))
    nb = master_91()
    nb.cells.append(cell("mean_square = float(np.mean(squares))"))
    nbformat.write(nb, tmp_path / "91_arrays.ipynb")
    with pytest.raises(grading.GradingError, match="mean_square = float"):
        grading.write_student(tmp_path / "91_arrays.ipynb", tmp_path / "student")


@pytest.fixture(scope="module")
def nbval_run(course) -> subprocess.Popen[str]:
    """nbval over two good masters and one with a wrong solution, in a process of its own
    that runs while the submissions are graded."""
    folder = course.parent / "nbval"
    folder.mkdir()
    nbformat.write(master_91(), folder / "good_91.ipynb")
    nbformat.write(master_92(), folder / "good_92.ipynb")
    nbformat.write(master_91("squares = [i * i for i in range(10)]"), folder / "bad_91.ipynb")
    return subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax",
         "good_91.ipynb", "good_92.ipynb", "bad_91.ipynb"],
        cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


@pytest.fixture(scope="module")
def grades_91(course, nbval_run) -> dict[str, grading.Grade]:
    """Seven submissions of notebook 91, graded through the API with the spec handed out."""
    folder = course.parent / "submissions_91"
    folder.mkdir()
    master = master_91()
    right = RIGHT_91
    outside = OUTSIDE(course)
    samples = {
        "correct": submission(master, *right),
        "partly_wrong": submission(master, "squares = np.arange(1, 11) ** 2", right[1]),
        "empty": submission(master),
        "raises": submission(master, right[0], "mean_square = float(np.mean(squares)) / 0"),
        "loops": submission(master, right[0] + "\nwhile True:\n    pass", right[1]),
        "tampers": submission(master, "squares = [0] * 10", "mean_square = 28.5", check_edits={
            "91.1": 'exercises.check("91.1", ("ten values", lambda: True))', "91.2": None}),
        "outside": submission(master, *right, extra=outside),
    }
    for name, text in samples.items():
        (folder / f"{name}.ipynb").write_text(text)
    _, spec = grading.write_student(course / "notebooks" / "91_arrays.ipynb", course / "student")
    grades = grading.grade(spec, folder, course.parent / "out_91" / "grades.csv",
                           limits=LIMITS, course=course, progress=False, jobs=1)
    return {g.student: g for g in grades}


def reasons(grade: grading.Grade) -> list[str]:
    return [p.reason for p in grade.problems]


def test_correct_submission_gets_full_marks(grades_91) -> None:
    g = grades_91["correct"]
    assert g.scores == {"91.1": 1.0, "91.2": 2.0} and g.total == 3 and g.problems == []
    assert g.results["91.1"] == "✓ 91.1 right: ten values; the squares of 0 to 9; a NumPy array"


def test_partly_wrong_submission_gets_partial_points_and_says_what_is_wrong(grades_91) -> None:
    g = grades_91["partly_wrong"]
    assert g.scores == {"91.1": 0.667, "91.2": 1.0} and g.problems == []
    assert g.results["91.1"] == ("✗ 91.1: 2 of 3 right (ten values; a NumPy array); wrong: "
                                 "the squares of 0 to 9")
    assert g.results["91.2"] == "✗ 91.2: 1 of 2 right (a float); wrong: the mean of the squares"


def test_empty_submission_gets_nothing_and_no_problems(grades_91) -> None:
    g = grades_91["empty"]
    assert g.scores == {"91.1": 0.0, "91.2": 0.0} and g.problems == []
    assert "squares is not defined yet" in g.results["91.1"]


def test_raising_cell_costs_only_its_exercise(grades_91) -> None:
    g = grades_91["raises"]
    assert g.scores == {"91.1": 1.0, "91.2": 0.0} and reasons(g) == ["error"]
    assert re.fullmatch(r"code cell \d+ \(mean_square = .*\) raised ZeroDivisionError: float "
                        "division by zero", g.problems[0].message)


def test_infinite_loop_is_interrupted_and_the_rest_graded(grades_91) -> None:
    g = grades_91["loops"]
    assert g.scores == {"91.1": 1.0, "91.2": 2.0} and reasons(g) == ["time limit"]
    assert "ran past the time limit (2 s a cell" in g.problems[0].message


def test_edited_and_deleted_checks_are_graded_with_the_originals(grades_91) -> None:
    g = grades_91["tampers"]
    assert reasons(g) == ["check edited", "check deleted"]
    assert g.scores == {"91.1": 0.333, "91.2": 2.0}
    assert "wrong: the squares of 0 to 9; a NumPy array" in g.results["91.1"]


def test_the_sandbox_keeps_the_course_out_of_reach(grades_91, course) -> None:
    """In the sandbox (issue 26) the course folder looks empty but for helpers, its Python and
    student/: the README cannot even be found, and what the kernel writes beside its folder
    lands in a throw-away tmpfs."""
    if grading.sandbox_note().startswith("sandbox: none"):
        pytest.skip(grading.sandbox_note())
    g = grades_91["outside"]
    assert g.scores == {"91.1": 1.0, "91.2": 2.0}
    assert reasons(g) == ["error"]
    assert "raised FileNotFoundError" in g.problems[0].message
    assert (course / "README.md").read_text() == "the course\n"
    restored = nbformat.read(course / "notebooks" / "91_arrays.ipynb", as_version=4)
    assert [c.source for c in restored.cells] == [c.source for c in master_91().cells]
    assert not (course.parent / "out_91" / "grades" / "quarantine").exists()


def test_without_the_sandbox_writes_outside_are_reported_and_put_back(course, monkeypatch
                                                                       ) -> None:
    """Where the sandbox cannot run (another OS, user namespaces refused), the guard still
    sees what a submission changed outside its folder and puts it back."""
    from helpers.grading import run

    monkeypatch.setattr(run.sandbox, "available", lambda: "turned off by this test")
    assert grading.sandbox_note().startswith("sandbox: none (turned off by this test)")
    folder = course.parent / "submissions_outside"
    folder.mkdir()
    (folder / "outside.ipynb").write_text(submission(master_91(), *RIGHT_91, extra=OUTSIDE(course)))
    spec = grading.spec_from_notebook(master_91(), "91_arrays", "")
    (g,) = grading.grade(spec, folder, course.parent / "out_outside" / "grades.csv",
                         limits=LIMITS, course=course, progress=False, jobs=1)
    assert g.scores == {"91.1": 1.0, "91.2": 2.0}
    assert reasons(g) == ["outside its folder", "outside its folder"]
    messages = " ".join(p.message for p in g.problems)
    assert re.search(r"created \S+/escaped\.txt; what it created removed", messages)
    assert "inside.txt" not in messages
    assert f"deleted {course / 'README.md'}" in messages
    assert f"changed {course / 'notebooks' / '91_arrays.ipynb'}" in messages
    assert (course / "README.md").read_text() == "the course\n"
    restored = nbformat.read(course / "notebooks" / "91_arrays.ipynb", as_version=4)
    assert [c.source for c in restored.cells] == [c.source for c in master_91().cells]
    moved = course.parent / "out_outside" / "grades" / "quarantine" / "outside" / "course"
    assert (moved / "notebooks" / "91_arrays.ipynb").read_text() == "{}"


def test_outputs_csv_feedback_executed_and_histogram(grades_91, course) -> None:
    out = course.parent / "out_91"
    rows = list(csv.DictReader((out / "grades.csv").open()))
    assert [r["student"] for r in rows] == sorted(grades_91)
    assert {r["student"]: r["total"] for r in rows}["partly_wrong"] == "1.667"
    assert all(r["max"] == "3" for r in rows)
    assert {r["student"]: r["errors"] for r in rows}["tampers"] == (
        "the check of 91.1 was edited; graded with the course notebook's check | the check of "
        "91.2 was deleted; graded with the course notebook's check")
    feedback = (out / "grades" / "feedback" / "partly_wrong.md").read_text()
    assert "Total: 1.667 of 3 points." in feedback and "| 91.1 | 0.667 of 1 |" in feedback
    assert (out / "grades" / "executed" / "loops.ipynb").exists()
    assert (out / "grades.png").read_bytes()[:4] == b"\x89PNG"


def test_summary_table(grades_91) -> None:
    spec = grading.spec_from_notebook(master_91(), "91_arrays", "")
    text = grading.summary(list(grades_91.values()), spec)
    assert text.splitlines()[0] == "91_arrays: 7 submissions graded"
    assert re.search(r"^91\.2\s+1\.29\s+2\s+4 of 7$", text, re.M)
    sandboxed = not grading.sandbox_note().startswith("sandbox: none")
    assert re.search(rf"^error\s+{2 if sandboxed else 1}$", text, re.M)  # the sandbox stops one
    assert re.search(r"^time limit\s+1$", text, re.M)


def test_grade_command_on_a_second_notebook(course, capsys) -> None:
    """Notebook 92 through ``python -m helpers grade``: memory, a loop that ignores the
    interrupt, a kernel that dies, and a file that is not a notebook."""
    folder = course.parent / "submissions_92"
    folder.mkdir()
    master = master_92()
    right = ("ordered = sorted([5, 3, 8, 1])", "total = sum(ordered)")
    stubborn = ("import time\nwhile True:\n    try:\n        time.sleep(0.05)\n"
                "    except KeyboardInterrupt:\n        pass")
    samples = {
        "correct": submission(master, *right),
        "memory": submission(master, right[0] + "\nhoard = bytearray(8 * 2**30)", right[1]),
        "stubborn": submission(master, right[0], stubborn),
        "dies": submission(master, right[0], "import os\nos._exit(3)"),
    }
    for name, text in samples.items():
        (folder / f"{name}.ipynb").write_text(text)
    (folder / "broken.ipynb").write_text("not a notebook")
    (course / "build" / "grading" / "92_lists.json").unlink(missing_ok=True)  # not handed out
    out = course.parent / "out_92" / "grades.csv"
    assert cli.main(["grade", "92", str(folder), "--out", str(out), "--time-limit", "20",
                     "--cell-limit", "2", "--memory-gib", "2"]) == 0
    printed = capsys.readouterr().out
    rows = {r["student"]: r for r in csv.DictReader(out.open())}
    scores = {name: (r["92.1"], r["92.2"]) for name, r in rows.items()}
    assert scores == {"broken": ("0", "0"), "correct": ("1", "1"), "dies": ("1", "0"),
                      "memory": ("1", "1"), "stubborn": ("1", "0")}
    assert rows["broken"]["errors"].startswith("not a readable notebook")
    assert "ran out of memory (limit 2 GiB)" in rows["memory"]["errors"]
    assert "the kernel died in code cell 4 (import os)" in rows["dies"]["errors"]
    assert "kernel stayed busy after the interrupt" in rows["stubborn"]["errors"]
    assert printed.splitlines()[0] == (f"no {course / 'build' / 'grading' / '92_lists.json'}: "
                                       "grading with the tests of "
                                       f"{course / 'notebooks' / '92_lists.ipynb'} as it is now")
    assert re.search(r"^total\s+1\.20\s+2\s+2 of 5$", printed, re.M)
    assert re.search(r"^graded 5 submissions in \d+ s with \d+ jobs?$", printed, re.M)
    for reason in ("unreadable", "memory limit", "kernel died", "time limit"):
        assert re.search(rf"^{reason}\s+1$", printed, re.M), reason
    assert "not graded: its grading tests did not run" in (
        out.parent / "grades" / "feedback" / "dies.md").read_text()


def test_instructor_version_passes_nbval_and_a_wrong_solution_fails_it(nbval_run) -> None:
    """CI runs the course notebooks under nbval: checks print, grading tests pass; a master
    whose solution is wrong fails on its grading tests, not silently."""
    out, _ = nbval_run.communicate(timeout=120)
    assert nbval_run.returncode == 1, out
    assert re.search(r"^1 failed, \d+ passed", out.splitlines()[-1]), out
    assert "FAILED bad_91.ipynb::Cell 4" in out
    assert "91.1 grading tests: 2 of 3 pass; wrong: a NumPy array" in out


def test_course_notebooks_with_exercises_have_committed_student_versions() -> None:
    """Each course notebook with exercises: its cells are laid out as grading expects, and
    student/ holds its student version as ``python -m helpers student`` makes it now."""
    root = Path(__file__).resolve().parents[1]
    for path in sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        if not grading.has_exercises(path):
            continue
        master = nbformat.read(path, as_version=4)
        grading.spec_from_notebook(master, path.stem, "")
        student = grading.student_version(master)
        assert grading.solution_leaks(student, master) == [], path.name
        committed = root / "student" / path.name
        assert committed.exists(), f"run: python -m helpers student {path.stem[:2]}"
        assert nbformat.read(committed, as_version=4) == student, (
            f"student/{path.name} is out of date: run python -m helpers student {path.stem[:2]}")


def test_an_unmet_essential_test_scores_nothing_else_the_share_passed() -> None:
    from helpers.exercises import Result
    from helpers.grading.run import score

    assert score(2, Result("91.1", ("a", "b", "c"), ("d",))) == 1.5
    assert score(2, Result("91.1", ("a", "b", "c"), ("d",), unmet=("d",))) == 0.0
    assert score(2, Result("91.1", (), ())) == 0.0
    assert score(1, Result("91.1", ("a", "b", "c"), ())) == 1.0
