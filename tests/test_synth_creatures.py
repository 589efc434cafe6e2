"""helpers.synth.creatures, the course's stand-in for ImageNet (issue 21): many classes, drawn
the same for a seed, none of them a cat or a dog of the target stand-in."""

from __future__ import annotations

import numpy as np

from helpers.synth import creatures


def test_the_classes_are_many_distinct_and_none_is_a_cat_or_a_dog() -> None:
    classes = creatures.classes()
    assert len(classes) >= 50
    assert len({tuple(sorted(c.items())) for c in classes}) == len(classes)
    parts = {(c["ear"], c["place"], c["muzzle"]) for c in classes}
    assert not parts & creatures.TARGET_PARTS
    assert {("triangle", "up", False), ("ellipse", "hang", True)} == creatures.TARGET_PARTS
    assert len(creatures.classes(coat=True)) == 2 * len(classes)


def test_the_source_set_is_drawn_the_same_for_a_seed_and_differently_for_another() -> None:
    classes = creatures.classes()[:3]
    x, y = creatures.source_set(classes, per_class=2, size=32, seed=0)
    again, y_again = creatures.source_set(classes, per_class=2, size=32, seed=0)
    other, _ = creatures.source_set(classes, per_class=2, size=32, seed=1)
    assert x.shape == (6, 32, 32, 3) and x.dtype == np.uint8
    assert sorted(y.tolist()) == [0, 0, 1, 1, 2, 2]
    np.testing.assert_array_equal(x, again)
    np.testing.assert_array_equal(y, y_again)
    assert not np.array_equal(x, other)


def test_classes_differ_in_their_pixels_where_their_factors_differ() -> None:
    """Two classes differing only in the ear shape, drawn from the same random numbers, differ
    in the pixels: the factor is drawn, not only a label."""
    base = {"ear": "triangle", "place": "out", "muzzle": False, "head": "wide", "tone": "same",
            "coat": "solid"}
    a = np.asarray(creatures.creature(base, 64, np.random.default_rng(3)), dtype=int)
    b = np.asarray(creatures.creature({**base, "ear": "rectangle"}, 64,
                                      np.random.default_rng(3)), dtype=int)
    none = np.asarray(creatures.creature({**base, "ear": "none"}, 64,
                                         np.random.default_rng(3)), dtype=int)
    for other in (b, none):
        assert (np.abs(a - other).max(axis=-1) > 40).sum() > 50  # pixels, of 64 x 64


def test_each_factor_that_varies_gets_a_label_per_image() -> None:
    classes = creatures.classes()
    y = np.arange(len(classes))
    factors = creatures.factor_labels(classes, y)
    assert {"ear", "place", "muzzle", "head", "tone"} == factors.keys()  # coat: solid only
    for name, labels in factors.items():
        values = sorted({str(c[name]) for c in classes})
        assert labels.shape == y.shape and labels.min() == 0, name
        assert [values[i] for i in labels] == [str(c[name]) for c in classes], name
    assert "coat" in creatures.factor_labels(creatures.classes(coat=True), y)
