"""Measured headline numbers with provenance, and the documents' own numbers.

A notebook records through ``cfg.record(**metrics)`` (``helpers.config``), which calls
``record`` here: ``results/<mode>/<notebook>.json`` holds the metrics and the run's provenance
as structured fields (data and weights kinds, backend, versions, ...) and the lesson's facts
(title, headline metric and the documents' numbers, from its ``LESSON``: ``helpers.lesson``).
``report()`` sets each measured number beside the document's. Measured numbers only ever come
from a run; the documents' numbers live in the notebook's ``LESSON`` (docs/architecture.md,
"Results").

A run is complete once it has recorded its lesson's ``headline`` metric (every notebook
records it in its last ``cfg.record`` call; a test checks this). Until then its records go to
``<notebook>.partial.json``, so a run stopped between two calls never replaces an earlier
complete record; the report says so. Files are written to a unique temporary name in the same
folder and moved into place, so concurrent runs never see half a file.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from helpers import runtime, settings
from helpers.lesson import Lesson, named


class ResultsError(ValueError):
    """A results file that cannot be read; the message names it and says what to do."""


def results_dir() -> Path:
    """``LAB_RESULTS``, default ``results/`` under ``runtime.storage_root()`` (the project, or
    the course folder on Google Drive when it is mounted on Colab)."""
    return settings.path("LAB_RESULTS") or runtime.storage_root() / "results"


def _plain(value: Any) -> Any:
    """JSON-ready copy: NumPy scalars and arrays become Python numbers and lists."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _git_commit() -> str:
    try:
        root = runtime.project_root()
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return "unknown"
    return (commit + ("-dirty" if dirty else "")) if commit else "unknown"


def result_path(notebook: str, mode: str, partial: bool = False) -> Path:
    """``results/<mode>/<notebook>.json``, or the ``.partial.json`` of an unfinished run."""
    return results_dir() / mode / f"{notebook}{'.partial' if partial else ''}.json"


def _write(path: Path, payload: Mapping[str, Any]) -> None:
    """``payload`` as JSON at ``path``: written to a unique temporary file in the same folder,
    then moved into place (``os.replace``), so readers and other writers never see half."""
    text = json.dumps(payload, indent=2, ensure_ascii=False) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)  # mkstemp's 0o600 would hide results from a shared course folder
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _complete(lesson: Lesson, metrics: Mapping[str, Any]) -> bool:
    return lesson.headline is None or lookup(metrics, lesson.headline) is not None


def record(
    lesson: Lesson | str, mode: str, metrics: Mapping[str, Any], provenance: Mapping[str, Any]
) -> pd.DataFrame:
    """Write ``results/<mode>/<notebook>.json`` with ``metrics``, the lesson's facts and
    ``provenance`` (plus the git commit and the date); return the measured-vs-document table.
    Without the lesson's headline metric the run is not complete yet: it goes to
    ``<notebook>.partial.json`` and the earlier complete record stays. A name stands for the
    lesson of that project notebook (``lesson.named``)."""
    lesson = named(lesson) if isinstance(lesson, str) else lesson
    notebook = lesson.notebook
    complete = _complete(lesson, metrics)
    path = result_path(notebook, mode, partial=not complete)
    payload = {
        "metrics": _plain(metrics),
        "lesson": lesson.as_record(),
        "provenance": _plain(
            {
                **provenance,
                "git_commit": _git_commit(),
                "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            }
        ),
    }
    _write(path, payload)
    line = f"recorded {len(metrics)} metric(s) to {path}"
    if complete:
        result_path(notebook, mode, partial=True).unlink(missing_ok=True)
    else:
        line += (f"; {result_path(notebook, mode).name} is replaced once "
                 f"{lesson.headline} is recorded")
    print(line)
    return shown(comparison(lesson, payload["metrics"]), not_comparable(provenance))


def not_comparable(provenance: Mapping[str, Any]) -> str:
    """Why this run's numbers cannot stand beside the documents' (its data is not the real
    data, or its backbone weights not ImageNet's), or ``""`` when they can."""
    reasons = [f"{name}: {entry.get('kind')} data"
               for name, entry in provenance.get("data", {}).items() if entry.get("kind") != "real"]
    reasons += [f"{name}: {entry.get('label', entry.get('kind'))} weights"
                for name, entry in provenance.get("weights", {}).items()
                if entry.get("kind") != "imagenet"]
    return "; ".join(reasons)


def shown(rows: list[dict[str, Any]], not_comparable: str = "") -> pd.DataFrame:
    """``comparison``'s rows as a table to display: whole numbers stay whole, fractions have
    four decimals, a number the document does not report is ``None`` (object columns: pandas
    would turn a count into ``1540.000000`` and ``None`` into ``NaN``). With ``not_comparable``
    (``not_comparable(provenance)``), each document number's row says that this run does not
    reproduce it, and why."""
    def value(v: Any) -> Any:
        return round(v, 4) if isinstance(v, float) else v

    def comparable(row: dict[str, Any]) -> str:
        if row["document"] is None:
            return "-"
        return f"no: {not_comparable}" if not_comparable else "yes"
    return pd.DataFrame([{**row, "measured": value(row["measured"]),
                          "document": value(row["document"]), "comparable": comparable(row)}
                         for row in rows], dtype=object)


def _redo(notebook: str) -> str:
    return f"rerun {notebook} to record it again, or delete the file"


def load(notebook: str, mode: str) -> dict[str, Any] | None:
    """The last complete run's record, ``None`` if there is none; a file that cannot be read
    is a ``ResultsError`` that names it and says what to do."""
    path = result_path(notebook, mode)
    if not path.exists():
        return None
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        what = "empty" if not err.doc.strip() else f"truncated or not JSON ({err})"
        raise ResultsError(f"{path} is {what}; {_redo(notebook)}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ResultsError(f"{path} cannot be read ({err}); {_redo(notebook)}") from None
    if not (isinstance(saved, dict) and isinstance(saved.get("metrics"), dict)
            and isinstance(saved.get("provenance"), dict)
            and isinstance(saved.get("lesson", {}), dict)):
        raise ResultsError(f"{path} holds no metrics and provenance; {_redo(notebook)}")
    return saved


def lookup(metrics: Mapping[str, Any], dotted: str) -> Any:
    """``metrics["a"]["b"]`` for ``"a.b"``; ``None`` where the path is absent."""
    value: Any = metrics
    for part in dotted.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def comparison(lesson: Lesson, metrics: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Measured vs document: every document number of ``lesson``, then the other scalar
    metrics (document ``None``: the document reports none)."""
    rows = [
        {
            "metric": metric,
            "measured": lookup(metrics, metric),
            "document": doc.value,
            "source": doc.source,
            "note": doc.note,
        }
        for metric, doc in lesson.document.items()
    ]
    documented = {row["metric"] for row in rows}
    rows += [
        {"metric": k, "measured": v, "document": None, "source": "not reported", "note": ""}
        for k, v in metrics.items()
        if k not in documented and isinstance(v, (int, float))
    ]
    return rows


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def source_kinds(sources: Mapping[str, Mapping[str, Any]], empty: str) -> str:
    """``{"mnist": {"kind": "stand-in", ...}}`` -> ``"mnist: stand-in"``."""
    return "; ".join(f"{name}: {entry['kind']}" for name, entry in sources.items()) or empty


# The provenance fields each row of the report shows.
REPORTED = ("data", "weights", "date", "device", "backend", "git_commit")


def recorded_lesson(notebook: str, saved: Mapping[str, Any]) -> Lesson:
    """The lesson's facts a results record keeps (a record from before they were kept: those
    of the project's notebook)."""
    if "lesson" in saved:
        return Lesson.from_record(notebook, saved["lesson"])
    return named(notebook)


def _rows(notebook: str, mode: str) -> list[str]:
    """The report's rows for one notebook and mode: its headline and document numbers."""
    saved = load(notebook, mode)
    if saved is None:
        return []
    metrics, prov = saved["metrics"], saved["provenance"]
    lesson = recorded_lesson(notebook, saved)
    missing = [name for name in REPORTED if name not in prov]
    if missing:
        raise ResultsError(f"{result_path(notebook, mode)} lacks provenance "
                           f"{', '.join(missing)}; {_redo(notebook)}")
    return [
        f"| {notebook} | {mode} | {row['metric']} | {_fmt(row['measured'])} | "
        f"{_fmt(row['document'])} | {row['source']} | "
        f"{source_kinds(prov['data'], 'none')} | "
        f"{source_kinds(prov['weights'], 'none')} | "
        f"{prov['date'][:10]}, {prov['device']}, {prov['backend']}, "
        f"{prov['git_commit']} |"
        for row in comparison(lesson, metrics)
        if row["document"] is not None or row["metric"] == lesson.headline
    ]


def _unfinished(notebook: str, mode: str) -> str | None:
    """The line for a run that stopped before recording its headline metric, if any."""
    partial = result_path(notebook, mode, partial=True)
    if not partial.exists():
        return None
    shown = ("the table shows the earlier complete run" if result_path(notebook, mode).exists()
             else "no complete run is recorded")
    try:
        headline = json.loads(partial.read_text(encoding="utf-8"))["lesson"]["headline"]
    except (OSError, ValueError, KeyError, TypeError):
        headline = "its headline metric"
    return (f"{notebook} ({mode}): a run stopped before recording {headline} "
            f"({partial}) and {shown}; rerun {notebook} to finish it")


def recorded_notebooks(modes: tuple[str, ...]) -> list[str]:
    """The notebooks with a results file (complete or partial) in any of ``modes``, in order."""
    found = {path.name.split(".")[0] for mode in modes
             if (results_dir() / mode).is_dir() for path in (results_dir() / mode).glob("*.json")}
    return sorted(found)


def report(modes: tuple[str, ...] = runtime.MODES) -> str:
    """Markdown table: every recorded headline and document number, measured beside document;
    below it, one line per results file that cannot be read (the rest are reported) and per
    run that stopped before its headline metric."""
    lines = [
        "| notebook | mode | metric | measured | document | source | data | weights "
        "| measured on |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    notes = []
    for notebook in recorded_notebooks(modes):
        for mode in modes:
            try:
                lines += _rows(notebook, mode)
            except ResultsError as err:
                notes.append(f"not in the table: {err}")
            notes += filter(None, [_unfinished(notebook, mode)])
    table = "\n".join(lines) if len(lines) > 2 else (
        "No results recorded yet: run `make run` (quick) or the notebooks in full mode.")
    return "\n\n".join([table, "\n".join(notes)]) if notes else table
