"""helpers.weights: ImageNet weights where Keras looks for them, or a stated random init."""

from __future__ import annotations

import hashlib

import pytest

from helpers import weights
from helpers.datasets import DataUnavailable, Remote
from tests.conftest import dead_url


def test_quick_mode_offline_falls_back_to_random_init_and_says_so(lab_env, monkeypatch) -> None:
    monkeypatch.setenv("LAB_OFFLINE", "1")
    prepared = weights.prepare("EfficientNetB5", "quick")  # no pretraining recipe
    assert prepared.keras_weights is None and "random init" in str(prepared)
    assert "LAB_MODE=quick" not in prepared.detail  # already in quick mode: no such advice


def test_full_mode_offline_raises_with_the_keras_cache_path(lab_env, monkeypatch) -> None:
    monkeypatch.setitem(
        weights.BACKBONES, "VGG16", Remote("vgg16_notop.h5", (dead_url("vgg16_notop.h5"),))
    )
    with pytest.raises(DataUnavailable) as err:
        weights.prepare("VGG16", "full")
    assert str(lab_env / "keras" / "models" / "vgg16_notop.h5") in str(err.value)
    assert "LAB_MODE=quick) to use randomly initialised weights" in str(err.value)


def test_weights_download_into_the_keras_models_folder(lab_env, monkeypatch, file_server) -> None:
    data = b"fake h5 weights" * 100
    (file_server.root / "w.h5").write_bytes(data)
    remote = Remote("w.h5", (file_server.url("w.h5"),), "md5:" + hashlib.md5(data).hexdigest())
    monkeypatch.setitem(weights.BACKBONES, "VGG16", remote)
    prepared = weights.prepare("VGG16", "full")
    assert prepared.keras_weights == "imagenet" and str(prepared) == "ImageNet"
    assert prepared.path == lab_env / "keras" / "models" / "w.h5"
    assert prepared.path.read_bytes() == data


@pytest.mark.parametrize(
    "name, application",
    [
        ("VGG16", "VGG16"),
        ("MobileNetV2_160", "MobileNetV2"),
        ("MobileNet_224", "MobileNet"),
        ("EfficientNetB0", "EfficientNetB0"),
        ("EfficientNetB5", "EfficientNetB5"),
    ],
)
def test_backbone_files_match_keras_applications(name: str, application: str) -> None:
    """Same URL folder and hash as keras.applications, so Keras finds and accepts our download."""
    import inspect
    from pathlib import Path

    import keras

    source = Path(inspect.getsourcefile(getattr(keras.applications, application))).read_text()
    remote = weights.BACKBONES[name]
    assert remote.urls[0].rsplit("/", 1)[0] + "/" in source.replace('"\n    "', "")
    if remote.checksum:
        assert remote.checksum.split(":")[1] in source


def test_unknown_backbone() -> None:
    with pytest.raises(KeyError, match="VGG16"):
        weights.prepare("ResNet9000", "quick")


def test_imagenet_weights_are_ready_when_downloadable_and_not_offline(lab_env, monkeypatch,
                                                                        file_server) -> None:
    """``pretrain --where-needed`` (``make run``) trains only where this says False."""
    data = b"fake h5 weights" * 10
    (file_server.root / "w.h5").write_bytes(data)
    remote = Remote("w.h5", (file_server.url("w.h5"),), "md5:" + hashlib.md5(data).hexdigest())
    monkeypatch.setitem(weights.BACKBONES, "VGG16", remote)
    assert weights.imagenet_ready("VGG16")
    assert (lab_env / "keras" / "models" / "w.h5").read_bytes() == data
    monkeypatch.setitem(weights.BACKBONES, "VGG16", Remote("v.h5", (dead_url("v.h5"),)))
    assert not weights.imagenet_ready("VGG16")
