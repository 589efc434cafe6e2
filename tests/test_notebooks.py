"""Notebook conventions (docs/architecture.md): no outputs committed, the Colab install from the
one repository URL, ``helpers`` imported before Keras, the lesson's facts and setup first, every
fit planned, results recorded by the run, README in step.

The notebooks themselves are executed by nbval (``make test`` runs ``--nbval-lax notebooks``).
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from helpers import budget, config, lesson, release

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
COLAB = "https://colab.research.google.com/github/"


def cells(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cells"]


def source(cell: dict) -> str:
    return "".join(cell["source"])


def test_there_are_notebooks_and_each_is_in_the_course_map() -> None:
    assert NOTEBOOKS, "no notebooks found"
    assert {lesson.load(p).notebook for p in NOTEBOOKS} == {p.stem for p in NOTEBOOKS}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_without_outputs(path: Path) -> None:
    for cell in cells(path):
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_first_code_cell_installs_on_colab_and_sets_up(path: Path) -> None:
    first = source(next(c for c in cells(path) if c["cell_type"] == "code"))
    assert 'if "google.colab" in sys.modules:' in first
    assert release.release(ROOT).requirement() in first  # the pinned release (helpers.release)
    code = [c for c in cells(path) if c["cell_type"] == "code"]
    # then the lesson's facts (folded on Colab), then the parameter block and setup()
    # (grading-setup: the grading process runs them too, docs/grading.md)
    tags = [set(c["metadata"].get("tags", [])) - {"grading-setup"} for c in code[1:3]]
    assert tags[0] == {"lesson"} and "LESSON = Lesson(" in source(code[1])
    assert source(code[1]).startswith("# @title") and code[1]["metadata"]["cellView"] == "form"
    assert tags[1] == {"parameters"}
    assert "cfg = helpers.setup(\n    LESSON,\n    params=PARAMS," in source(code[2])
    imports = [line.split("#")[0].strip() for line in first.splitlines()
               if line.startswith(("import ", "from "))]
    assert imports.index("import helpers") < imports.index("import keras"), (
        "import helpers first: it picks the Keras backend before Keras loads"
    )


def _fit_names(path: Path) -> list[ast.expr]:
    """The first argument of every ``cfg.callbacks(...)`` call in the notebook's code."""
    code = "\n".join(source(c) for c in cells(path) if c["cell_type"] == "code")
    code = "\n".join(line[:len(line) - len(line.lstrip())] + "pass"
                     if line.lstrip().startswith(("%", "!")) else line
                     for line in code.splitlines())
    return [node.args[0] for node in ast.walk(ast.parse(code))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr == "callbacks" and getattr(node.func.value, "id", "") == "cfg"]


def _pattern(node: ast.expr) -> str:
    """A fit name as a regular expression: an f-string's fields match anything."""
    if isinstance(node, ast.Constant):
        return re.escape(node.value)
    assert isinstance(node, ast.JoinedStr), ast.unparse(node)
    return "".join(re.escape(part.value) if isinstance(part, ast.Constant) else ".+"
                   for part in node.values)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
@pytest.mark.parametrize("mode", ["quick", "full", "paper"])
def test_every_fit_a_notebook_runs_is_in_its_plan(path: Path, mode: str) -> None:
    """Each ``cfg.callbacks(name)`` names a fit of the lesson's plan in every mode (the budget
    guard and the T4 estimate see only planned fits; ``cfg.callbacks`` refuses the others)."""
    facts = lesson.load(path)
    planned = [fit.name for fit in facts.fits(config.pick_params(facts.params, mode),
                                              budget.document_images)]
    names = _fit_names(path)
    assert names, "no cfg.callbacks(...) call"
    for node in names:
        if isinstance(node, ast.Name):
            continue  # a variable: cfg.callbacks checks it when the notebook runs
        assert any(re.fullmatch(_pattern(node), name) for name in planned), (
            f"{ast.unparse(node)} is not in the plan: {planned}")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_plumbing_in_lesson_cells_is_marked_extra_code(path: Path) -> None:
    """A student sees at a glance what to learn: each figure drawn by helpers.plots in a lesson
    cell sits under an ``# extra code`` line (handson-ml3's convention)."""
    for cell in cells(path):
        if cell["cell_type"] != "code" or {"solution", "check", "hidden-tests"} & set(
                cell["metadata"].get("tags", [])):
            continue
        lines = source(cell).splitlines()
        for k, line in enumerate(lines):
            if re.match(r"(_ = )?plots\.", line):
                assert k and lines[k - 1].startswith("# extra code"), line


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_results_are_recorded_by_the_run(path: Path) -> None:
    code = "\n".join(source(c) for c in cells(path) if c["cell_type"] == "code")
    assert "cfg.record(" in code and "results.record(" not in code


def test_every_install_line_and_colab_link_names_the_one_release() -> None:
    """pyproject.toml names the repository and release; every notebook, student version and
    README link follows it (``python -m helpers pin`` writes them)."""
    rel = release.release(ROOT)
    assert rel.slug.count("/") == 1 and rel.tag == f"v{rel.version}"
    assert release.stale(ROOT) == [], "run: python -m helpers pin"
    readme = (ROOT / "README.md").read_text()
    students = sorted((ROOT / "student").glob("[0-9][0-9]_*.ipynb"))
    for path in NOTEBOOKS:
        assert rel.colab_link(f"notebooks/{path.name}") in readme, path.name
    for path in students:
        assert rel.colab_link(f"student/{path.name}") in readme, path.name
    assert readme.count(COLAB) == len(NOTEBOOKS) + len(students)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_each_solution_marks_itself_for_the_check_below_it(path: Path) -> None:
    """A solution cell starts with ``exercises.solution(KEY)``, KEY the next check's exercise:
    the course version's check then says it checked the solution, not the empty answer cell."""
    all_cells = cells(path)
    for index, cell in enumerate(all_cells):
        if "solution" not in cell["metadata"].get("tags", []):
            continue
        key = next(re.search(r'check\(\s*"([^"]+)"', source(c))[1] for c in all_cells[index:]
                   if "check" in c["metadata"].get("tags", []))
        assert source(cell).startswith(f'exercises.solution("{key}")'), (index, key)
