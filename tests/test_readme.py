"""The README's results table is the output of ``python -m helpers report`` over the committed
``results/``: a stale table (results re-run, table not regenerated) fails here."""

from __future__ import annotations

from pathlib import Path

from helpers import results

ROOT = Path(__file__).resolve().parents[1]


def _readme_results() -> str:
    text = (ROOT / "README.md").read_text()
    return text.split("\n## Results\n", 1)[1].split("\n## ", 1)[0]


def test_readme_results_table_matches_the_committed_results(monkeypatch) -> None:
    monkeypatch.setenv("LAB_RESULTS", str(ROOT / "results"))
    section = _readme_results()
    assert f"\n{results.report()}\n" in section, (
        "README's results table is stale: paste the output of `python -m helpers report`"
    )
    assert sum(line.startswith("| ") for line in section.splitlines()) == sum(
        line.startswith("| ") for line in results.report().splitlines()
    ), "README's results section has table rows that the report does not produce"


def test_readme_time_budgets_are_the_script_output() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("budgets", ROOT / "benchmarks" / "budgets.py")
    budgets = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(budgets)
    assert f"\n{budgets.table()}\n" in (ROOT / "README.md").read_text(), (
        "README's time budgets are stale: paste the output of `python benchmarks/budgets.py`"
    )
