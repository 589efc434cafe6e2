"""The course's stand-ins for ImageNet for notebooks 05, 06 and 07 (issue 21): helpers.synth.garden
(creature heads and blossoms), helpers.synth.cifar's source classes and helpers.synth.plates.
Each has many classes, none a class of its target stand-in, drawn the same for a seed; the
creature heads are tests/test_synth_creatures.py's."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from helpers.synth import blossoms, cifar, creatures, flowers, garden, motor, plates


def test_the_cifar_source_is_every_pattern_at_hues_no_stand_in_uses() -> None:
    specs = cifar.classes()
    assert len(specs) == 100
    assert len({(s["pattern"], s["hue"]) for s in specs}) == 100
    assert {s["pattern"] for s in specs} == set(range(cifar.PATTERNS))
    # the stand-ins' hues: k / 10 for CIFAR-100, c / 10 for CIFAR-10
    target_hues = {k / 10 for k in range(10)}
    assert all(min(abs(s["hue"] - h) for h in target_hues) >= 0.05 - 1e-9 for s in specs)


def test_the_cifar_source_is_drawn_the_same_for_a_seed_at_32_px_only() -> None:
    specs = cifar.classes()[:4]
    x, y = cifar.source_set(specs, 3, 32, seed=0)
    again, y_again = cifar.source_set(specs, 3, 32, seed=0)
    other, _ = cifar.source_set(specs, 3, 32, seed=1)
    assert x.shape == (12, 32, 32, 3) and x.dtype == np.uint8
    assert sorted(y.tolist()) == sorted([0, 1, 2, 3] * 3)
    np.testing.assert_array_equal(x, again)
    np.testing.assert_array_equal(y, y_again)
    assert not np.array_equal(x, other)
    with pytest.raises(ValueError, match="32"):
        cifar.source_set(specs, 1, 64, seed=0)


def test_a_source_image_is_drawn_as_the_stand_in_draws_its_classes() -> None:
    """The stand-in's class 0 (pattern 0, hue 0) and the source's drawing of the same pair,
    from the same random numbers, are the same pixels: one drawing routine for both."""
    stand_in, labels = cifar.cifar_like(1, 100, seed=4)
    first = int(np.flatnonzero(labels[:, 0] == 0)[0])
    rng = np.random.default_rng(4)
    drawn = [cifar._draw(c % cifar.PATTERNS, (c // cifar.PATTERNS) / 10, rng) for c in range(100)]
    np.testing.assert_array_equal(stand_in[first], drawn[0])


def test_the_plates_are_many_classes_none_of_them_a_motor_core() -> None:
    specs = plates.classes()
    assert len(specs) == len(plates.PARTS) * len(plates.TEXTURES) * len(plates.MARKS) >= 50
    assert len({tuple(sorted(s.items())) for s in specs}) == len(specs)
    assert not {s["part"] for s in specs} & {"stator", "rotor"}
    assert set(plates.MARKS) == {*motor.KINDS, "none"}
    factors = plates.factor_labels(specs, np.arange(len(specs)))
    for name, values in (("part", plates.PARTS), ("texture", plates.TEXTURES),
                         ("mark", plates.MARKS)):
        assert [values[i] for i in factors[name]] == [s[name] for s in specs]


def test_the_plates_are_drawn_the_same_for_a_seed() -> None:
    specs = plates.classes()[::9]
    x, y = plates.source_set(specs, 2, 64, seed=0)
    again, y_again = plates.source_set(specs, 2, 64, seed=0)
    other, _ = plates.source_set(specs, 2, 64, seed=1)
    assert x.shape == (2 * len(specs), 64, 64, 3) and x.dtype == np.uint8
    np.testing.assert_array_equal(x, again)
    np.testing.assert_array_equal(y, y_again)
    assert not np.array_equal(x, other)
    assert np.array_equal(x[..., 0], x[..., 2])  # grey, as the cores


@pytest.mark.parametrize("part", plates.PARTS)
def test_each_part_is_steel_in_frame_with_edges_a_mark_can_sit_on(part: str) -> None:
    for seed in range(4):
        plate = plates.draw_plate(64, part, "rings", np.random.default_rng(seed))
        assert 0.1 < plate.metal.mean() < 0.95, (part, seed)
        image, mask = motor.add_defect(plate, "chip", np.random.default_rng(seed), plates.SCALE)
        assert mask.any() and not np.array_equal(image, plate.image), (part, seed)


def test_a_crop_holds_its_mark_at_the_scale_notebook_07_shows_it() -> None:
    """The crop of a marked plate differs from the crop of the same plate unmarked (drawn from
    the same random numbers up to the mark): the mark is in the crop."""
    spec = {"part": "washer", "texture": "matte", "mark": "rust"}
    for seed in range(5):
        marked = plates.plate_image(spec, 64, np.random.default_rng(seed)).astype(int)
        whole = plates.plate_image(spec, plates.VIEW, np.random.default_rng(seed))
        assert marked.shape == (64, 64, 3) and whole.shape == (plates.VIEW, plates.VIEW, 3)
        rng = np.random.default_rng(seed)
        plate = plates.draw_plate(plates.DRAWN, "washer", "matte", rng)
        _, mask = motor.add_defect(plate, "rust", rng, plates.SCALE)
        clean = np.asarray(Image.fromarray((plate.image * 255).round().astype(np.uint8))
                           .resize((plates.VIEW,) * 2, Image.Resampling.BILINEAR))
        found = [(top, left) for top in range(plates.VIEW - 63) for left in range(plates.VIEW - 63)
                 if np.array_equal(whole[top:top + 64, left:left + 64, 0], marked[..., 0])]
        assert found, seed
        top, left = found[0]
        assert (np.abs(clean[top:top + 64, left:left + 64].astype(int) - marked[..., 0])
                > 10).any(), seed


def test_the_blossoms_are_every_bloom_stem_and_tone_but_a_rose_s_or_a_tulip_s_parts() -> None:
    specs = blossoms.classes()
    assert len(specs) == (len(blossoms.BLOOMS) * len(blossoms.STEMS) - 2) * len(blossoms.TONES)
    assert len({tuple(sorted(s.items())) for s in specs}) == len(specs)
    parts = {(s["bloom"], s["stem"]) for s in specs}
    assert not parts & {("rings", False), ("cup", True)}  # the stand-in's rose and tulip
    assert {("rings", True), ("cup", False)} <= parts  # each of their parts, apart


def test_the_garden_is_every_creature_head_and_every_blossom_drawn_the_same_for_a_seed() -> None:
    specs = garden.classes()
    assert len(specs) == len(creatures.classes()) + len(blossoms.classes())
    assert {s["set"] for s in specs} == {"creature", "blossom"}
    chosen = specs[::7]
    x, y = garden.source_set(chosen, 2, 48, seed=0)
    again, y_again = garden.source_set(chosen, 2, 48, seed=0)
    assert x.shape == (2 * len(chosen), 48, 48, 3) and x.dtype == np.uint8
    np.testing.assert_array_equal(x, again)
    np.testing.assert_array_equal(y, y_again)
    assert not np.array_equal(x, garden.source_set(chosen, 2, 48, seed=1)[0])


@pytest.mark.parametrize("bloom", blossoms.BLOOMS)
def test_each_bloom_is_drawn_over_the_garden_the_stand_in_s_flowers_grow_in(bloom) -> None:
    """``flowers.photo`` with the same random numbers and no bloom gives the background: each
    bloom, with or without a stem, changes it well beyond the photo's noise."""
    warm = blossoms.TONES["warm"]
    bare = np.asarray(flowers.photo(96, np.random.default_rng(3),
                                    lambda g: flowers._pick(warm, [1 / len(warm)] * len(warm), g),
                                    lambda *_: None), int)
    drawn = {stem: np.asarray(blossoms.blossom({"bloom": bloom, "stem": stem, "tone": "warm"},
                                               96, np.random.default_rng(3)), int)
             for stem in blossoms.STEMS}
    for image in drawn.values():
        assert (np.abs(image - bare) > 60).any(axis=-1).sum() > 20
    assert not np.array_equal(drawn[False], drawn[True])
