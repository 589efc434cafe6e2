"""Work and estimated T4 time of each notebook in full and paper mode.

Reads each notebook's lesson and parameter block (``helpers.lesson``), plans its fits with
``helpers.budget`` (forward FLOPs from the models themselves, the documents' image counts) and
prints one Markdown table; the README's "Time budgets" section is this output.
The T4 times divide by an assumed rate (``helpers.budget.T4_RATE``), not a measurement.

    python benchmarks/budgets.py
"""

from __future__ import annotations

from typing import Any

import helpers  # noqa: F401  (chooses the Keras backend first)
from helpers import budget, config, lesson


def notebook_params() -> dict[str, dict[str, Any]]:
    """``{notebook: parameter block}``: each notebook's ``PARAMS`` (``helpers.lesson``)."""
    return {path.stem: lesson.load(path).params for path in lesson.course()}


def _minutes(seconds: float) -> str:
    if seconds < 6:
        return "< 0.1"
    return f"{seconds / 60:,.1f}" if seconds < 36_000 else f"{seconds / 3600:,.0f} h"


def table() -> str:
    """The Markdown table: per notebook in full and paper mode, fits, images x epochs, TFLOP,
    T4 minutes (quick mode is minutes on a CPU, measured by ``make test``)."""
    rows = ["| notebook | mode | fits | training images x epochs | TFLOP | T4 estimate (min) |",
            "|---|---|---:|---:|---:|---:|"]
    for path in lesson.course():
        facts, notebook = lesson.load(path), path.stem
        for mode in ("full", "paper"):
            fits = facts.fits(config.pick_params(facts.params, mode), budget.document_images)
            seconds = sum(f.t4_seconds for f in fits)
            rows.append(f"| {notebook} | {mode} | {len(fits)} | "
                        f"{sum(f.images * f.epochs for f in fits):,} | "
                        f"{sum(f.flops for f in fits) / 1e12:,.1f} | {_minutes(seconds)} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(table())
