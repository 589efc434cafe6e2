"""Per-class evaluation and ensembles (CIFAR §2.2-2.3, Tables 8 and 11, "アンサンブル学習");
notebook 06, 実験2 and 実験3, reads them.

The document averages its five models' predicted probabilities (``y_pred_avg``), then reads the
per-class precision / recall / F1 / support table (scikit-learn's ``classification_report``) and
the confusion-matrix heatmap. These functions compute the same, plus the tables the document
reads by eye: best and worst classes, the most confused pairs, per-class F1 of two predictors.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, classification_report, f1_score


def average_probabilities(member_probabilities: Sequence[np.ndarray]) -> np.ndarray:
    """The ensemble's prediction: the mean of the members' ``(N, classes)`` probabilities."""
    return np.mean(np.stack(member_probabilities), axis=0)


def member_accuracies(
    member_probabilities: Sequence[np.ndarray], y_true: np.ndarray
) -> list[float]:
    """Each member's accuracy on its own."""
    y_true = np.ravel(y_true)
    return [float(accuracy_score(y_true, p.argmax(axis=1))) for p in member_probabilities]


def cumulative_ensemble_accuracy(
    member_probabilities: Sequence[np.ndarray], y_true: np.ndarray
) -> list[float]:
    """Accuracy of the ensemble of the first 1, 2, ..., n members (the gain as they are added)."""
    y_true = np.ravel(y_true)
    running = np.cumsum(np.stack(member_probabilities), axis=0)
    return [float(accuracy_score(y_true, r.argmax(axis=1))) for r in running]


def class_report(
    y_true: np.ndarray, y_pred: np.ndarray, class_names: Sequence[str]
) -> pd.DataFrame:
    """Per-class precision, recall, F1 and support (one row per class, Table 8's layout)."""
    report = classification_report(
        np.ravel(y_true),
        np.ravel(y_pred),
        labels=range(len(class_names)),
        target_names=list(class_names),
        output_dict=True,
        zero_division=0,
    )
    rows = {name: report[name] for name in class_names}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table["support"] = table["support"].astype(int)
    table.index.name = "class"
    return table


def best_and_worst(
    report: pd.DataFrame, k: int = 10, metric: str = "f1-score"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ``k`` classes with the highest and the lowest ``metric`` among those with test images
    (a class without any has no score to rank); ties by class order (``ranking_ties`` says
    where that decides)."""
    ordered = report[report["support"] > 0].sort_values(metric, ascending=False, kind="stable")
    return ordered.head(k), ordered.tail(k).iloc[::-1]


def ranking_ties(report: pd.DataFrame, k: int = 10, metric: str = "f1-score") -> str:
    """One line per end of ``best_and_worst``'s lists that a tie cuts through (more classes
    share the value at the cut than the list shows), and one for the classes left out for
    having no test image; "" when neither happens."""
    ranked = report[report["support"] > 0][metric]
    lines = []
    for end, listed in (("best", ranked.nlargest(k)), ("worst", ranked.nsmallest(k))):
        edge = listed.iloc[-1]  # the value at the cut
        tied, shown = int((ranked == edge).sum()), int((listed == edge).sum())
        if tied > shown:
            lines.append(f"{tied} classes share {metric} {edge:.2f}: the {end} {k} show {shown} "
                         "of them, in class order, not by rank")
    empty = int((report["support"] == 0).sum())
    if empty:
        lines.append(f"{empty} classes have no test image here and are not ranked" if empty > 1
                     else "1 class has no test image here and is not ranked")
    return "\n".join(lines)


def most_confused_pairs(
    matrix: np.ndarray, class_names: Sequence[str], k: int = 10
) -> pd.DataFrame:
    """The ``k`` largest off-diagonal cells of a confusion matrix (rows true, columns predicted),
    with the share of the true class's images they take."""
    matrix = np.asarray(matrix)
    off = matrix.copy()
    np.fill_diagonal(off, 0)
    order = np.argsort(off, axis=None, kind="stable")[::-1][:k]
    true, pred = np.unravel_index(order, matrix.shape)
    counts = off[true, pred]
    keep = counts > 0
    row_totals = matrix.sum(axis=1)
    return pd.DataFrame(
        {
            "true": [class_names[i] for i in true[keep]],
            "predicted as": [class_names[j] for j in pred[keep]],
            "count": counts[keep],
            "share of true class": counts[keep] / np.maximum(row_totals[true[keep]], 1),
        }
    )


def f1_comparison(
    y_true: np.ndarray,
    predictions: dict[str, np.ndarray],
    class_names: Sequence[str],
) -> pd.DataFrame:
    """Per-class F1 of several predictors side by side (e.g. best member vs ensemble); with two,
    a ``gain`` column (second minus first)."""
    labels = range(len(class_names))
    table = pd.DataFrame(
        {
            name: f1_score(np.ravel(y_true), np.ravel(p), labels=labels, average=None,
                           zero_division=0)
            for name, p in predictions.items()
        },
        index=pd.Index(list(class_names), name="class"),
    )  # fmt: skip
    if len(predictions) == 2:
        first, second = predictions
        table["gain"] = table[second] - table[first]
    return table


def imbalance_summary(report: pd.DataFrame, metric: str = "f1-score") -> dict[str, float]:
    """How unequal the classes are (CIFAR §4): spread of ``metric`` over the classes."""
    values = report[metric].to_numpy(dtype=float)
    q1, q3 = np.percentile(values, [25, 75])
    return {
        "min": float(values.min()),
        "max": float(values.max()),
        "mean": float(values.mean()),
        "std": float(values.std()),
        "interquartile_range": float(q3 - q1),
        "best_to_worst_gap": float(values.max() - values.min()),
        "classes_below_half_mean": int((values < values.mean() / 2).sum()),
    }
