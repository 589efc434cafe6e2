"""helpers.verdicts: a verdict only where the numbers support it (known answers)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from helpers import verdicts


def _wilson(hits: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """The Wilson score interval written out (Wilson 1927), to check scipy's."""
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


@pytest.mark.parametrize("hits, n", [(36, 72), (380, 400), (0, 20), (20, 20)])
def test_interval_is_wilsons(hits: int, n: int) -> None:
    assert verdicts.accuracy_interval(hits / n, n) == pytest.approx(_wilson(hits, n), abs=1e-9)


def test_equal_accuracies_give_no_verdict() -> None:
    verdict = verdicts.compare_accuracies({"a": 0.5, "b": 0.5}, n=72, why="random weights")
    assert not verdict and "no difference" in str(verdict) and "random weights" in str(verdict)


def test_noise_level_differences_give_no_verdict() -> None:
    # 07's quick resolution sweep: 0.528 / 0.486 / 0.514 on 72 images
    verdict = verdicts.compare_accuracies({"32": 0.528, "48": 0.486, "64": 0.514}, n=72)
    assert not verdict


def test_a_clear_difference_is_a_verdict() -> None:
    verdict = verdicts.compare_accuracies({"sensible": 0.98, "harmful": 0.77}, n=300)
    assert verdict and str(verdict).startswith("sensible has the highest accuracy")


def test_above_chance() -> None:
    assert verdicts.above_chance(0.98, 300, 0.1)
    assert not verdicts.above_chance(0.514, 72, 0.5)


def test_values_within_the_margin_give_no_verdict() -> None:
    assert not verdicts.compare_values({"ensemble": 0.001, "member": 0.0012}, 0.01, "spread")
    verdict = verdicts.compare_values({"N=1": 0.30, "N=6": 0.08}, 0.05, "validation loss",
                                      lower_is_better=True)
    assert verdict and str(verdict).startswith("N=6 has the lowest validation loss")


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="at least two"):
        verdicts.compare_accuracies({"a": 0.5}, n=10)
    with pytest.raises(ValueError, match="at least one image"):
        verdicts.accuracy_interval(0.5, 0)


def test_a_tie_is_not_a_prediction() -> None:
    assert verdicts.predicted([0.3, 0.7], ["horse", "zebra"]) == "predicted zebra"
    assert verdicts.predicted([0.501, 0.499], ["horse", "zebra"]) == (
        "no prediction: horse and zebra tie at 0.50")
    assert verdicts.predicted([0.501, 0.499], ["horse", "zebra"], decimals=3) == (
        "predicted horse")


def test_the_most_frequent_confusion_says_ties_and_perfection() -> None:
    names = ["0", "1", "2"]
    assert verdicts.most_frequent_confusion([[5, 0, 0], [0, 5, 0], [0, 0, 5]], names) == (
        "no confusion: every test image is classified correctly")
    assert verdicts.most_frequent_confusion([[5, 2, 0], [1, 5, 0], [0, 0, 5]], names) == (
        "most frequent confusion: true 0 predicted as 1 (2 times)")
    assert verdicts.most_frequent_confusion([[5, 1, 0], [0, 5, 0], [0, 1, 5]], names) == (
        "no single most frequent confusion: 2 pairs tie at once each (true 0 predicted as 1; "
        "true 2 predicted as 1)")


def test_a_curve_still_rising_is_told_from_a_plateau() -> None:
    """Known answers: 0.60 -> 0.90 on 500 images rises beyond noise; 0.90 -> 0.91 does not;
    two epochs cannot show a trend over two."""
    rising = verdicts.still_rising([0.3, 0.6, 0.8, 0.9], 500)
    assert rising and "0.600 at epoch 2, 0.900 at epoch 4" in rising.text
    assert not verdicts.still_rising([0.3, 0.9, 0.905, 0.91], 500)
    assert not verdicts.still_rising([0.1, 0.9], 500)
    assert "too few" in verdicts.still_rising([0.1, 0.9], 500).text


def test_a_paired_difference_is_a_verdict_only_when_its_interval_is_above_zero() -> None:
    """The interval is the textbook t interval of the mean paired difference (computed here
    by hand, independently of scipy's ttest_rel)."""
    from scipy.stats import t

    rng = np.random.default_rng(0)
    base = rng.random(30)
    clear = base + 0.2 + rng.normal(0, 0.05, 30)
    d = clear - base
    half = t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d))
    verdict = verdicts.paired_above(clear, base, "energy", ("trained", "random"))
    assert verdict and verdict.text.startswith("trained above random")
    assert f"[{d.mean() - half:+.3f}, {d.mean() + half:+.3f}]" in verdict.text
    noise = base + rng.normal(0, 0.05, 30)
    assert not verdicts.paired_above(noise, base, "energy")
    assert not verdicts.paired_above(noise - 0.2, base, "energy")  # below is not above
    with pytest.raises(ValueError):
        verdicts.paired_above([0.1, 0.2], [0.1], "energy")
