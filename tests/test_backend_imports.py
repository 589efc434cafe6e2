"""No TensorFlow where the JAX backend must run (issue: Colab's TPU runtime has no TensorFlow).

Helpers may import TensorFlow only inside functions, and only in the modules whose job is a
TensorFlow path (allowed below); notebooks only in cells that start with ``%%tensorflow_only``.
The JAX half of ``make test`` runs the Keras tests and every notebook without TensorFlow
installed; this check names the offending line before that.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HELPERS = sorted((ROOT / "helpers").rglob("*.py"))
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
# Modules with a TensorFlow path beside a TensorFlow-free one, imported inside functions.
ALLOWED_INSIDE_FUNCTIONS = {"runtime.py", "distribute.py", "pipelines.py", "explain.py",
                            "compiled.py"}


def _tensorflow_imports(tree: ast.AST) -> list[ast.stmt]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(
            a.name.split(".")[0] == "tensorflow" for a in node.names
        ):
            found.append(node)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "tensorflow":
            found.append(node)
    return found


@pytest.mark.parametrize("path", HELPERS, ids=lambda p: str(p.relative_to(ROOT)))
def test_helpers_import_tensorflow_only_inside_allowed_functions(path: Path) -> None:
    tree = ast.parse(path.read_text())
    top_level = {id(node) for node in tree.body}
    for node in _tensorflow_imports(tree):
        where = f"{path.relative_to(ROOT)}:{node.lineno}"
        assert id(node) not in top_level, f"{where} imports TensorFlow at module level"
        assert path.name in ALLOWED_INSIDE_FUNCTIONS, f"{where}: not a TensorFlow-path module"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebooks_use_tensorflow_only_in_marked_cells(path: Path) -> None:
    for index, cell in enumerate(json.loads(path.read_text())["cells"]):
        text = "".join(cell["source"])
        if cell["cell_type"] != "code" or text.startswith("%%tensorflow_only"):
            continue
        code = "\n".join(  # IPython's line magics (%pip) become a statement Python can parse
            line[: len(line) - len(line.lstrip())] + "pass" if line.lstrip().startswith("%")
            else line for line in text.splitlines()
        )
        tree = ast.parse(code)
        names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        assert not _tensorflow_imports(tree), f"{path.stem} cell {index} imports TensorFlow"
        assert "tf" not in names, f"{path.stem} cell {index} uses tf outside %%tensorflow_only"


def test_the_backend_agnostic_modules_exist() -> None:
    from tests.conftest import BACKEND_AGNOSTIC

    modules = {path.stem for path in (ROOT / "tests").glob("test_*.py")}
    assert BACKEND_AGNOSTIC <= modules, f"no such test module: {BACKEND_AGNOSTIC - modules}"
    assert "test_backend_imports" not in BACKEND_AGNOSTIC
