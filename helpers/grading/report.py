"""What grading writes and prints: a student's feedback file, the class's CSV, the histogram
of the totals and the summary table."""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from helpers.grading.handout import Spec
from helpers.grading.kernel import Grade


def feedback(marks: Grade, spec: Spec) -> str:
    """The short markdown file a student gets."""
    lines = [f"# {spec.notebook}: {marks.student}", "",
             f"Total: {marks.total:g} of {spec.max_points:g} points.", "",
             "| exercise | points | result |", "|---|---|---|"]
    for ex in spec.exercises:
        result = marks.results[ex.key].replace("|", "\\|")
        lines.append(f"| {ex.key} | {marks.scores[ex.key]:g} of {ex.points:g} | {result} |")
    if marks.problems:
        lines += ["", "Problems:", *(f"- {p.message}" for p in marks.problems)]
    return "\n".join(lines) + "\n"


def write_csv(path: Path, grades: Sequence[Grade], spec: Spec) -> None:
    """One row per submission: points per exercise, total, seconds, problems."""
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["student", *(ex.key for ex in spec.exercises), "total", "max",
                         "seconds", "errors"])
        for g in grades:
            writer.writerow([g.student, *(f"{g.scores[ex.key]:g}" for ex in spec.exercises),
                             f"{g.total:g}", f"{spec.max_points:g}", f"{g.seconds:.0f}",
                             " | ".join(p.message for p in g.problems)])


def histogram(path: Path, grades: Sequence[Grade], spec: Spec) -> None:
    """The totals' histogram, saved as a PNG at ``path``."""
    import numpy as np
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    totals = [g.total for g in grades]
    fig = Figure(figsize=(6, 3.5))
    ax = fig.subplots()
    ax.hist(totals, bins=np.linspace(0, spec.max_points, 11), color="tab:blue", edgecolor="white")
    ax.set_xlim(0, spec.max_points)
    ax.set_xlabel(f"total points (of {spec.max_points:g})")
    ax.set_ylabel("submissions")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(f"{spec.notebook}: {len(totals)} submissions, mean {np.mean(totals):.2f}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def summary(grades: Sequence[Grade], spec: Spec) -> str:
    """The table printed at the end: mean per exercise, and failures by reason."""
    n = len(grades)
    rows = [("exercise", "mean", "points", "full marks")]
    for ex in spec.exercises:
        full = sum(g.scores[ex.key] >= ex.points for g in grades)
        mean = sum(g.scores[ex.key] for g in grades) / n
        rows.append((ex.key, f"{mean:.2f}", f"{ex.points:g}", f"{full} of {n}"))
    full = sum(g.total >= spec.max_points for g in grades)
    rows.append(("total", f"{sum(g.total for g in grades) / n:.2f}", f"{spec.max_points:g}",
                 f"{full} of {n}"))
    reasons = Counter(reason for g in grades for reason in {p.reason for p in g.problems})
    lines = [f"{spec.notebook}: {n} submissions graded", *_table(rows), ""]
    if reasons:
        lines += _table([("failure", "submissions"),
                         *((reason, str(count)) for reason, count in reasons.most_common())])
    else:
        lines.append("no failures")
    return "\n".join(lines)


def _table(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
             for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return lines
