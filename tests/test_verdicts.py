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


def test_curves_differ_only_where_an_epoch_s_gap_beats_the_widened_intervals() -> None:
    n = 200
    apart = verdicts.curves_differ({"tl0": [0.9, 0.95], "tl2": [0.6, 0.93]}, n,
                                   "training accuracy")
    assert apart and "epoch 1" in str(apart) and "97.5% intervals, 2 epochs" in str(apart)
    same = verdicts.curves_differ({"a": [0.80, 0.85, 0.9], "b": [0.78, 0.86, 0.88]}, n)
    assert not same and "within the noise" in str(same)
    # The widening, computed by hand: a gap the 95% intervals call a difference at one epoch,
    # the 98.33% intervals of three epochs do not.
    a, b = 0.80, 0.66
    assert verdicts.accuracy_interval(a, n)[0] > verdicts.accuracy_interval(b, n)[1]
    level = 1 - 0.05 / 3
    assert verdicts.accuracy_interval(a, n, level)[0] < verdicts.accuracy_interval(b, n, level)[1]
    assert verdicts.curves_differ({"a": [a], "b": [b]}, n)
    assert not verdicts.curves_differ({"a": [a, 0.5, 0.5], "b": [b, 0.5, 0.5]}, n)
    with pytest.raises(ValueError):
        verdicts.curves_differ({"a": [0.5]}, n)
    with pytest.raises(ValueError):
        verdicts.curves_differ({"a": [], "b": [0.5]}, n)


def test_a_fall_is_a_verdict_only_when_the_lowest_step_is_below_the_start_beyond_the_noise():
    n = 192
    fell = verdicts.fell_below(0.97, [0.48, 0.52, 0.93, 0.97], n, "training accuracy")
    assert fell and "lowest 0.480 at step 1 of 4" in str(fell) and "98.8% intervals" in str(fell)
    assert not verdicts.fell_below(0.97, [0.95, 0.99, 0.96], n)
    assert not verdicts.fell_below(0.5, [0.9, 0.8], n)  # a rise is no fall
    # one step: the plain 95% intervals, checked by hand
    start, low = 0.9, 0.8
    apart = verdicts.accuracy_interval(low, n)[1] < verdicts.accuracy_interval(start, n)[0]
    assert bool(verdicts.fell_below(start, [low], n)) == apart
    with pytest.raises(ValueError):
        verdicts.fell_below(0.9, [], n)
