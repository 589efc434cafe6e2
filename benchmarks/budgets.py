"""Work and estimated T4 time of each notebook in full and paper mode.

Reads each notebook's parameter block (the ``params={...}`` of its ``helpers.setup`` call),
plans its fits with ``helpers.budget`` (forward FLOPs from the models themselves, the documents'
image counts) and prints one Markdown table; the README's "Time budgets" section is this output.
The T4 times divide by an assumed rate (``helpers.budget.T4_RATE``), not a measurement.

    python benchmarks/budgets.py
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import helpers  # noqa: F401  (chooses the Keras backend first)
from helpers import budget, config

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def _setup_call(source: str) -> ast.Call:
    code = "\n".join(line.replace("%", "pass  #", 1) if line.lstrip().startswith("%") else line
                     for line in source.splitlines())
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "setup":
            return node
    raise LookupError("no helpers.setup(...) call")


def notebook_params() -> dict[str, dict[str, Any]]:
    """``{notebook: parameter block}`` read from each notebook's first ``setup`` call."""
    found = {}
    for path in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        source = next("".join(c["source"]) for c in cells
                      if c["cell_type"] == "code" and "helpers.setup(" in "".join(c["source"]))
        block = next(k.value for k in _setup_call(source).keywords if k.arg == "params")
        found[path.stem] = eval(compile(ast.Expression(block), path.name, "eval"),  # noqa: S307
                                {"__builtins__": {}, "list": list, "range": range})
    return found


def _minutes(seconds: float) -> str:
    if seconds < 6:
        return "< 0.1"
    return f"{seconds / 60:,.1f}" if seconds < 36_000 else f"{seconds / 3600:,.0f} h"


def table() -> str:
    """The Markdown table: per notebook in full and paper mode, fits, images x epochs, TFLOP,
    T4 minutes (quick mode is minutes on a CPU, measured by ``make test``)."""
    rows = ["| notebook | mode | fits | training images x epochs | TFLOP | T4 estimate (min) |",
            "|---|---|---:|---:|---:|---:|"]
    for notebook, params in notebook_params().items():
        for mode in ("full", "paper"):
            fits = budget.plan(notebook, config.pick_params(params, mode))
            seconds = sum(f.t4_seconds for f in fits)
            rows.append(f"| {notebook} | {mode} | {len(fits)} | "
                        f"{sum(f.images * f.epochs for f in fits):,} | "
                        f"{sum(f.flops for f in fits) / 1e12:,.1f} | {_minutes(seconds)} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(table())
