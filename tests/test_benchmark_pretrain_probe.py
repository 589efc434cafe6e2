"""benchmarks/pretrain_probe.py (issue 21's feasibility probe): its synthetic source set is
deterministic, has many classes and leaves out the target stand-in's two classes."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.backend_agnostic

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "pretrain_probe.py"


@pytest.fixture(scope="module")
def probe():
    spec = importlib.util.spec_from_file_location("pretrain_probe", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_source_classes_are_many_distinct_and_none_is_a_cat_or_a_dog(probe) -> None:
    classes = probe.source_classes()
    assert len(classes) >= 50
    assert len({tuple(sorted(c.items())) for c in classes}) == len(classes)
    parts = {(c["ear"], c["place"], c["muzzle"]) for c in classes}
    assert not parts & probe.TARGET_PARTS
    assert len(probe.source_classes(coat=True)) == 2 * len(classes)


def test_the_source_set_is_drawn_the_same_for_a_seed_and_differently_for_another(probe) -> None:
    classes = probe.source_classes()[:3]
    x, y = probe.source_set(classes, per_class=2, size=32, seed=0)
    again, y_again = probe.source_set(classes, per_class=2, size=32, seed=0)
    other, _ = probe.source_set(classes, per_class=2, size=32, seed=1)
    assert x.shape == (6, 32, 32, 3) and x.dtype == np.uint8
    assert sorted(y.tolist()) == [0, 0, 1, 1, 2, 2]
    np.testing.assert_array_equal(x, again)
    np.testing.assert_array_equal(y, y_again)
    assert not np.array_equal(x, other)


def test_each_factor_that_varies_gets_a_label_per_image(probe) -> None:
    classes = probe.source_classes()
    y = np.arange(len(classes))
    factors = probe.factor_labels(classes, y)
    assert {"ear", "place", "muzzle", "head", "tone"} <= factors.keys()
    assert "coat" not in factors  # solid only without --coat
    for name, labels in factors.items():
        assert labels.shape == y.shape and labels.min() == 0, name



@pytest.mark.parametrize("name", ["MobileNetV2", "VGG16", "MobileNet", "EfficientNetB0"])
def test_each_backbone_is_built_as_its_notebook_builds_it_and_scaled_as_it_scales(probe, name):
    keras = probe.keras
    scale, offset, _ = probe.BACKBONES[name]
    base = probe.backbone(name, 32, seed=0)
    assert probe.base_name(base) == name
    default = getattr(keras.applications, name)(input_shape=(32, 32, 3), include_top=False,
                                                weights=None)
    assert base.count_params() == default.count_params()  # width 1.0, as the notebooks'
    pixels = np.array([[[[0.0, 127.5, 255.0]]]], np.float32)
    inputs = keras.Input(pixels.shape[1:])
    out = keras.ops.convert_to_numpy(keras.Model(inputs, probe.scaled(base, inputs))(pixels))
    np.testing.assert_allclose(out, pixels * scale + offset, rtol=1e-6)


def test_a_model_that_is_not_one_of_the_backbones_is_refused(probe) -> None:
    with pytest.raises(KeyError, match="not one of the probe's backbones"):
        probe.base_name(probe.keras.Sequential(name="resnet50"))
