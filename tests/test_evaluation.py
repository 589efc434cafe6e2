"""Ensemble averaging and the per-class analysis on inputs with known answers (CIFAR §2.3)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from helpers.evaluation import (
    average_probabilities,
    best_and_worst,
    class_report,
    cumulative_ensemble_accuracy,
    f1_comparison,
    imbalance_summary,
    member_accuracies,
    most_confused_pairs,
    ranking_ties,
)

NAMES = ["apple", "bear", "cat"]
Y = np.array([0, 1, 2, 0])

# Three members, each right on a different subset; the average is right on every image.
A = np.array([[0.6, 0.4, 0.0], [0.6, 0.4, 0.0], [0.0, 0.1, 0.9], [0.9, 0.1, 0.0]])
B = np.array([[0.4, 0.6, 0.0], [0.0, 0.9, 0.1], [0.5, 0.0, 0.5001], [0.2, 0.8, 0.0]])
C = np.array([[0.9, 0.1, 0.0], [0.2, 0.7, 0.1], [0.7, 0.0, 0.3], [0.1, 0.0, 0.9]])


def test_average_is_the_elementwise_mean():
    avg = average_probabilities([A, B, C])
    np.testing.assert_allclose(avg[0], [(0.6 + 0.4 + 0.9) / 3, (0.4 + 0.6 + 0.1) / 3, 0.0])
    np.testing.assert_allclose(avg.sum(axis=1), 1.0, atol=1e-3)
    assert avg.argmax(axis=1).tolist() == [0, 1, 2, 0]


def test_member_and_cumulative_accuracies():
    assert member_accuracies([A, B, C], Y[:, None]) == [0.75, 0.5, 0.5]
    # A alone 3/4; A+B: image 0 ties 1.0 vs 1.0 -> argmax picks class 0 (right), image 1 -> bear
    # (right), image 2 -> cat (right), image 3 -> apple (1.1 vs 0.9, right): 4/4; A+B+C: 4/4
    assert cumulative_ensemble_accuracy([A, B, C], Y) == [0.75, 1.0, 1.0]


def test_class_report_matches_sklearn_per_class_numbers():
    y_true = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 2])
    y_pred = np.array([0, 0, 1, 1, 1, 2, 2, 0, 2, 1])
    table = class_report(y_true, y_pred, NAMES)
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=[0, 1, 2])
    np.testing.assert_allclose(table["precision"], p)
    np.testing.assert_allclose(table["recall"], r)
    np.testing.assert_allclose(table["f1-score"], f)
    assert table["support"].tolist() == s.tolist() == [3, 2, 5]
    assert table.index.tolist() == NAMES
    # by hand: apple P 2/3 R 2/3; bear P 2/4 R 1; cat P 1 R 3/5
    assert table.loc["bear", "precision"] == pytest.approx(0.5)
    assert table.loc["cat", "recall"] == pytest.approx(0.6)


def test_a_class_never_predicted_gets_zero_not_a_warning():
    table = class_report(np.array([0, 1, 2]), np.array([0, 0, 0]), NAMES)
    assert table.loc["cat", "precision"] == 0 and table.loc["cat", "f1-score"] == 0


def test_best_and_worst_by_f1():
    y_true = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 2])
    y_pred = np.array([0, 0, 1, 1, 1, 2, 2, 0, 2, 1])
    best, worst = best_and_worst(class_report(y_true, y_pred, NAMES), k=1)
    # F1: apple 2/3, bear 2/3, cat 0.75
    assert best.index.tolist() == ["cat"]
    assert worst.index.tolist() == ["bear"]  # ties keep class order; worst lists lowest first


def test_a_tie_at_the_cut_and_classes_without_test_images_are_said():
    report = pd.DataFrame({"f1-score": [0.0, 0.0, 0.0, 0.5, 0.0], "support": [2, 3, 1, 4, 0]},
                          index=["a", "b", "c", "d", "e"])
    best, worst = best_and_worst(report, k=2)
    assert "e" not in best.index and "e" not in worst.index  # no test image: not ranked
    assert worst.index.tolist() == ["c", "b"]
    note = ranking_ties(report, k=2).splitlines()
    assert note == ["3 classes share f1-score 0.00: the best 2 show 1 of them, in class order, "
                    "not by rank",
                    "3 classes share f1-score 0.00: the worst 2 show 2 of them, in class order, "
                    "not by rank",
                    "1 class has no test image here and is not ranked"]
    assert ranking_ties(report.iloc[[0, 3]], k=1) == ""


def test_most_confused_pairs_from_a_known_matrix():
    matrix = np.array([[5, 3, 0], [1, 6, 0], [4, 0, 2]])
    pairs = most_confused_pairs(matrix, NAMES, k=3)
    assert pairs[["true", "predicted as"]].values.tolist() == [
        ["cat", "apple"], ["apple", "bear"], ["bear", "apple"],
    ]  # fmt: skip
    assert pairs["count"].tolist() == [4, 3, 1]
    np.testing.assert_allclose(pairs["share of true class"], [4 / 6, 3 / 8, 1 / 7])
    # the diagonal never appears and empty cells are dropped
    assert len(most_confused_pairs(matrix, NAMES, k=9)) == 3


def test_most_confused_pairs_agree_with_sklearn_confusion_matrix():
    rng = np.random.default_rng(0)
    y_true, y_pred = rng.integers(0, 3, 200), rng.integers(0, 3, 200)
    matrix = confusion_matrix(y_true, y_pred)
    top = most_confused_pairs(matrix, NAMES, k=1).iloc[0]
    i, j = NAMES.index(top["true"]), NAMES.index(top["predicted as"])
    assert i != j and top["count"] == ((y_true == i) & (y_pred == j)).sum()


def test_f1_comparison_gain_column():
    y_true = np.array([0, 0, 1, 1, 2, 2])
    member = np.array([0, 1, 1, 1, 2, 0])
    ensemble = np.array([0, 0, 1, 1, 2, 2])
    table = f1_comparison(y_true, {"best member": member, "ensemble": ensemble}, NAMES)
    np.testing.assert_allclose(table["ensemble"], 1.0)
    # member: apple P 1/2 R 1/2; bear P 2/3 R 1; cat P 1 R 1/2
    np.testing.assert_allclose(table["best member"], [0.5, 0.8, 2 / 3])
    np.testing.assert_allclose(table["gain"], [0.5, 0.2, 1 / 3])


def test_imbalance_summary():
    import pandas as pd

    report = pd.DataFrame({"f1-score": [0.9, 0.1, 0.5, 0.5]})
    summary = imbalance_summary(report)
    assert summary["min"] == 0.1 and summary["max"] == 0.9
    assert summary["best_to_worst_gap"] == pytest.approx(0.8)
    assert summary["mean"] == pytest.approx(0.5)
    assert summary["classes_below_half_mean"] == 1
    assert summary["interquartile_range"] == pytest.approx(0.6 - 0.4)
