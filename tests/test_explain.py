"""CAM, Grad-CAM and SmoothGrad (helpers.explain) against tf-keras-vis 0.8.7 on the same model.

Tolerance: 1e-4 absolute on maps min-max normalised to [0, 1] (ours scaled by tf-keras-vis's
``normalize``, so only the methods are compared). With the same model, images and
(for SmoothGrad) the same noise, both compute the same float32 arithmetic in a different order,
so they differ by rounding only; 1e-4 is far below anything visible in a heatmap.
* CAM (MOTOR eq. 18) equals Grad-CAM of the *pre-softmax* class score: its gradient with respect
  to the last feature maps is W_c / (w h) everywhere. So CAM is checked against tf-keras-vis
  ``Gradcam`` with ``ReplaceToLinear`` (after the same ReLU and normalisation).
* Grad-CAM is checked against ``Gradcam`` on the softmax score, at feature-map resolution and
  upsampled to the input (both use bilinear zoom).
* SmoothGrad is checked against ``Saliency(smooth_samples=...)`` with numpy's global seed set to
  the seed ``explain.smoothgrad`` uses, so both draw the same noise.
* The JAX gradient path is checked against the TensorFlow one: the same saved model, images and
  noise seed in a subprocess on the JAX backend (run where both are installed, i.e. the
  TensorFlow environment; tf-keras-vis needs TensorFlow, so those tests skip on JAX).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from helpers import compiled, explain

needs_tf_keras_vis = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="tf-keras-vis needs the TensorFlow backend"
)

SIZE = 64
CONV = "last_conv"
ATOL = 1e-4


@pytest.fixture(scope="module")
def model_and_images():
    """A small model with MOTOR's head (last conv -> GAP -> Dense softmax) and three images."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(3)
    inputs = keras.Input((SIZE, SIZE, 3))
    x = layers.Conv2D(8, 3, strides=2, activation="relu")(inputs)
    x = layers.Conv2D(16, 3, strides=2, activation="relu")(x)
    x = layers.Conv2D(16, 3, strides=2, activation="relu", name=CONV)(x)
    x = layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, layers.Dense(2, activation="softmax")(x))
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, (3, SIZE, SIZE, 3)).astype("float32")
    return model, images


def _scaled(maps):
    """Our raw maps scaled as tf-keras-vis scales its own (min-max with its epsilon)."""
    from tf_keras_vis.utils import normalize

    return normalize(np.asarray(maps))


@needs_tf_keras_vis
def test_cam_matches_gradcam_of_linear_score(model_and_images):
    from tf_keras_vis.gradcam import Gradcam
    from tf_keras_vis.utils.model_modifiers import ReplaceToLinear
    from tf_keras_vis.utils.scores import CategoricalScore

    model, images = model_and_images
    theirs = Gradcam(model, model_modifier=ReplaceToLinear(), clone=True)(
        CategoricalScore(0), images, penultimate_layer=CONV, expand_cam=False)
    ours = explain.cam(model, images, 0, CONV)
    assert ours.shape == (3, 7, 7)
    np.testing.assert_allclose(_scaled(np.maximum(ours, 0)), theirs, atol=ATOL)
    assert model.layers[-1].activation.__name__ == "softmax"  # their clone, not our model


@needs_tf_keras_vis
def test_gradcam_matches_tf_keras_vis(model_and_images):
    from tf_keras_vis.gradcam import Gradcam
    from tf_keras_vis.utils.scores import CategoricalScore

    model, images = model_and_images
    gradcam = Gradcam(model, clone=True)
    small = gradcam(CategoricalScore(1), images, penultimate_layer=CONV, expand_cam=False)
    full = gradcam(CategoricalScore(1), images, penultimate_layer=CONV)
    ours = explain.grad_cam(model, images, 1, CONV)
    np.testing.assert_allclose(_scaled(ours), small, atol=ATOL)
    np.testing.assert_allclose(_scaled(explain.upsample(ours, SIZE)), full, atol=ATOL)


@needs_tf_keras_vis
def test_smoothgrad_matches_tf_keras_vis_with_same_noise(model_and_images):
    from tf_keras_vis.saliency import Saliency
    from tf_keras_vis.utils.scores import CategoricalScore

    model, images = model_and_images
    np.random.seed(7)
    theirs = Saliency(model, clone=True)(CategoricalScore(0), images, smooth_samples=5,
                                         smooth_noise=0.1)
    ours = explain.smoothgrad(model, images, 0, sigma=0.1, samples=5, seed=7)
    assert ours.shape == (3, SIZE, SIZE)
    assert theirs.std() > 0.05  # a map with structure, not one hot pixel
    np.testing.assert_allclose(_scaled(ours), theirs, atol=ATOL)
    other = explain.smoothgrad(model, images, 0, sigma=0.1, samples=5, seed=8)
    assert not np.allclose(_scaled(other), theirs, atol=ATOL)  # the noise matters


_OTHER_BACKEND = """
import sys
import numpy as np
import keras
from helpers import explain

model = keras.models.load_model(sys.argv[1])
images = np.load(sys.argv[2])
np.savez(sys.argv[3], backend=keras.backend.backend(),
         cam=explain.cam(model, images, 0, "{conv}"),
         grad_cam=explain.grad_cam(model, images, 1, "{conv}"),
         smoothgrad=explain.smoothgrad(model, images, 0, sigma=0.1, samples=4, seed=7))
"""


@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow" or importlib.util.find_spec("jax") is None,
    reason="needs TensorFlow here and JAX installed beside it",
)
def test_jax_and_tensorflow_give_the_same_maps(model_and_images, tmp_path: Path):
    model, images = model_and_images
    model.save(tmp_path / "model.keras")
    np.save(tmp_path / "images.npy", images)
    env = {**os.environ, "KERAS_BACKEND": "jax", "LAB_BACKEND": "jax"}
    subprocess.run(
        [sys.executable, "-c", _OTHER_BACKEND.format(conv=CONV), str(tmp_path / "model.keras"),
         str(tmp_path / "images.npy"), str(tmp_path / "jax.npz")],
        env=env, check=True, timeout=300,
    )
    theirs = np.load(tmp_path / "jax.npz")
    assert str(theirs["backend"]) == "jax"
    ours = {
        "cam": explain.cam(model, images, 0, CONV),
        "grad_cam": explain.grad_cam(model, images, 1, CONV),
        "smoothgrad": explain.smoothgrad(model, images, 0, sigma=0.1, samples=4, seed=7),
    }
    for method, mine in ours.items():
        assert mine.std() > 0, method
        np.testing.assert_allclose(explain.normalise(theirs[method]), explain.normalise(mine),
                                   atol=ATOL, err_msg=method)


def test_localisation_scores():
    masks = np.zeros((2, 4, 4), dtype=bool)
    masks[:, :2, :2] = True
    heat = np.zeros((2, 4, 4), dtype=np.float32)
    heat[0, 0, 0] = 1.0  # all energy inside, peak inside
    heat[1] = 1.0
    heat[1, 3, 3] = 2.0  # peak outside; energy (4 * 1/2... normalised: 0) inside
    np.testing.assert_array_equal(explain.pointing_game(heat, masks), [True, False])
    np.testing.assert_allclose(explain.energy_inside(heat, masks), [1.0, 0.0])
    table = explain.localisation({"m": heat}, masks, ["scratch", "dent"])
    assert table["m"]["scratch"] == {"pointing_game": 1.0, "energy_inside": 1.0,
                                     "mask_share": 0.25, "images": 1}
    assert table["m"]["dent"]["pointing_game"] == 0.0


@pytest.mark.parametrize(("side", "per_pass"), [(520, 2), (128, 33), (32, 528), (1040, 1)])
def test_a_pass_holds_two_520_px_images_worth_of_pixels(side: int, per_pass: int) -> None:
    images = np.zeros((1000, side, side, 1), np.float32)
    parts = explain._chunks(images)
    assert parts[0] == slice(0, min(per_pass, 1000))
    assert sum(p.stop - p.start for p in parts) == 1000  # every image, once, in order
    assert all(a.stop == b.start for a, b in zip(parts, parts[1:], strict=False))


@pytest.mark.parametrize(("side", "passes"), [(10, [1, 1, 1]), (64, [2, 2])])
def test_the_maps_do_not_depend_on_how_the_images_are_chunked(model_and_images, monkeypatch,
                                                              side, passes):
    """One pass of three images, against one image per pass and two per pass (the last pass:
    one image and one of zeros)."""
    model, images = model_and_images
    whole = {f.__name__: f(model, images, 0, CONV) for f in (explain.cam, explain.grad_cam)}
    whole["smoothgrad"] = explain.smoothgrad(model, images, 0, samples=2, seed=3)
    monkeypatch.setattr(explain, "CHUNK_SIDE", side)
    seen = []
    real = explain._padded
    monkeypatch.setattr(explain, "_padded", lambda step, batch, size: (
        seen.append(size), real(step, batch, size))[1])
    for f in (explain.cam, explain.grad_cam):
        np.testing.assert_allclose(f(model, images, 0, CONV), whole[f.__name__], rtol=1e-4,
                                   atol=1e-6)
        assert seen == passes, f.__name__
        seen.clear()
    np.testing.assert_allclose(explain.smoothgrad(model, images, 0, samples=2, seed=3),
                               whole["smoothgrad"], rtol=1e-4, atol=1e-6)
    assert seen == passes * 2  # two samples


def test_every_pass_of_a_model_has_the_same_batch_shape(model_and_images, monkeypatch) -> None:
    """Three images, or two, at 64 px go in one pass of 132 (2 x 520^2 / 64^2), padded."""
    model, images = model_and_images
    shapes = []
    real = explain._padded
    monkeypatch.setattr(explain, "_padded", lambda step, batch, size: real(
        lambda full: (shapes.append(full.shape), step(full))[1], batch, size))
    for x in (images, images[:2]):
        explain.cam(model, x, 0, CONV)
        explain.grad_cam(model, x, 0, CONV)
    assert shapes == [(132, SIZE, SIZE, 3)] * 4


def test_class_gradient_is_gradient_compiled_once_with_the_current_weights(model_and_images):
    model, images = model_and_images
    clone = keras.models.clone_model(model)  # its own compiled step, its own weights
    clone.set_weights(model.get_weights())

    def eager(m, x):
        return explain.gradient(lambda v: m(v, training=False)[:, 1], x)

    before = explain.class_gradient(clone, images, 1)
    np.testing.assert_allclose(before, eager(clone, images), rtol=1e-4, atol=1e-7)
    step = compiled.STEPS[clone]["gradient", 1]
    assert explain.class_gradient(clone, images[:2], 0).shape == images[:2].shape
    assert set(compiled.STEPS[clone]) == {("gradient", 0), ("gradient", 1)}  # one per class

    clone.layers[-1].kernel.assign(2 * clone.layers[-1].kernel)  # the weights change: the
    np.testing.assert_allclose(explain.class_gradient(clone, images, 1),  # step reads them anew
                               eager(clone, images), rtol=1e-4, atol=1e-7)
    assert compiled.STEPS[clone]["gradient", 1] is step
    assert not np.allclose(explain.class_gradient(clone, images, 1), before)


def _eager_maps(model, images, class_index):
    """CAM and Grad-CAM computed op by op, as MOTOR's eq. 18 and Grad-CAM state them."""
    conv = model.get_layer(CONV).output
    features, head = keras.Model(model.input, conv), keras.Model(conv, model.output)
    z = keras.ops.convert_to_numpy(features(images, training=False))
    weights = keras.ops.convert_to_numpy(model.layers[-1].kernel)[:, class_index]
    grads = explain.gradient(lambda v: head(v, training=False)[:, class_index], z)
    return {"cam": np.tensordot(z, weights, axes=1),
            "grad_cam": np.maximum((z * grads.mean(axis=(1, 2), keepdims=True)).sum(-1), 0)}


def test_cam_and_grad_cam_compile_once_per_model_and_read_the_current_weights(
        model_and_images):
    model, images = model_and_images
    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    first = None
    for _ in range(2):  # the second time with new weights, through the steps compiled first
        ours = {"cam": explain.cam(clone, images, 1, CONV),
                "grad_cam": explain.grad_cam(clone, images, 1, CONV)}
        for method, expected in _eager_maps(clone, images, 1).items():
            np.testing.assert_allclose(ours[method], expected, rtol=1e-4, atol=1e-6,
                                       err_msg=method)
        steps = dict(compiled.STEPS[clone])
        assert set(steps) == {("features", CONV), ("grad_cam", CONV, 1)}
        first = first or steps
        assert all(steps[key] is first[key] for key in steps)
        conv = clone.get_layer(CONV)
        conv.kernel.assign(conv.kernel * -1.5)
    assert explain.grad_cam(clone, images, 0, CONV).shape == (3, 7, 7)
    assert ("grad_cam", CONV, 0) in compiled.STEPS[clone]  # one step per class


def test_the_compiled_steps_let_go_of_a_deleted_model(model_and_images):
    import gc
    import weakref

    _, images = model_and_images
    model = keras.models.clone_model(model_and_images[0])
    explain.class_gradient(model, images, 0)
    explain.cam(model, images, 0, CONV)
    explain.grad_cam(model, images, 0, CONV)
    assert len(compiled.STEPS[model]) == 3
    gone = weakref.ref(model)
    del model
    gc.collect()
    assert gone() is None, "the compiled step keeps a deleted model (and its weights) alive"
