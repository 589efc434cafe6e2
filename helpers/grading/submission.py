"""A submitted file read as the notebook to grade, or one line why it cannot be; and the cell
that is each exercise's check in it."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

from helpers.grading.handout import CHECK, Exercise, first_line, tags

MIB = 2**20
_V3_KINDS = {"code", "markdown", "raw", "heading"}


class Unreadable(Exception):
    """A file that cannot be graded; ``reason`` is ``unreadable`` (not a notebook file) or
    ``malformed`` (a notebook whose cells cannot be run as they are)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _malformed(what: str) -> Unreadable:
    return Unreadable("malformed", f"a malformed notebook, not graded: {what}")


def read(path: Path, max_mib: float) -> Any:
    """The notebook at ``path`` as nbformat 4.5, made only of what grading runs: each cell's
    type, source and tags (outputs, counts and other metadata are dropped: every submission is
    run again). Raises ``Unreadable`` for a file over ``max_mib``, not UTF-8 JSON, not a
    notebook, or one whose cells lack a type or a code cell its source."""
    try:
        size = path.stat().st_size
        if size > max_mib * MIB:
            raise Unreadable("unreadable", f"not a readable notebook: {size / MIB:.1f} MiB, "
                             f"more than the {max_mib:g} MiB a submission may be")
        data = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, ValueError, RecursionError) as err:  # unreadable, not UTF-8 JSON, too deep
        raise Unreadable("unreadable", "not a readable notebook: "
                         f"{type(err).__name__}: {first_line(str(err))}") from None
    if not isinstance(data, dict) or "nbformat" not in data:
        raise Unreadable("unreadable", "not a readable notebook: JSON without an nbformat field")
    if data["nbformat"] == 4:
        cells, kinds, key = data.get("cells"), {"code", "markdown", "raw"}, "source"
        if not isinstance(cells, list):
            raise _malformed("it has no list of cells")
    elif data["nbformat"] == 3:
        sheets, kinds, key = data.get("worksheets"), _V3_KINDS, "input"
        if not isinstance(sheets, list) or not all(
                isinstance(s, dict) and isinstance(s.get("cells"), list) for s in sheets):
            raise _malformed("nbformat 3 without a list of worksheets holding cells")
        cells = [cell for sheet in sheets for cell in sheet["cells"]]
    else:
        raise _malformed(f"nbformat {data['nbformat']!r} (3 and 4 can be graded)")
    return _rebuilt(cells, kinds, key)


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(line, str) for line in value):
        return "".join(value)
    return None


def _tags(cell: dict[str, Any]) -> list[str]:
    found = cell.get("metadata", {})
    found = found.get("tags") if isinstance(found, dict) else None
    return [t for t in found if isinstance(t, str)] if isinstance(found, list) else []


def _rebuilt(cells: list[Any], kinds: set[str], key: str) -> Any:
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_raw_cell

    made = []
    for number, cell in enumerate(cells, 1):
        where = f"cell {number} of {len(cells)}"
        if not isinstance(cell, dict):
            raise _malformed(f"{where} is not a JSON object")
        kind = cell.get("cell_type")
        if kind not in kinds:
            raise _malformed(f"{where} has no cell_type" if kind is None
                             else f"{where} has cell_type {kind!r}")
        source = _text(cell.get("source" if kind != "code" else key))
        if kind == "code" and source is None:
            raise _malformed(f"{where} (a code cell) has no {key}" if key not in cell
                             else f"{where} (a code cell): its {key} is not text")
        source = source or ""
        if kind == "heading":  # nbformat 3
            level = cell.get("level")
            level = level if isinstance(level, int) and 1 <= level <= 6 else 1
            source = "#" * level + " " + source
        new = {"code": new_code_cell, "raw": new_raw_cell}.get(kind, new_markdown_cell)(source)
        new.id = f"cell-{number}"
        if found := _tags(cell):
            new.metadata["tags"] = found
        made.append(new)
    return new_notebook(cells=made)


def _normal(source: str) -> str:
    return "\n".join(line.rstrip() for line in source.strip().splitlines())


def _is_call(statement: ast.stmt, key: str) -> bool:
    """Whether ``statement`` is a call ``check("key", ...)`` or ``<anything>.check("key", ...)``."""
    call = statement.value if isinstance(statement, ast.Expr) else None
    if not isinstance(call, ast.Call) or not call.args:
        return False
    name = getattr(call.func, "attr", getattr(call.func, "id", None))
    first = call.args[0]
    return name == "check" and isinstance(first, ast.Constant) and first.value == key


def _statements(source: str, key: str) -> list[tuple[int, int, bool]] | None:
    """Each top-level statement's first and last line and whether it calls ``key``'s check (a
    call sharing a line with another statement is not counted); None when not Python."""
    try:
        body = ast.parse(source).body
    except (SyntaxError, ValueError):
        return None
    spans = [(s.lineno, s.end_lineno or s.lineno) for s in body]
    shared = {b for (_, b), (c, _) in zip(spans, spans[1:], strict=False) if b == c}
    return [(a, b, _is_call(s, key) and a not in shared and b not in shared)
            for s, (a, b) in zip(body, spans, strict=True)]


def _other_lines(source: str, key: str) -> int:
    """How many lines of ``source`` are not calls of ``key``'s check (comments not counted)."""
    parsed = _statements(source, key)
    if parsed is None:
        return sum(bool(line.strip()) for line in source.splitlines())
    return sum(b - a + 1 for a, b, is_check in parsed if not is_check)


def _calls_text(source: str, key: str) -> list[str]:
    lines = source.splitlines()
    return [_normal("\n".join(lines[a - 1:b])) for a, b, is_check
            in _statements(source, key) or [] if is_check]


def check_cell(cells: list[Any], ex: Exercise) -> tuple[Any | None, str | None]:
    """The code cell that is ``ex``'s check, and its source restored when it was edited (None
    when it was not); (None, None) when no cell calls the check.

    The first cell whose source is the check as handed out: it stands where the handout put it,
    right after the answer, and a copy further down runs later, after more of the notebook could
    fail. Other cells that call the check are the student's and stay as they are. Without such
    a cell, of the cells that call the check, the one tagged ``check`` (the handed-out cell,
    edited), else the one with the fewest lines besides its calls (the check, not an answer
    cell ending with a call). Its calls are replaced by the check as handed out and its other
    lines kept; it counts as edited only when a call differs from the original."""
    code = [c for c in cells if c.cell_type == "code"]
    original = _normal(ex.check)
    if exact := next((c for c in code if _normal(c.source) == original), None):
        return exact, None
    call = re.compile(r"\bcheck\(\s*[\"']" + re.escape(ex.key) + r"[\"']")
    calling = [c for c in code if call.search(c.source)]
    if not calling:
        return None, None
    tagged = [c for c in calling if CHECK in tags(c)]
    cell = min(tagged or calling, key=lambda c: _other_lines(c.source, ex.key))
    calls = _calls_text(cell.source, ex.key)
    if calls and set(calls) == set(_calls_text(ex.check, ex.key)):
        return cell, None
    return cell, _restored(cell.source, ex)


def _restored(source: str, ex: Exercise) -> str:
    """``source`` with each call of the check replaced by the check as handed out; all of it
    replaced when no top-level statement is a call (or it is not Python)."""
    parsed = _statements(source, ex.key) or []
    if not any(is_check for *_, is_check in parsed):
        return ex.check
    lines, out, done = source.splitlines(), [], 0
    for a, b, is_check in parsed:
        if is_check:
            out += [*lines[done:a - 1], ex.check]
            done = b
    return "\n".join(out + lines[done:])
