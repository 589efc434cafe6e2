"""Notebook conventions (docs/architecture.md): no outputs committed, the Colab install from the
one repository URL, ``helpers`` imported before Keras, setup first, results recorded by the run,
README in step.

The notebooks themselves are executed by nbval (``make test`` runs ``--nbval-lax notebooks``).
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

import helpers
from helpers import results

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
COLAB = "https://colab.research.google.com/github/"


def cells(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cells"]


def source(cell: dict) -> str:
    return "".join(cell["source"])


def test_there_are_notebooks_and_each_is_in_the_course_map() -> None:
    assert NOTEBOOKS, "no notebooks found"
    assert {p.stem for p in NOTEBOOKS} <= set(results.NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_without_outputs(path: Path) -> None:
    for cell in cells(path):
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_first_code_cell_installs_on_colab_and_sets_up(path: Path) -> None:
    first = source(next(c for c in cells(path) if c["cell_type"] == "code"))
    assert 'if "google.colab" in sys.modules:' in first
    assert f"git+{helpers.REPOSITORY_URL}" in first
    assert f'helpers.setup(\n    "{path.stem}"' in first or f'helpers.setup("{path.stem}"' in first
    imports = [line.split("#")[0].strip() for line in first.splitlines()
               if line.startswith(("import ", "from "))]
    assert imports.index("import helpers") < imports.index("import keras"), (
        "import helpers first: it picks the Keras backend before Keras loads"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_results_are_recorded_by_the_run(path: Path) -> None:
    code = "\n".join(source(c) for c in cells(path) if c["cell_type"] == "code")
    assert "cfg.record(" in code and "results.record(" not in code


def test_repository_url_is_the_same_everywhere() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["urls"]["Repository"] == helpers.REPOSITORY_URL
    readme = (ROOT / "README.md").read_text()
    slug = helpers.REPOSITORY_URL.removeprefix("https://github.com/")
    students = sorted((ROOT / "student").glob("[0-9][0-9]_*.ipynb"))
    for path in NOTEBOOKS:
        assert f"{COLAB}{slug}/blob/main/notebooks/{path.name}" in readme, path.name
    for path in students:
        assert f"{COLAB}{slug}/blob/main/student/{path.name}" in readme, path.name
    assert readme.count(COLAB) == len(NOTEBOOKS) + len(students)
