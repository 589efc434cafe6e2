"""helpers.grading on submissions a class really hands in: checks called again or moved,
notebooks that are not quite nbformat, and a class graded with ``--jobs 2`` against ``--jobs 1``.

The course folder and the two tiny masters are test_grading's; each submission here is graded
twice, once a job at a time and once two at once, and both gradings must say the same.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import nbformat
import pytest

from helpers import grading
from helpers.grading import submission as intake
from tests.test_grading import CHECK_911, CHECK_912, LIMITS, course, master_91, submission

__all__ = ["course"]  # the fixture, shared with test_grading

RIGHT = ("squares = np.arange(10) ** 2", "mean_square = float(np.mean(squares))")
FAKE_911 = 'exercises.check("91.1", ("ten values", lambda: True))'
# an answer that prints in pieces, the kernel flushing between them
IN_PIECES = ("import sys, time\nfor piece in ('one', ' two'):\n"
             "    sys.stdout.write(piece)\n    sys.stdout.flush()\n    time.sleep(0.4)\n"
             f"print()\n{RIGHT[0]}")


def odd_but_valid(text: str) -> str:
    """The notebook as another tool may write it: sources as lists of lines (as nbformat
    writes them too), no outputs or execution counts, a tag that is a string."""
    nb = json.loads(text)
    for cell in nb["cells"]:
        assert isinstance(cell["source"], list)
        if cell["cell_type"] == "code":
            del cell["outputs"], cell["execution_count"]
            cell["metadata"]["tags"] = "check"
    return json.dumps(nb)


def as_nbformat_3(text: str) -> str:
    """The notebook in nbformat 3: one worksheet, code cells' sources under ``input``."""
    cells = []
    for cell in json.loads(text)["cells"]:
        if cell["cell_type"] == "code":
            cells.append({"cell_type": "code", "input": cell["source"], "language": "python",
                          "outputs": [], "metadata": cell["metadata"]})
        else:
            cells.append({"cell_type": "markdown", "source": cell["source"], "metadata": {}})
    return json.dumps({"nbformat": 3, "nbformat_minor": 0, "metadata": {},
                       "worksheets": [{"cells": cells, "metadata": {}}]})


def broken(text: str, change) -> str:
    nb = json.loads(text)
    change(nb)
    return json.dumps(nb)


def samples() -> dict[str, str]:
    master = master_91()
    correct = submission(master, *RIGHT)
    return {
        "partly_wrong": submission(master, "squares = np.arange(1, 11) ** 2", RIGHT[1]),
        # honest: the check called again at the end of each answer cell
        "extra_check": submission(master, f"{RIGHT[0]}\n{CHECK_911}", f"{RIGHT[1]}\n{CHECK_912}"),
        # honest: the answer of 91.1 written as one more line of its check cell
        "answer_in_check": submission(master, "", RIGHT[1],
                                      check_edits={"91.1": f"{RIGHT[0]}\n{CHECK_911}"}),
        # honest: the check cell of 91.1 gone, its call kept at the end of the answer cell
        "moved_check": submission(master, f"{RIGHT[0]}\n{CHECK_911}", RIGHT[1],
                                  check_edits={"91.1": None}),
        # not honest: the check cell faked, with a real call beside the answer
        "faked_beside_extra": submission(master, f"{RIGHT[0]}\n{CHECK_911}", RIGHT[1],
                                         check_edits={"91.1": FAKE_911}),
        "prints_in_pieces": submission(master, IN_PIECES, RIGHT[1]),
        "tampers": submission(master, "squares = [0] * 10", "mean_square = 28.5", check_edits={
            "91.1": FAKE_911, "91.2": None}),
        "odd_but_valid": odd_but_valid(correct),
        "nbformat_3": as_nbformat_3(correct),
        "no_source": broken(correct, lambda nb: nb["cells"][3].pop("source")),
        "no_cell_type": broken(correct, lambda nb: nb["cells"][0].pop("cell_type")),
        "no_cells": broken(correct, lambda nb: nb.pop("cells")),
        "source_not_text": broken(correct, lambda nb: nb["cells"][1].update(source=[1, 2])),
        "nbformat_5": broken(correct, lambda nb: nb.update(nbformat=5)),
        "not_json": "{ not json",
    }


@pytest.fixture(scope="module")
def graded(course) -> dict[int, tuple[dict[str, grading.Grade], Path]]:
    """The samples graded with one job and with two: grades and the CSV, by jobs."""
    folder = course.parent / "submissions"
    folder.mkdir()
    for name, text in samples().items():
        (folder / f"{name}.ipynb").write_text(text)
    spec = grading.spec_from_notebook(master_91(), "91_arrays", "")
    found = {}
    for jobs in (1, 2):
        out = course.parent / f"out_jobs{jobs}" / "grades.csv"
        grades = grading.grade(spec, folder, out, limits=LIMITS, course=course,
                               progress=False, jobs=jobs)
        found[jobs] = ({g.student: g for g in grades}, out)
    return found


@pytest.fixture(scope="module")
def grades(graded) -> dict[str, grading.Grade]:
    return graded[1][0]


def problems(g: grading.Grade) -> list[str]:
    return [p.message for p in g.problems]


@pytest.mark.parametrize("name", ["extra_check", "answer_in_check", "moved_check"])
def test_a_check_called_again_or_moved_is_not_an_edit(grades, name) -> None:
    g = grades[name]
    assert g.scores == {"91.1": 1.0, "91.2": 2.0} and g.problems == []


def test_extra_calls_stay_untouched_and_the_check_goes_after_its_cell(graded) -> None:
    executed = nbformat.read(graded[1][1].parent / "grades" / "executed" / "extra_check.ipynb",
                             as_version=4)
    sources = [c.source for c in executed.cells if c.cell_type == "code"]
    assert f"{RIGHT[0]}\n{CHECK_911}" in sources and sources.count(CHECK_911) == 1
    graded_after = sources.index(CHECK_911) + 1
    assert sources[graded_after].startswith("# Added by the grader: the course notebook's check "
                                            "and grading tests of 91.1.")


def test_an_edited_check_is_still_reported_and_the_answer_beside_a_call_kept(grades) -> None:
    g = grades["faked_beside_extra"]
    assert problems(g) == ["the check of 91.1 was edited; graded with the course notebook's "
                           "check"]
    assert g.scores == {"91.1": 1.0, "91.2": 2.0}
    g = grades["tampers"]
    assert [p.reason for p in g.problems] == ["check edited", "check deleted"]
    assert g.scores == {"91.1": 0.333, "91.2": 2.0}


def test_the_check_cell_is_found_by_its_tag_or_by_the_fewest_other_lines() -> None:
    ex = grading.spec_from_notebook(master_91(), "91_arrays", "").exercises[0]
    answer = nbformat.v4.new_code_cell(f"{RIGHT[0]}\nprint(squares)\n{FAKE_911}")
    check = nbformat.v4.new_code_cell(f"print('mine')\n{FAKE_911}")
    assert intake.check_cell([answer, check], ex) == (check, f"print('mine')\n{CHECK_911}")
    answer.metadata["tags"] = ["check"]  # the handed-out cell, the answer written into it
    assert intake.check_cell([answer, check], ex) == (answer,
                                                      f"{RIGHT[0]}\nprint(squares)\n{CHECK_911}")
    assert intake.check_cell([nbformat.v4.new_code_cell(RIGHT[0])], ex) == (None, None)


def test_odd_but_valid_notebooks_are_graded(grades) -> None:
    for name in ("odd_but_valid", "nbformat_3"):
        g = grades[name]
        assert g.scores == {"91.1": 1.0, "91.2": 2.0} and g.problems == [], name


@pytest.mark.parametrize(("name", "reason", "message"), [
    ("no_source", "malformed", "a malformed notebook, not graded: cell 4 of 8 (a code cell) has "
     "no source"),
    ("no_cell_type", "malformed", "a malformed notebook, not graded: cell 1 of 8 has no "
     "cell_type"),
    ("no_cells", "malformed", "a malformed notebook, not graded: it has no list of cells"),
    ("source_not_text", "malformed", "a malformed notebook, not graded: cell 2 of 8 (a code "
     "cell): its source is not text"),
    ("nbformat_5", "malformed", "a malformed notebook, not graded: nbformat 5 (3 and 4 can be "
     "graded)"),
    ("not_json", "unreadable", "not a readable notebook: JSONDecodeError: Expecting property "
     "name enclosed in double quotes: line 1 column 3 (char 2)"),
])
def test_a_malformed_notebook_gets_one_line(grades, name, reason, message) -> None:
    g = grades[name]
    assert [(p.reason, p.message) for p in g.problems] == [(reason, message)]
    assert g.total == 0 and set(g.results.values()) == {
        "not graded: the file is " + ("not a notebook" if reason == "unreadable"
                                      else "a malformed notebook")}


def test_a_huge_file_is_not_read(tmp_path) -> None:
    path = tmp_path / "huge.ipynb"
    path.write_bytes(b" " * (3 * 2**20))
    with pytest.raises(intake.Unreadable, match=r"^not a readable notebook: 3\.0 MiB, more than "
                       r"the 2 MiB a submission may be$") as err:
        intake.read(path, max_mib=2)
    assert err.value.reason == "unreadable"


def _as_run(path: Path) -> str:
    """An executed notebook without what differs between two runs: tokens, the temporary
    folder, timings."""
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        cell["metadata"].pop("execution", None)
    text = json.dumps(nb, sort_keys=True)
    return re.sub(r"[0-9a-f]{32}", "TOKEN", re.sub(r"lab-grading-[\w]+", "TMP", text))


def test_two_jobs_grade_as_one_does(graded) -> None:
    (one, csv_one), (two, csv_two) = graded[1], graded[2]
    rows = [[{k: v for k, v in row.items() if k != "seconds"}
             for row in csv.DictReader(path.open())] for path in (csv_one, csv_two)]
    assert rows[0] == rows[1] and [r["student"] for r in rows[0]] == sorted(one)
    assert {n: (g.scores, g.results, g.problems) for n, g in one.items()} == {
        n: (g.scores, g.results, g.problems) for n, g in two.items()}
    for kind in ("feedback", "executed"):
        folders = [path.parent / "grades" / kind for path in (csv_one, csv_two)]
        names = sorted(p.name for p in folders[0].iterdir())
        assert names == sorted(p.name for p in folders[1].iterdir()) and names, kind
        for name in names:
            read = (Path.read_text if kind == "feedback" else _as_run)
            assert read(folders[0] / name) == read(folders[1] / name), name


def test_each_cell_keeps_one_output_per_stream_however_the_kernel_flushed(graded) -> None:
    """Two gradings of one notebook compare equal, and a line is never cut in two."""
    for _, csv_path in graded.values():
        nb = json.loads((csv_path.parent / "grades" / "executed" / "prints_in_pieces.ipynb")
                        .read_text())
        for cell in nb["cells"]:
            names = [o["name"] for o in cell.get("outputs", []) if o["output_type"] == "stream"]
            assert len(names) == len(set(names)), cell["source"]
        (answer,) = [c for c in nb["cells"] if "time.sleep" in "".join(c["source"])]
        assert answer["outputs"][0]["text"] in ("one two\n", ["one two\n"])
    assert graded[1][0]["prints_in_pieces"].scores == {"91.1": 1.0, "91.2": 2.0}


def test_a_grading_line_cut_across_outputs_is_still_read() -> None:
    from nbformat.v4 import new_code_cell, new_notebook, new_output

    from helpers.grading.kernel import Prepared, recorded

    line = 'tok {"key": "91.1", "points": 1.0}\n'
    cell = new_code_cell("", outputs=[
        new_output("stream", name="stdout", text=line[:9]),
        new_output("stream", name="stderr", text="a warning\n"),
        new_output("stream", name="stdout", text=line[9:])])
    prepared = Prepared(new_notebook(cells=[cell]), {0: "grading"}, {0: ("91.1", "tok")}, [])
    assert recorded(prepared) == {"91.1": {"key": "91.1", "points": 1.0}}


def test_a_write_seen_while_two_ran_is_blamed_on_both_and_put_back(tmp_path) -> None:
    """The shared folders are settled when a submission ends: with one running, the change is
    its own; with two, both get it, saying so."""
    from helpers.grading import guard
    from helpers.grading.run import _Watched

    course = tmp_path / "course"
    course.mkdir()
    (course / "README.md").write_text("the course\n")
    watch = guard.Watch(course, frozenset(), {"README.md": b"the course\n"})
    watched = _Watched([watch], tmp_path / "quarantine", [watch.scan()])
    watched.start("alice")
    watched.start("bob")
    (course / "README.md").write_text("changed")
    alice = watched.settle("alice")
    assert (course / "README.md").read_text() == "the course\n"
    assert [p.reason for p in alice] == ["outside its folder"]
    assert alice[0].message.startswith(f"wrote outside its folder: changed {course / 'README.md'}"
                                       "; put back, what it wrote moved to ")
    assert alice[0].message.endswith(" (seen while 2 submissions ran at once: alice, bob; any "
                                     "of them may have done it: grade them again with --jobs 1 "
                                     "to tell)")
    assert (tmp_path / "quarantine" / "alice" / "course" / "README.md").read_text() == "changed"
    assert watched.settle("bob") == alice  # found for bob too; nothing new since
    watched.start("carol")
    (course / "new.txt").write_text("x")
    (carol,) = watched.settle("carol")
    assert carol.message.endswith("what it wrote moved to "
                                  f"{tmp_path / 'quarantine' / 'carol'}")
    assert watched.running == {} and not (course / "new.txt").exists()
