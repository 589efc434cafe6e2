"""helpers.augment: the Keras 3 layers draw what the lecture's ImageDataGenerator draws.

Each test transforms a known image (bright markers, a ramp) many times with the legacy
ImageDataGenerator (``augment.ImageDataGenerator``, the class ``tf.keras`` names) and with
``datagen_layers`` and compares what was produced: the range and distribution of displacements,
angles, scales and slopes, and the fill. Everything here runs on the TensorFlow and the JAX
backend; only the check that the class is ``tf.keras``'s needs TensorFlow.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from scipy import stats

from helpers import augment

ImageDataGenerator = augment.ImageDataGenerator
SIZE = 64
CENTRE = (SIZE - 1) / 2
DRAWS = 400


def test_the_generator_is_the_class_tf_keras_names():
    tf = pytest.importorskip("tensorflow", reason="the tf.keras name exists only with TensorFlow")
    assert augment.ImageDataGenerator is tf.keras.preprocessing.image.ImageDataGenerator


def test_the_generator_runs_on_either_backend():
    """The legacy class is NumPy/SciPy code: flow() works on JAX too (make test runs this file in
    the JAX environment, which has no TensorFlow)."""
    images = np.random.default_rng(0).uniform(0, 255, (4, 16, 16, 3)).astype(np.float32)
    gen = ImageDataGenerator(**augment.LECTURE_DATAGEN)
    batch = next(gen.flow(images, batch_size=4, shuffle=False, seed=0))
    assert isinstance(batch, np.ndarray) and batch.shape == images.shape
    assert 0.0 <= batch.min() and batch.max() <= 1.0 and not np.allclose(batch, images / 255)


def marker_image(*points: tuple[int, int]) -> np.ndarray:
    img = np.zeros((SIZE, SIZE, 1), np.float32)
    for r, c in points:
        img[r - 1 : r + 2, c - 1 : c + 2] = 1.0
    return img


def idg_draws(image: np.ndarray, **kwargs) -> np.ndarray:
    gen = ImageDataGenerator(**kwargs)
    np.random.seed(0)
    return np.stack([gen.random_transform(image) for _ in range(DRAWS)])


def layer_draws(image: np.ndarray, **kwargs) -> np.ndarray:
    pipeline = augment.datagen_layers(seed=0, **kwargs)
    return np.asarray(pipeline(np.repeat(image[None], DRAWS, axis=0), training=True))


def centre_of_mass(batch: np.ndarray, rows: slice = slice(None)) -> np.ndarray:
    """(n, 2) row and column of the bright mass of each image (within ``rows``)."""
    mass = batch[:, rows, :, 0]
    r, c = np.indices(batch.shape[1:3])
    r, c = r[rows], c[rows]
    total = mass.sum(axis=(1, 2))
    return np.stack([(mass * r).sum(axis=(1, 2)) / total, (mass * c).sum(axis=(1, 2)) / total], 1)


def both(image: np.ndarray, **kwargs) -> dict[str, np.ndarray]:
    kwargs = {"fill_mode": "constant"} | kwargs
    return {"idg": idg_draws(image, **kwargs), "layers": layer_draws(image, **kwargs)}


def assert_same_uniform_range(samples: dict[str, np.ndarray], low: float, high: float, tol: float):
    for name, s in samples.items():
        assert s.min() >= low - tol and s.max() <= high + tol, (name, s.min(), s.max())
        assert s.min() <= low + 3 * tol and s.max() >= high - 3 * tol, (name, s.min(), s.max())
    assert stats.ks_2samp(samples["idg"], samples["layers"]).pvalue > 1e-3


def test_rotation_range_is_degrees():
    row, col = 12, 32
    image = marker_image((row, col))
    start = np.arctan2(-(row - CENTRE), col - CENTRE)
    angles = {}
    for name, out in both(image, rotation_range=30).items():
        com = centre_of_mass(out)
        angles[name] = np.degrees(np.arctan2(-(com[:, 0] - CENTRE), com[:, 1] - CENTRE) - start)
    assert_same_uniform_range(angles, -30, 30, tol=1.0)


@pytest.mark.parametrize("keyword, axis", [("width_shift_range", 1), ("height_shift_range", 0)])
def test_shift_range_is_a_fraction_of_that_axis(keyword, axis):
    image = marker_image((32, 32))
    out = both(image, **{keyword: 0.2})
    moved = {name: centre_of_mass(o) - 32 for name, o in out.items()}
    assert np.abs(moved["layers"][:, 1 - axis]).max() < 0.05
    # Known difference: the legacy class in Keras 3 shifts the other axis with this keyword.
    assert np.abs(moved["idg"][:, axis]).max() < 0.05
    shifts = {"idg": moved["idg"][:, 1 - axis], "layers": moved["layers"][:, axis]}
    assert_same_uniform_range(shifts, -0.2 * SIZE, 0.2 * SIZE, tol=0.6)


def test_zoom_range_scales_each_axis_independently():
    offset = 16
    image = marker_image((int(CENTRE) + offset, int(CENTRE) + offset))
    per_axis = {0: {}, 1: {}}
    for name, out in both(image, zoom_range=0.2).items():
        ratio = (centre_of_mass(out) - CENTRE) / (int(CENTRE) + offset - CENTRE)
        # Output distance = input distance / scale, scale uniform in [0.8, 1.2] per axis.
        scale = 1.0 / ratio
        assert abs(np.corrcoef(scale[:, 0], scale[:, 1])[0, 1]) < 0.2, f"{name}: axes coupled"
        per_axis[0][name], per_axis[1][name] = scale[:, 0], scale[:, 1]
    for samples in per_axis.values():
        assert_same_uniform_range(samples, 0.8, 1.2, tol=0.02)


def test_shear_range_is_degrees_of_slope():
    top, bottom = (16, 24), (48, 40)
    image = marker_image(top, bottom)
    slopes, centre_shift = {}, {}
    for name, out in both(image, shear_range=10).items():
        upper = centre_of_mass(out, slice(0, SIZE // 2))
        lower = centre_of_mass(out, slice(SIZE // 2, SIZE))
        dx_top, dx_bottom = upper[:, 1] - top[1], lower[:, 1] - bottom[1]
        slopes[name] = (dx_bottom - dx_top) / (bottom[0] - top[0])
        # Horizontal displacement at the centre row, interpolated between the markers.
        centre_shift[name] = dx_top + slopes[name] * (CENTRE - top[0])
    s = np.sin(np.radians(10))
    assert_same_uniform_range(slopes, -s, s, tol=0.01)
    # Known difference: IDG shears about the centre, Keras's RandomShear about the corner.
    assert np.abs(centre_shift["idg"]).max() < 0.5
    assert np.abs(centre_shift["layers"]).max() > 0.8 * s * CENTRE


def test_flips_each_happen_half_the_time_independently():
    image = marker_image((16, 20))
    for name, out in both(image, horizontal_flip=True, vertical_flip=True).items():
        com = centre_of_mass(out)
        bottom, right = com[:, 0] > CENTRE, com[:, 1] > CENTRE
        counts = np.array(
            [
                np.sum(~bottom & ~right),
                np.sum(~bottom & right),
                np.sum(bottom & ~right),
                np.sum(bottom & right),
            ]
        )
        assert stats.chisquare(counts).pvalue > 1e-3, (name, counts)


def ramp_row(width: int) -> np.ndarray:
    return np.arange(1, width + 1, dtype=np.float32)


@pytest.mark.parametrize(
    "fill_mode, np_mode",
    [("constant", "constant"), ("nearest", "edge"), ("reflect", "symmetric"), ("wrap", "wrap")],
)
@pytest.mark.parametrize("shift", [-5, 3])
def test_fill_mode_fills_the_border_as_numpy_pad(fill_mode, np_mode, shift):
    width, cval = 16, -7.0
    image = np.tile(ramp_row(width), (4, 1))[..., None]
    pad = {"constant_values": cval} if np_mode == "constant" else {}
    expected = np.pad(ramp_row(width), width, mode=np_mode, **pad)[
        width + shift : 2 * width + shift
    ]

    pipeline = augment.datagen_layers(width_shift_range=0.25, fill_mode=fill_mode, cval=cval)
    (translation,) = pipeline.layers
    config = translation.get_config()
    assert (config["fill_mode"], config["fill_value"]) == (fill_mode, cval)
    pinned = type(translation).from_config(config | {"width_factor": (-shift / width,) * 2})
    produced = np.asarray(pinned(image[None], training=True))[0, :, :, 0]
    np.testing.assert_allclose(produced, np.tile(expected, (4, 1)), atol=1e-5)

    idg = ImageDataGenerator(fill_mode=fill_mode, cval=cval).apply_transform(image, {"tx": shift})
    if fill_mode == "wrap":  # Known difference: SciPy's "wrap" repeats with period width - 1.
        assert not np.allclose(idg[0, :, 0], expected)
        source = np.arange(width) + shift
        outside = (source < 0) | (source >= width)
        scipy_wrap = ramp_row(width)[np.where(outside, source % (width - 1), source)]
        np.testing.assert_allclose(idg[0, :, 0], scipy_wrap)
    else:
        np.testing.assert_allclose(idg[..., 0], np.tile(expected, (4, 1)), atol=1e-5)


def test_every_geometric_layer_gets_fill_mode_and_cval():
    pipeline = augment.datagen_layers(
        rotation_range=30,
        zoom_range=0.2,
        width_shift_range=0.2,
        shear_range=10,
        fill_mode="reflect",
        cval=3.0,
    )
    assert [type(layer).__name__ for layer in pipeline.layers] == [
        "RandomRotation",
        "RandomTranslation",
        "RandomShear",
        "RandomZoom",
    ]
    for layer in pipeline.layers:
        assert (layer.get_config()["fill_mode"], layer.get_config()["fill_value"]) == (
            "reflect",
            3.0,
        )
    assert augment.datagen_layers(rotation_range=5).layers[0].get_config()["fill_mode"] == "nearest"


def test_rescale_matches_the_generator():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (8, 8, 3)).astype(np.float32)
    layers_out = np.asarray(augment.datagen_layers(rescale=1 / 255)(image[None], training=True))[0]
    idg_out = ImageDataGenerator(rescale=1 / 255).standardize(image.copy())
    np.testing.assert_allclose(layers_out, image / 255, rtol=1e-6)
    np.testing.assert_allclose(layers_out, idg_out, rtol=1e-6)


def test_lecture_generator_maps_and_is_inactive_at_inference():
    lecture = augment.LECTURE_DATAGEN
    pipeline = augment.datagen_layers(seed=1, **lecture)
    ImageDataGenerator(**lecture)  # the same keywords are valid for the legacy class
    image = np.random.default_rng(1).uniform(0, 255, (2, 32, 32, 3)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(pipeline(image, training=False)), image / 255, rtol=1e-6)
    assert not np.allclose(np.asarray(pipeline(image, training=True)), image / 255)


@pytest.mark.parametrize(
    "keyword", ["brightness_range", "featurewise_center", "channel_shift_range"]
)
def test_other_keywords_raise_naming_them(keyword):
    with pytest.raises(ValueError, match=keyword):
        augment.datagen_layers(**{keyword: 0.1})


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"fill_mode": "mirror"}, "fill_mode"),
        ({"width_shift_range": 5}, "width_shift_range"),
        ({"rotation_range": 400}, "rotation_range"),
        ({"zoom_range": [1.2, 0.8, 1.0]}, "zoom_range"),
    ],
)
def test_invalid_values_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        augment.datagen_layers(**kwargs)


def test_zoom_range_pair_is_lower_upper():
    (zoom,) = augment.datagen_layers(zoom_range=[0.5, 1.0]).layers
    assert tuple(zoom.get_config()["height_factor"]) == pytest.approx((-0.5, 0.0))


def fake_pipeline(batch: int, seconds_per_batch: float, warmup: float = 0.0):
    time.sleep(warmup)
    while True:
        time.sleep(seconds_per_batch)
        yield np.zeros((batch, 1)), np.zeros(batch)


def test_compare_throughput_measures_images_per_second():
    rates = augment.compare_throughput(
        {"slow": fake_pipeline(4, 0.02, warmup=0.3), "fast": fake_pipeline(8, 0.01)},
        seconds=0.6,
    )
    assert 100 < rates["slow"] <= 200 and 400 < rates["fast"] <= 800
    assert 2.5 < rates["fast"] / rates["slow"] < 4.5
