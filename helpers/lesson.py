"""A notebook's facts, declared in the notebook, and the one place that reads them from its file.

Each course notebook declares, in its cell tagged ``lesson`` (folded on Colab), one ``Lesson``:
its title, the metric its summary shows (``headline``), the documents' numbers it sets its
measurements beside (``document``), its planned fits as a function of its parameters (``plan``,
what the budget guard and the T4 estimate read) and how a dry run shrinks each parameter
(``dry_run``). Its cell tagged ``parameters`` holds the parameter block, ``PARAMS``. The
notebook passes both to ``helpers.setup(LESSON, params=PARAMS, ...)``, so on Colab, where only
the notebook and the installed helpers exist, nothing else is needed.

``named(stem)`` reads the same facts from ``notebooks/<stem>.ipynb`` of the project, for the
tools that plan or report without running a notebook (``benchmarks/``, ``make report``, tests).
"""

from __future__ import annotations

import ast
import functools
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from helpers.budget import Counts, Fit

Params = Mapping[str, tuple[Any, Any, Any]]
"""A notebook's parameter block: ``{name: (quick, full, paper)}``."""

Plan = Callable[[SimpleNamespace, Counts], list[Fit]]
"""A notebook's fits as a function of its parameters and of the run's image counts."""

CAPS = ("batch", "images", "per_class", "grid", "small")
"""The named dry-run caps (``config.dry_run_sized`` applies them; an ``int`` caps a count):
``batch`` the batch size at ``LAB_DRYRUN_BATCH``; ``images`` an image count at four batches
(``None``, every image, too); ``per_class`` a per-class count at two batches; ``grid`` a
sweep's list at its first and last entry and any entry another parameter names; ``small`` a
dataset's small stand-in, ``<name>_small``."""


@dataclass(frozen=True)
class Reported:
    """A number a document reports: its value, the document, and what it is (e.g. "about")."""

    value: float
    source: str
    note: str = ""


@dataclass(frozen=True)
class Lesson:
    """One notebook's facts (see the module docstring). A bare ``Lesson("name")`` (a test's or
    a scratch notebook's) has no plan, no headline and no document numbers."""

    notebook: str
    title: str = ""
    headline: str | None = None
    document: Mapping[str, Reported] = field(default_factory=dict)
    plan: Plan | None = None
    dry_run: Mapping[str, str | int] = field(default_factory=dict)
    params: Params | None = None  # filled by ``named`` from the notebook's ``PARAMS``

    def __post_init__(self) -> None:
        wrong = {k: v for k, v in self.dry_run.items()
                 if not (isinstance(v, int) or v in CAPS)}
        if wrong:
            raise ValueError(f"{self.notebook}: unknown dry-run cap(s) {wrong}; an int or one "
                             f"of {', '.join(CAPS)}")

    def fits(self, params: SimpleNamespace, images: Counts) -> list[Fit]:
        """The planned fits with these parameters (none without a plan). A plan that reads a
        parameter the block lacks fails here, by name."""
        return self.plan(params, images) if self.plan else []

    def as_record(self) -> dict[str, Any]:
        """What the results JSON keeps of the lesson, so ``make report`` needs no notebook."""
        return {"title": self.title, "headline": self.headline,
                "document": {metric: vars(number) for metric, number in self.document.items()}}

    @classmethod
    def from_record(cls, notebook: str, record: Mapping[str, Any]) -> Lesson:
        return cls(notebook, record.get("title", ""), record.get("headline"),
                   {m: Reported(**n) for m, n in record.get("document", {}).items()})


def notebooks_dir() -> Path:
    """The ``notebooks/`` beside this package in its checkout (absent where the package alone
    is installed, as on Colab: there the notebook passes its ``LESSON``)."""
    return Path(__file__).resolve().parents[1] / "notebooks"


def course() -> list[Path]:
    """The course notebooks of the project, in order."""
    return sorted(notebooks_dir().glob("[0-9][0-9]_*.ipynb"))


def _tagged(cells: list[dict[str, Any]], tag: str, path: Path) -> str:
    found = ["".join(c.get("source", "")) for c in cells
             if c.get("cell_type") == "code" and tag in c.get("metadata", {}).get("tags", [])]
    if len(found) != 1:
        raise ValueError(f"{path.name}: {len(found)} code cells tagged {tag!r}, expected one")
    return found[0]


def _params(source: str, path: Path) -> Params:
    """The ``PARAMS = {...}`` of the parameters cell, evaluated with no builtins but ``list``
    and ``range`` (the cell's other lines, the ``setup`` call among them, are not run)."""
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and [getattr(t, "id", "") for t in node.targets] == [
                "PARAMS"]:
            return eval(compile(ast.Expression(node.value), path.name, "eval"),  # noqa: S307
                        {"__builtins__": {}, "list": list, "range": range})
    raise ValueError(f"{path.name}: its parameters cell assigns no PARAMS = {{...}}")


def load(path: Path) -> Lesson:
    """The ``Lesson`` a notebook file declares (its ``lesson`` cell run on its own), with its
    ``PARAMS``; a ``ValueError`` names what is missing."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    namespace: dict[str, Any] = {"__name__": f"lesson_{path.stem}"}
    exec(compile(_tagged(cells, "lesson", path), str(path), "exec"), namespace)  # noqa: S102
    lesson = namespace.get("LESSON")
    if not isinstance(lesson, Lesson) or lesson.notebook != path.stem:
        raise ValueError(f"{path.name}: its lesson cell must define LESSON = Lesson("
                         f"{path.stem!r}, ...)")
    return replace(lesson, params=_params(_tagged(cells, "parameters", path), path))


@functools.cache
def named(notebook: str) -> Lesson:
    """The lesson of ``notebooks/<notebook>.ipynb`` in the project."""
    path = notebooks_dir() / f"{notebook}.ipynb"
    if not path.exists():
        known = ", ".join(p.stem for p in course())
        raise ValueError(f"unknown notebook {notebook!r}; known: {known}")
    return load(path)
