"""helpers.config: mode selection, parameter blocks, seeding, paths, setup and its banner."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import config


def test_mode_from_environment(monkeypatch) -> None:
    monkeypatch.setenv("LAB_MODE", "FULL")
    assert config.resolve_mode("CPU") == "full"
    monkeypatch.setenv("LAB_MODE", "fast")
    with pytest.raises(ValueError, match="quick"):
        config.resolve_mode("CPU")


@pytest.mark.parametrize(
    "ci, accelerator, expected",
    [("", "GPU", "full"), ("", "TPU", "full"), ("", "CPU", "quick"), ("true", "GPU", "quick")],
)
def test_default_mode(monkeypatch, ci, accelerator, expected) -> None:
    monkeypatch.delenv("LAB_MODE", raising=False)
    monkeypatch.setenv("CI", ci) if ci else monkeypatch.delenv("CI", raising=False)
    assert config.resolve_mode(accelerator) == expected


def test_params_block_picks_a_column() -> None:
    block = {"epochs": (2, 50), "size": (64, 150)}
    assert vars(config.pick_params(block, "quick")) == {"epochs": 2, "size": 64}
    assert vars(config.pick_params(block, "full")) == {"epochs": 50, "size": 150}
    with pytest.raises(ValueError, match="epochs"):
        config.pick_params({"epochs": 2}, "quick")


def test_seeding_repeats_numpy_and_keras() -> None:
    import keras

    config.seed_everything(7)
    a = np.random.rand(3), keras.random.uniform((3,), seed=None).numpy()
    config.seed_everything(7)
    b = np.random.rand(3), keras.random.uniform((3,), seed=None).numpy()
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_paths_follow_the_environment(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("LAB_CACHE", str(tmp_path / "c"))
    monkeypatch.setenv("LAB_HOME", str(tmp_path))
    assert config.cache_dir() == tmp_path / "c"
    assert config.project_root() == tmp_path
    monkeypatch.delenv("LAB_CACHE")
    assert config.cache_dir() == tmp_path / "data" / "cache"


def test_setup_prepares_data_and_prints_the_banner(lab_env, monkeypatch, capsys) -> None:
    monkeypatch.setenv("LAB_OFFLINE", "1")
    monkeypatch.setenv("LAB_HOME", str(lab_env))
    cfg = config.setup(
        "01_mnist_cnn",
        params={"epochs": (3, 15)},
        datasets=["mnist"],
        notes=["images at 32x32 in quick mode"],
    )
    out = capsys.readouterr().out
    assert cfg.mode == "quick" and cfg.params.epochs == 3 and cfg.quick
    assert cfg is config.CURRENT and cfg.strategy.num_replicas_in_sync == 1
    for expected in (
        "Mode          quick",
        "LAB_MODE=full",
        "mnist: stand-in",
        "(offline)",
        "Weights       none (trained from scratch)",
        "Device        CPU",
        "TensorFlow",
        "Keras",
        "images at 32x32 in quick mode",
    ):
        assert expected in out
    assert cfg.artifacts == lab_env / "build" / "artifacts" / "01_mnist_cnn" / "quick"
    assert cfg.artifacts.is_dir()


def test_setup_picks_datasets_by_mode(lab_env, monkeypatch) -> None:
    monkeypatch.setenv("LAB_OFFLINE", "1")
    monkeypatch.setenv("LAB_HOME", str(lab_env))
    cfg = config.setup("01_mnist_cnn", datasets=[("mnist", "no-such-dataset")])
    assert list(cfg.data) == ["mnist"]


def test_setup_in_full_mode_offline_fails_clearly(lab_env, monkeypatch) -> None:
    from helpers.datasets import DataUnavailable

    monkeypatch.setenv("LAB_OFFLINE", "1")
    monkeypatch.setenv("LAB_MODE", "full")
    with pytest.raises(DataUnavailable, match="mnist.npz"):
        config.setup("01_mnist_cnn", datasets=["mnist"])
