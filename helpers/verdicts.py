"""Verdicts the numbers support, and only those (docs/architecture.md, "Honest numbers").

Every printed comparison ("higher", "best", "saturates", "reproduced") goes through one of these
functions. An accuracy measured on ``n`` images carries binomial noise: two accuracies differ
only when their 95% Wilson intervals do not overlap (a conservative rule: it may miss a small
real difference, it does not announce a difference that is noise). Other numbers (losses, sweep
values) differ only by more than a ``margin`` the notebook states in its parameter block.
Otherwise the verdict says plainly that this run cannot detect a difference, and why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import binomtest, ttest_rel

LEVEL = 0.95


@dataclass(frozen=True)
class Verdict:
    """``detected``: whether the numbers support the claim; ``text``: the sentence to print."""

    detected: bool
    text: str

    def __bool__(self) -> bool:
        return self.detected

    def __str__(self) -> str:
        return self.text


def accuracy_interval(accuracy: float, n: int, level: float = LEVEL) -> tuple[float, float]:
    """The Wilson interval of an accuracy measured on ``n`` images."""
    if n <= 0:
        raise ValueError(f"an accuracy needs at least one image, got n={n}")
    hits = round(float(accuracy) * n)
    ci = binomtest(hits, n).proportion_ci(confidence_level=level, method="wilson")
    return float(ci.low), float(ci.high)


def _why(why: str) -> str:
    return f" ({why})" if why else ""


def compare_accuracies(accuracies: Mapping[str, float], n: int, what: str = "accuracy",
                       why: str = "") -> Verdict:
    """Is the highest of ``accuracies`` (each on ``n`` images) higher than every other?"""
    if len(accuracies) < 2:
        raise ValueError("a comparison needs at least two accuracies")
    ranked = sorted(accuracies.items(), key=lambda item: item[1], reverse=True)
    intervals = {name: accuracy_interval(value, n) for name, value in ranked}
    best, rest = ranked[0][0], ranked[1:]
    low = intervals[best][0]
    shown = ", ".join(f"{name} {v:.3f} [{intervals[name][0]:.3f}, {intervals[name][1]:.3f}]"
                      for name, v in ranked)
    if all(intervals[name][1] < low for name, _ in rest):
        return Verdict(True, f"{best} has the highest {what}: {shown} on {n} images each")
    return Verdict(False, f"no difference in {what} this run can detect: {shown} on {n} images "
                          f"each, intervals overlap{_why(why)}")


def above_chance(accuracy: float, n: int, chance: float, what: str = "accuracy",
                 why: str = "") -> Verdict:
    """Is ``accuracy`` on ``n`` images above the ``chance`` level (its whole interval)?"""
    low, high = accuracy_interval(accuracy, n)
    shown = f"{what} {accuracy:.3f} [{low:.3f}, {high:.3f}] on {n} images, chance {chance:.3f}"
    if low > chance:
        return Verdict(True, f"above chance: {shown}")
    return Verdict(False, f"not distinguishable from chance: {shown}{_why(why)}")


def still_rising(curve: Sequence[float], n: int, what: str = "accuracy",
                 window: int = 2) -> Verdict:
    """Was a model still improving when its fit ended: is the last epoch's ``curve`` value (an
    accuracy on ``n`` images) above its value ``window`` epochs earlier, intervals apart? A model
    still rising was stopped too early to compare (LECTURE, データ拡張の注意点: its gap to
    another model mixes the augmentation with under-training)."""
    if len(curve) <= window:
        return Verdict(False, f"{what}: {len(curve)} epochs, too few to tell a trend")
    before, last = float(curve[-1 - window]), float(curve[-1])
    low, _ = accuracy_interval(last, n)
    _, high = accuracy_interval(before, n)
    shown = (f"{what} {before:.3f} at epoch {len(curve) - window}, {last:.3f} at epoch "
             f"{len(curve)}, on {n} images")
    if low > high:
        return Verdict(True, f"still rising when the fit ended: {shown}")
    return Verdict(False, f"no rise this run can detect over its last {window} epochs: {shown}")


def curves_differ(curves: Mapping[str, Sequence[float]], n: int, what: str = "accuracy",
                  why: str = "") -> Verdict:
    """Do the runs' per-epoch ``curves`` (accuracies on ``n`` images each epoch) differ: is
    there an epoch where the highest run's interval lies above the lowest run's? Each epoch is
    one comparison, so the intervals are widened to the level ``1 - 0.05 / epochs``
    (Bonferroni): over the whole curve, noise alone is still taken for a difference at most
    5% of the time. Epochs are compared up to the shortest curve."""
    if len(curves) < 2:
        raise ValueError("a comparison needs at least two curves")
    epochs = min(len(c) for c in curves.values())
    if epochs == 0:
        raise ValueError("a comparison needs at least one epoch in every curve")
    level = 1 - (1 - LEVEL) / epochs
    best = None
    for epoch in range(epochs):
        values = {name: float(c[epoch]) for name, c in curves.items()}
        high, low = max(values, key=values.get), min(values, key=values.get)
        gap = accuracy_interval(values[high], n, level)[0] - accuracy_interval(values[low], n,
                                                                               level)[1]
        if best is None or gap > best[0]:
            best = (gap, epoch + 1, high, values[high], low, values[low])
    gap, epoch, high, top, low, bottom = best
    shown = (f"{what} at epoch {epoch}: {high} {top:.3f}, {low} {bottom:.3f} on {n} images "
             f"({level:.1%} intervals, {epochs} epochs compared)")
    if gap > 0:
        return Verdict(True, f"the curves differ: {shown}")
    return Verdict(False, f"no difference between the curves this run can detect; the largest, "
                          f"{shown}, is within the noise{_why(why)}")


def fell_below(start: float, curve: Sequence[float], n: int, what: str = "accuracy",
               why: str = "") -> Verdict:
    """Did an accuracy on ``n`` images fall below its ``start`` at some point of ``curve``
    (the values after it, on the same images): does the lowest value's interval lie below the
    start's? The intervals are widened to ``1 - 0.05 / len(curve)`` as in ``curves_differ``."""
    if not len(curve):
        raise ValueError("a fall needs at least one value after the start")
    level = 1 - (1 - LEVEL) / len(curve)
    lowest = int(np.argmin(curve))
    value = float(curve[lowest])
    shown = (f"{what} {float(start):.3f} at the start, lowest {value:.3f} at step {lowest + 1} "
             f"of {len(curve)}, on {n} images ({level:.1%} intervals)")
    if accuracy_interval(value, n, level)[1] < accuracy_interval(start, n, level)[0]:
        return Verdict(True, f"fell below the start: {shown}")
    return Verdict(False, f"no fall below the start this run can detect: {shown}{_why(why)}")


def compare_values(values: Mapping[str, float], margin: float, what: str,
                   lower_is_better: bool = False, why: str = "") -> Verdict:
    """Is the best of ``values`` better than every other by more than ``margin``?"""
    if len(values) < 2:
        raise ValueError("a comparison needs at least two values")
    ranked = sorted(values.items(), key=lambda item: item[1], reverse=not lower_is_better)
    (best, value), (_, runner_up) = ranked[0], ranked[1]
    shown = ", ".join(f"{name} {v:.3f}" for name, v in ranked)
    word = "lowest" if lower_is_better else "highest"
    if abs(value - runner_up) > margin:
        return Verdict(True, f"{best} has the {word} {what} by more than {margin:g}: {shown}")
    return Verdict(False, f"no difference in {what} larger than the margin {margin:g}: "
                          f"{shown}{_why(why)}")


def paired_above(values: Sequence[float], baseline: Sequence[float], what: str,
                  names: tuple[str, str] = ("these", "the baseline"), why: str = "") -> Verdict:
    """Are ``values`` above ``baseline``, measured on the same items (one pair per image)?
    Only when the 95% interval of the mean paired difference (Student's t, ``ttest_rel``)
    lies above zero."""
    values, baseline = np.asarray(values, float), np.asarray(baseline, float)
    if values.shape != baseline.shape or values.ndim != 1 or len(values) < 2:
        raise ValueError("a paired comparison needs two equal-length lists of at least two values")
    low, high = ttest_rel(values, baseline).confidence_interval(LEVEL)
    shown = (f"{what}: {names[0]} {values.mean():.3f}, {names[1]} {baseline.mean():.3f}, "
             f"difference {values.mean() - baseline.mean():+.3f} [{low:+.3f}, {high:+.3f}] "
             f"over {len(values)} images")
    if low > 0:
        return Verdict(True, f"{names[0]} above {names[1]}: {shown}")
    return Verdict(False, f"no difference this run can detect: {shown}{_why(why)}")


def predicted(probabilities: Sequence[float], class_names: Sequence[str],
              decimals: int = 2) -> str:
    """``"predicted zebra"``, or, when the highest probabilities are equal at the precision
    shown (``decimals``), ``"no prediction: horse and zebra tie at 0.50"``: a tie is not a
    prediction, whatever ``argmax`` picks."""
    shown = [round(float(p), decimals) for p in probabilities]
    top = max(shown)
    tied = [name for name, p in zip(class_names, shown, strict=True) if p == top]
    if len(tied) == 1:
        return f"predicted {tied[0]}"
    return f"no prediction: {', '.join(tied[:-1])} and {tied[-1]} tie at {top:.{decimals}f}"


def most_frequent_confusion(matrix: Sequence[Sequence[int]],
                            class_names: Sequence[str]) -> str:
    """The most frequent mistake of a confusion matrix (rows true, columns predicted), in one
    line: a tie between several pairs, or no mistake at all, is said as such."""
    counts = [[int(c) for c in row] for row in matrix]
    mistakes = {(t, p): c for t, row in enumerate(counts) for p, c in enumerate(row) if t != p}
    top = max(mistakes.values(), default=0)
    if top == 0:
        return "no confusion: every test image is classified correctly"
    pairs = [f"true {class_names[t]} predicted as {class_names[p]}"
             for (t, p), c in mistakes.items() if c == top]
    times = "once" if top == 1 else f"{top} times"
    if len(pairs) == 1:
        return f"most frequent confusion: {pairs[0]} ({times})"
    shown = "; ".join(pairs[:3]) + (f"; and {len(pairs) - 3} more" if len(pairs) > 3 else "")
    return (f"no single most frequent confusion: {len(pairs)} pairs tie at {times} each "
            f"({shown})")
