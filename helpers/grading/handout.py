"""The exercises of a course notebook: its grading spec, and the student version handed out
(solutions and grading tests removed, checks kept, no outputs)."""

from __future__ import annotations

import ast
import copy
import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from helpers import runtime

SOLUTION, CHECK, HIDDEN = "solution", "check", "hidden-tests"
ANSWERS = "answers"
"""An exercise's answers cell (``exercises.answers``): run in the student's kernel at grading."""
GRADING_SETUP, HIDDEN_SETUP = "grading-setup", "hidden-setup"
"""Cells the grading process runs before the grading tests of exercises with answers cells:
lesson cells it needs too (imports, parameters; kept in the student version), and cells that
recompute what the tests compare with (left out of it)."""


class GradingError(ValueError):
    """A notebook's exercise cells, or the grading's inputs, are not as this module expects."""



@dataclass(frozen=True)
class Exercise:
    """One exercise as handed out: its key, points, and the sources of its check cell, of its
    grading-tests cell and of its answers cell ("" where it has none: the grading tests then
    run in the student's kernel)."""

    key: str
    points: float
    check: str
    hidden: str
    answers: str = ""


@dataclass(frozen=True)
class Spec:
    """What a notebook's grading runs: its exercises, and the course notebook they came from."""

    notebook: str
    master_sha256: str
    created: str
    exercises: tuple[Exercise, ...]
    judge: tuple[str, ...] = ()
    """The sources the grading process runs first (``grading-setup``, ``hidden-setup`` cells)."""

    @property
    def max_points(self) -> float:
        return sum(ex.points for ex in self.exercises)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=1) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Spec:
        data = json.loads(text)
        return cls(**{**data, "exercises": tuple(Exercise(**ex) for ex in data["exercises"]),
                      "judge": tuple(data.get("judge", ()))})


def first_line(text: str, limit: int = 100) -> str:
    """The first non-blank line of ``text``, cut to ``limit`` characters."""
    lines = [line for line in str(text).strip().splitlines() if line.strip()]
    line = lines[0].strip() if lines else ""
    return line if len(line) <= limit else line[: limit - 3] + "..."


def tags(cell: Any) -> set[str]:
    """The cell's tags."""
    return set(cell.get("metadata", {}).get("tags", []))


def _calls(source: str, function: str, where: str) -> list[tuple[str, float]]:
    """The ``<anything>.function("KEY", ..., points=N)`` calls in ``source``: (key, points)."""
    try:
        tree = ast.parse(source)
    except SyntaxError as err:
        raise GradingError(f"{where}: not valid Python ({err.msg}, line {err.lineno})") from None
    found = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == function and node.args
                and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            points = [kw.value.value for kw in node.keywords
                      if kw.arg == "points" and isinstance(kw.value, ast.Constant)]
            found.append((node.args[0].value, float(points[0]) if points else 1.0))
    return found


def spec_from_notebook(nb: Any, name: str, sha256: str) -> Spec:
    """The exercises of course notebook ``nb``: one ``check`` cell and one ``hidden-tests`` cell
    per exercise, each with exactly one ``exercises.check`` / ``exercises.hidden`` call, and at
    most one ``answers`` cell (``exercises.answers``)."""
    found: dict[str, dict[str, tuple[str, float]]] = {CHECK: {}, HIDDEN: {}, ANSWERS: {}}
    judge = []
    for index, cell in enumerate(nb.cells):
        if tags(cell) & {GRADING_SETUP, HIDDEN_SETUP} and cell.cell_type == "code":
            judge.append(cell.source)
        for tag, function in ((CHECK, "check"), (HIDDEN, "hidden"), (ANSWERS, "answers")):
            if tag not in tags(cell):
                continue
            where = f"{name}, cell {index + 1} (tagged {tag})"
            if cell.cell_type != "code":
                raise GradingError(f"{where}: must be a code cell")
            calls = _calls(cell.source, function, where)
            if len(calls) != 1:
                raise GradingError(f'{where}: needs exactly one exercises.{function}("KEY", ...) '
                                   f"call, found {len(calls)}")
            key, points = calls[0]
            if key in found[tag]:
                raise GradingError(f"{where}: a second {tag} cell for exercise {key}")
            found[tag][key] = (cell.source, points)
    checks, hidden, answers = found[CHECK], found[HIDDEN], found[ANSWERS]
    if unmatched := sorted(set(checks) ^ set(hidden)):
        raise GradingError(
            f"{name}: every exercise needs a check cell and a hidden-tests cell; "
            f"{', '.join(unmatched)} has only one (exercises.hidden(\"KEY\") with no tests of "
            "its own re-runs the check's tests at grading, and in CI)"
        )
    if stray := sorted(set(answers) - set(checks)):
        raise GradingError(f"{name}: an answers cell for {', '.join(stray)}, which has no check")
    return Spec(
        notebook=name,
        master_sha256=sha256,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        exercises=tuple(Exercise(key, hidden[key][1], checks[key][0], hidden[key][0],
                                 answers.get(key, ("", 0))[0]) for key in checks),
        judge=tuple(judge) if answers else (),
    )


def has_exercises(path: Path) -> bool:
    """Whether the notebook at ``path`` has a cell tagged ``check``."""
    import nbformat

    return any(CHECK in tags(cell) for cell in nbformat.read(path, as_version=4).cells)


def student_version(nb: Any) -> Any:
    """``nb`` without its solution and grading-test cells, and without outputs."""
    out = copy.deepcopy(nb)
    out.cells = [cell for cell in out.cells
                 if not tags(cell) & {SOLUTION, HIDDEN, ANSWERS, HIDDEN_SETUP}]
    for cell in out.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return out


def _code_lines(cell: Any) -> set[str]:
    return {line.split("#", 1)[0].strip() for line in cell.source.splitlines()}


def solution_leaks(student: Any, master: Any) -> list[str]:
    """The master's solution and grading-test cells whose code (its lines of 20 characters or
    more) is all still in one cell of the student version: copies that lost their tag."""
    kept = [_code_lines(cell) for cell in student.cells]
    leaks = []
    for cell in master.cells:
        lines = {line for line in _code_lines(cell) if len(line) >= 20}
        if (tags(cell) & {SOLUTION, HIDDEN, HIDDEN_SETUP} and lines
                and any(lines <= k for k in kept)):
            leaks.append(first_line(cell.source, 60))
    return leaks


def spec_path(name: str) -> Path:
    """Where ``write_student`` keeps a notebook's grading spec (instructors only)."""
    return runtime.build_dir() / "grading" / f"{name}.json"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_student(master: Path, out_dir: Path) -> tuple[Path, Spec]:
    """Write the student version of ``master`` into ``out_dir`` and its grading spec to
    ``spec_path``; raises ``GradingError`` when it has no exercises or would leak a solution."""
    import nbformat

    nb = nbformat.read(master, as_version=4)
    spec = spec_from_notebook(nb, master.stem, _sha256(master))
    if not spec.exercises:
        raise GradingError(f"{master.stem} has no exercises (no cell tagged {CHECK})")
    student = student_version(nb)
    if leaks := solution_leaks(student, nb):
        raise GradingError(f"{master.stem}: the student version would still contain the "
                           f"solution starting {leaks[0]!r}; tag the cell copy {SOLUTION}")
    out_dir.mkdir(parents=True, exist_ok=True)
    nbformat.write(student, out_dir / master.name)
    spec_path(master.stem).parent.mkdir(parents=True, exist_ok=True)
    spec_path(master.stem).write_text(spec.to_json(), encoding="utf-8")
    return out_dir / master.name, spec


def spec_for(master: Path) -> tuple[Spec, str]:
    """The spec written with the student versions (the tests handed out), else one made from
    the course notebook now; and one line saying which."""
    import nbformat

    saved = spec_path(master.stem)
    if saved.exists():
        spec = Spec.from_json(saved.read_text(encoding="utf-8"))
        note = f"grading with the tests handed out on {spec.created} ({saved})"
        if spec.master_sha256 != _sha256(master):
            note += f"; {master.name} has changed since"
        return spec, note
    spec = spec_from_notebook(nbformat.read(master, as_version=4), master.stem, _sha256(master))
    return spec, f"no {saved}: grading with the tests of {master} as it is now"
