"""helpers.pretrain: course-pretrained backbones (issue 21), trained once on the synthetic source
set, cached under a name that changes with the recipe, loaded by keras.applications, and taken
by helpers.weights in quick mode (never in full mode) when ImageNet's cannot be had."""

from __future__ import annotations

import dataclasses
import json
import shutil

import keras
import numpy as np
import pytest

from helpers import budget, config, lesson, pretrain, weights
from helpers.datasets import DataUnavailable
from helpers.synth import plates

TINY = pretrain.Recipe("MobileNetV2", 32, steps=3, batch=8, per_class=1)


def quick_sizes() -> dict[str, set[int]]:
    """``{backbone: input sizes}`` of every quick-mode fit the notebooks plan."""
    found: dict[str, set[int]] = {}
    for path in lesson.course():
        facts = lesson.load(path)
        for fit in facts.fits(config.pick_params(facts.params, "quick"), budget.document_images):
            found.setdefault(fit.model, set()).add(fit.size)
    return found


@pytest.fixture
def tiny(lab_env, monkeypatch):
    """The only recipe: three steps at 32 px under the name MobileNetV2_96; offline."""
    monkeypatch.setattr(pretrain, "RECIPES", {"MobileNetV2_96": TINY})
    monkeypatch.setenv("LAB_OFFLINE", "1")
    return lab_env


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> pretrain.Pretrained:
    """The tiny recipe trained once for the tests that read a cache (each copies it)."""
    cache = tmp_path_factory.mktemp("trained") / "cache"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pretrain, "RECIPES", {"MobileNetV2_96": TINY})
        patch.setenv("LAB_CACHE", str(cache))
        return pretrain.build("MobileNetV2_96", progress=False)


@pytest.fixture
def cached(tiny, trained):
    """``tiny``, with the trained weights in its cache already."""
    shutil.copytree(trained.path.parent, tiny / "cache" / "pretrained")
    return tiny


def test_each_recipe_is_for_a_size_its_backbone_has_in_a_quick_notebook() -> None:
    """At that size, or (the steel plates) on crops of images at that size."""
    sizes = quick_sizes()
    for name, recipe in pretrain.RECIPES.items():
        assert name in weights.BACKBONES
        seen_at = plates.VIEW if recipe.source == "plates" else recipe.size
        assert seen_at in sizes[recipe.backbone], (name, recipe.size)
        assert recipe.source in pretrain.SOURCES


def test_the_digest_names_the_source_set_and_its_version(monkeypatch) -> None:
    """A recipe on another source set, or on a source set that now draws differently (its
    version bumped), is cached under another name: trained anew, never loaded."""
    cifar = dataclasses.replace(TINY, source="cifar")
    before = cifar.digest()
    assert before != TINY.digest()
    source = pretrain.SOURCES["cifar"]
    monkeypatch.setitem(pretrain.SOURCES, "cifar",
                        dataclasses.replace(source, version=source.version + 1))
    assert cifar.digest() != before


def test_the_digest_names_the_recipe() -> None:
    assert TINY.digest() == pretrain.Recipe("MobileNetV2", 32, steps=3, batch=8,
                                            per_class=1).digest()
    assert TINY.digest() != pretrain.Recipe("MobileNetV2", 32, steps=4, batch=8,
                                            per_class=1).digest()
    assert len(TINY.digest()) == 10


def test_weights_are_trained_once_cached_and_loaded_by_keras_applications(cached, monkeypatch):
    made = pretrain.cached("MobileNetV2_96")
    name = f"MobileNetV2_96-{TINY.digest()}.weights.h5"
    assert made.path == cached / "cache" / "pretrained" / name
    info = json.loads(made.path.with_name(made.path.name.replace(".weights.h5", ".json"))
                      .read_text())
    assert info["steps_trained"] == 3 and info["classes"] == len(pretrain.creatures.classes())
    assert info["backend"] == keras.backend.backend()
    assert "synthetic creature-head classes" in made.describe()
    assert not list(made.path.parent.glob(".*"))  # no partial file left behind

    def no_training(*args, **kwargs):
        raise AssertionError("cached weights must not be trained again")

    monkeypatch.setattr(pretrain, "train", no_training)
    assert pretrain.ensure("MobileNetV2_96").path == made.path
    loaded = keras.applications.MobileNetV2(input_shape=(48, 48, 3), include_top=False,
                                            weights=str(made.path))
    fresh = pretrain.backbone("MobileNetV2", 48, seed=0)
    trained = [keras.ops.convert_to_numpy(w) for w in loaded.weights]
    initial = [keras.ops.convert_to_numpy(w) for w in fresh.weights]
    assert len(trained) == len(initial)
    assert any(not np.allclose(a, b) for a, b in zip(trained, initial, strict=True))


def test_an_interrupted_build_is_not_taken_for_cached_weights(tiny) -> None:
    path = pretrain.weights_path("MobileNetV2_96")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"half a file")  # the JSON, written last, is missing
    assert pretrain.cached("MobileNetV2_96") is None


def test_a_damaged_cached_file_is_not_taken_for_cached_weights(cached) -> None:
    made = pretrain.cached("MobileNetV2_96")
    made.path.write_bytes(made.path.read_bytes()[:1000])  # cut, its JSON intact
    assert pretrain.cached("MobileNetV2_96") is None  # so ensure() trains it again


def test_a_backbone_without_a_recipe_is_refused_with_the_ones_that_have_one() -> None:
    with pytest.raises(KeyError, match="MobileNetV2_96"):
        pretrain.weights_path("ResNet9000")


def test_quick_mode_offline_takes_course_pretrained_weights_and_says_they_are_not_imagenet(
        cached):
    prepared = weights.prepare("MobileNetV2_96", "quick")
    assert prepared.kind == "course-pretrained"
    assert prepared.keras_weights == str(pretrain.weights_path("MobileNetV2_96"))
    line = prepared.summary()
    assert "not ImageNet" in line and "synthetic" in line and "offline" in line
    assert prepared.as_record()["kind"] == "course-pretrained"
    assert prepared.tag == TINY.digest()
    assert weights.prepare("EfficientNetB0", "quick").kind == "random"  # no recipe: random init


def test_full_mode_never_takes_course_pretrained_weights(tiny) -> None:
    with pytest.raises(DataUnavailable):
        weights.prepare("MobileNetV2_96", "full")
    assert pretrain.cached("MobileNetV2_96") is None


def test_he_initialisation_gives_each_kernel_he_s_spread() -> None:
    base = pretrain.backbone("VGG16", 32, seed=0)
    pretrain.reinitialise(base, "he_normal", seed=0)
    kernel = keras.ops.convert_to_numpy(base.get_layer("block3_conv1").kernel)
    fan_in = np.prod(kernel.shape[:-1])
    # he_normal draws from a normal truncated at 2 standard deviations, of std sqrt(2 / fan_in)
    assert kernel.std() == pytest.approx(np.sqrt(2 / fan_in), rel=0.05)


@pytest.mark.parametrize("name", ["MobileNetV2", "VGG16", "MobileNet", "EfficientNetB0"])
def test_each_backbone_is_built_as_its_notebook_builds_it_and_scaled_as_it_scales(name) -> None:
    scale, offset = pretrain.SCALINGS[name]
    base = pretrain.backbone(name, 32, seed=0)
    assert pretrain.base_name(base) == name
    default = getattr(keras.applications, name)(input_shape=(32, 32, 3), include_top=False,
                                                weights=None)
    assert base.count_params() == default.count_params()  # width 1.0, as the notebooks'
    pixels = np.array([[[[0.0, 127.5, 255.0]]]], np.float32)
    inputs = keras.Input(pixels.shape[1:])
    if (scale, offset) == (1.0, 0.0):  # EfficientNet scales inside the model: nothing to add
        assert pretrain.scaled(base, inputs) is inputs
        return
    out = keras.ops.convert_to_numpy(keras.Model(inputs, pretrain.scaled(base, inputs))(pixels))
    np.testing.assert_allclose(out, pixels * scale + offset, rtol=1e-6)


def test_a_model_that_is_not_one_of_the_backbones_is_refused() -> None:
    with pytest.raises(KeyError, match="not one of the course's backbones"):
        pretrain.base_name(keras.Sequential(name="resnet50"))


def test_the_pretrain_command_trains_then_reports_the_cache(tiny, capsys) -> None:
    from helpers.__main__ import main

    assert main(["pretrain", "--where-needed"]) == 0  # offline: ImageNet's cannot be had
    first = capsys.readouterr().out
    assert "MobileNetV2_96: trained on" in first and "source accuracy" in first
    assert main(["pretrain", "MobileNetV2_96"]) == 0
    assert "MobileNetV2_96: cached (" in capsys.readouterr().out
    assert main(["datasets"]) == 0
    assert "course-pretrained MobileNetV2_96 (quick mode without ImageNet's): cached at" in \
        capsys.readouterr().out


def test_the_pretrain_command_refuses_a_backbone_without_a_recipe_in_one_line(tiny, capsys):
    from helpers.__main__ import main

    assert main(["pretrain", "ResNet9000"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "ResNet9000" in err and "MobileNetV2_96" in err


def test_a_classroom_s_shared_cache_is_read_where_this_user_writes_elsewhere(
        tiny, trained, monkeypatch) -> None:
    """``LAB_CACHE`` on a share holding the trained weights, this user's writable cache
    elsewhere (``runtime.own_cache_dir``, as when the share is read-only): they are found on
    the share and nothing is trained."""
    shared = tiny / "share"
    shutil.copytree(trained.path.parent, shared / "pretrained")
    monkeypatch.setenv("LAB_CACHE", str(shared))
    monkeypatch.setattr(pretrain, "own_cache_dir", lambda: tiny / "own")
    monkeypatch.setattr(pretrain, "train", lambda *a, **k: pytest.fail("trained again"))
    made = pretrain.ensure("MobileNetV2_96")
    assert made.path.parent == shared / "pretrained"
    assert weights.prepare("MobileNetV2_96", "quick").keras_weights == str(made.path)
    assert not (tiny / "own").exists()


def test_progressive_resizing_trains_on_the_small_images_first_then_at_the_recipe_s_size(
        monkeypatch) -> None:
    drawn = []
    source_set = pretrain.SOURCES["creatures"].module.source_set

    def spy(specs, per_class, size, seed):
        drawn.append(size)
        return source_set(specs, per_class, size, seed)

    monkeypatch.setattr(pretrain.SOURCES["creatures"].module, "source_set", spy)
    recipe = pretrain.Recipe("VGG16", 40, steps=3, batch=4, per_class=1, factor_heads=True,
                             kernel_init="he_normal", small_size=32, small_steps=2)
    base, trained = pretrain.fit_recipe(recipe)
    assert drawn == [40, 32]
    assert trained["steps_trained"] == 3 and trained["epochs"] == 2  # one fit per size
    assert base.input_shape == (None, None, None, 3)
    fresh = pretrain.backbone("VGG16", 40, seed=0)  # the notebook's model at the recipe's size
    fresh.set_weights(base.get_weights())
    assert np.isfinite(keras.ops.convert_to_numpy(fresh(np.zeros((1, 40, 40, 3))))).all()


@pytest.mark.parametrize("bad", [{"small_size": 48}, {"small_size": 32, "small_steps": 0},
                                 {"small_size": 32, "small_steps": 300}])
def test_a_recipe_refuses_a_small_size_that_is_not_smaller_or_steps_that_leave_none(bad):
    with pytest.raises(ValueError, match="small_size"):
        pretrain.Recipe("VGG16", 48, steps=300, **bad)


def test_pretrain_where_needed_skips_a_backbone_whose_imagenet_weights_can_be_had(
        tiny, monkeypatch, capsys) -> None:
    from helpers.__main__ import main

    monkeypatch.setattr(weights, "imagenet_ready", lambda name: True)
    monkeypatch.setattr(pretrain, "build_many", lambda *a: pytest.fail("pretrained"))
    assert main(["pretrain", "--where-needed"]) == 0
    assert "MobileNetV2_96: ImageNet weights ready" in capsys.readouterr().out
    assert pretrain.cached("MobileNetV2_96") is None
