"""Resumable sweeps: one CSV row per finished run (RATIO's epoch ratios, MOTOR's resolution and
block studies).

A run's row is written only once the run has finished, as one complete line, so a sweep cut off
midway loses only the run in progress: the rerun drops a torn or malformed last row, skips every
finished run, redoes the cut one and carries on. Nothing finished is lost or duplicated. One
process at a time runs a sweep (``<file>.lock``, ``helpers.backup.held``): a second one started
meanwhile stops at once with ``helpers.backup.InUse``, naming the holder's pid.
"""

from __future__ import annotations

import csv
import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from helpers.backup import held

SECONDS = "seconds"


def _encode(value: Any) -> str:
    """Scalars as text; lists and dicts (e.g. a history) as JSON."""
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value)
    if hasattr(value, "item"):  # NumPy scalar
        value = value.item()
    return "" if value is None else str(value)


def _decode(text: str) -> Any:
    if text == "":
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _run_key(config: Mapping[str, Any], keys: Sequence[str]) -> tuple[str, ...]:
    return tuple(_encode(config[k]) for k in keys)


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The finished rows of ``path``. A torn or malformed last row (a write cut off, with or
    without its newline) is dropped from the file, so its run is redone; a malformed row
    before it is an error naming its line."""
    if not path.exists():
        return []
    text = path.read_text()
    lines = [line + "\n" for line in text.split("\n")[:-1]]  # a tail without "\n" is torn
    records, ends = [], []
    reader = csv.reader(lines)
    for fields in reader:
        records.append(fields)
        ends.append(reader.line_num)
    if len(records) > 1:
        last = "".join(lines[ends[-2] : ends[-1]])
        if len(records[-1]) != len(records[0]) or last.count('"') % 2:  # short, or quote open
            records.pop()
            ends.pop()
    kept = "".join(lines[: ends[-1] if ends else 0])
    if kept != text:
        path.write_text(kept)
    if not records:
        return []
    header, *rows = records
    for row, end in zip(rows, ends[1:], strict=True):
        if len(row) != len(header):
            raise ValueError(
                f"{path} line {end} has {len(row)} fields, the header {len(header)}: "
                "delete that line to redo its run"
            )
    return [{k: _decode(v) for k, v in zip(header, row, strict=True)} for row in rows]


def read_rows_header(path: Path) -> list[str] | None:
    """The column names of an existing sweep file, if any."""
    if not path.exists() or path.stat().st_size == 0:
        return None
    with open(path, newline="") as fh:
        return next(csv.reader(fh), None)


def _append(path: Path, row: Mapping[str, Any], columns: Sequence[str]) -> None:
    new = not path.exists() or path.stat().st_size == 0
    line = _line(row, columns)
    with open(path, "a", newline="") as fh:
        if new:
            fh.write(_line(dict(zip(columns, columns, strict=True)), columns))
        fh.write(line)  # one write of a whole line: a kill leaves it whole or torn, never mixed
        fh.flush()
        os.fsync(fh.fileno())


def _line(row: Mapping[str, Any], columns: Sequence[str]) -> str:
    from io import StringIO

    buf = StringIO()
    csv.writer(buf, lineterminator="\n").writerow([_encode(row.get(c)) for c in columns])
    return buf.getvalue()


def sweep(
    path: Path | str,
    grid: Sequence[Mapping[str, Any]],
    run: Callable[[Mapping[str, Any]], Mapping[str, Any]],
    description: str = "sweep",
) -> pd.DataFrame:
    """Run ``run(config)`` for every config of ``grid`` that ``path`` has no row for.

    ``run`` returns the run's results (scalars, or lists/dicts such as a Keras history, stored as
    JSON); the row holds the config, the results and the wall seconds. Returns every finished row
    of the grid, in grid order, as a DataFrame.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not grid:
        raise ValueError("the sweep grid is empty")
    keys = list(grid[0])
    if any(list(config) != keys for config in grid):
        raise ValueError(f"every grid entry must have the keys {keys}")
    with held(Path(f"{path}.lock"), f"the sweep {path}"):
        rows = _run_missing(path, grid, keys, run, description)
    return pd.DataFrame([rows[_run_key(c, keys)] for c in grid])


def _run_missing(
    path: Path,
    grid: Sequence[Mapping[str, Any]],
    keys: Sequence[str],
    run: Callable[[Mapping[str, Any]], Mapping[str, Any]],
    description: str,
) -> dict[tuple[str, ...], dict[str, Any]]:
    """Every row of ``path``, by run key, after running the grid's configs it has none for."""
    rows = {_run_key(r, keys): r for r in read_rows(path)}
    todo = [c for c in grid if _run_key(c, keys) not in rows]
    if len(todo) < len(grid):
        print(
            f"{description}: {len(grid) - len(todo)} of {len(grid)} runs already in {path}, "
            "reusing them"
        )
    columns = list(read_rows_header(path) or [])
    for config in tqdm(todo, desc=description, unit="run"):
        start = time.time()
        outcome = dict(run(config))
        row = {**config, **outcome, SECONDS: round(time.time() - start, 2)}
        if not columns:
            columns = list(row)
        missing = set(row) - set(columns)
        if missing:
            raise ValueError(f"run returned keys {sorted(missing)} not in the sweep's columns")
        _append(path, row, columns)
        rows[_run_key(config, keys)] = {k: _decode(_encode(v)) for k, v in row.items()}
    return rows
