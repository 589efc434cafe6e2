"""helpers.config: parameter blocks, setup, the run it carries, its banner and artifacts."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from helpers import config, pretrain, runtime, sweeps


@pytest.fixture
def offline_home(lab_env, monkeypatch) -> Path:
    monkeypatch.setenv("LAB_OFFLINE", "1")
    monkeypatch.setenv("LAB_HOME", str(lab_env))
    monkeypatch.delenv("LAB_BUILD", raising=False)
    return lab_env


def test_params_block_picks_a_column() -> None:
    block = {"epochs": (2, 50, 60), "size": (64, 150, 150)}
    assert vars(config.pick_params(block, "quick")) == {"epochs": 2, "size": 64}
    assert vars(config.pick_params(block, "full")) == {"epochs": 50, "size": 150}
    assert vars(config.pick_params(block, "paper")) == {"epochs": 60, "size": 150}
    with pytest.raises(ValueError, match="epochs"):
        config.pick_params({"epochs": 2}, "quick")


def test_setup_prepares_data_and_prints_the_banner(offline_home, capsys) -> None:
    cfg = config.setup(
        "01_mnist_cnn",
        params={"epochs": (3, 15, 15)},
        datasets=["mnist"],
        notes=["images at 32x32 in quick mode"],
    )
    out = capsys.readouterr().out
    assert cfg.mode == "quick" and cfg.params.epochs == 3 and cfg.quick
    assert cfg.distribution.replicas == 1 and cfg.backend == runtime.backend()
    assert cfg.data["mnist"].kind == "stand-in"
    for expected in (
        "Mode          quick",
        "LAB_MODE=quick|full|paper",
        "mnist: stand-in",
        "offline",
        "Weights       none (trained from scratch)",
        "Device        CPU",
        f"Backend       Keras {runtime.versions()['keras']} on {cfg.backend}",
        "images at 32x32 in quick mode",
    ):
        assert expected in out, expected
    assert cfg.artifacts == (offline_home / "build" / "artifacts" / "01_mnist_cnn" / "quick"
                             / "stand-in__no-weights")
    assert cfg.artifacts.is_dir()


def test_a_parameter_names_the_mode_dependent_dataset(offline_home) -> None:
    cfg = config.setup("01_mnist_cnn", datasets=["digits"],
                       params={"digits": ("mnist", "no-such-dataset", "no-such-dataset")})
    assert list(cfg.data) == ["mnist"]


def test_setup_in_full_mode_offline_fails_clearly(offline_home, monkeypatch) -> None:
    from helpers.datasets import DataUnavailable

    monkeypatch.setenv("LAB_MODE", "full")
    with pytest.raises(DataUnavailable, match="mnist.npz"):
        config.setup("01_mnist_cnn", datasets=["mnist"])


def test_record_is_carried_by_the_run(offline_home) -> None:
    cfg = config.setup("01_mnist_cnn", datasets=["mnist"])
    cfg.record(test_accuracy=0.9)
    table = cfg.record(test_loss=0.3)  # a second call adds to the first
    saved = (offline_home / "results" / "quick" / "01_mnist_cnn.json").read_text()
    assert '"test_accuracy": 0.9' in saved and '"test_loss": 0.3' in saved
    assert set(table["metric"]) >= {"test_accuracy", "test_loss"}


def test_new_weights_do_not_reuse_old_sweeps(offline_home, monkeypatch, tmp_path) -> None:
    """Offline (course-pretrained weights, from a three-step recipe here) first, then with the
    ImageNet file at hand: the second run gets its own artifact folder, so its sweep trains
    again instead of replaying the first's rows."""
    monkeypatch.setitem(pretrain.RECIPES, "MobileNetV2_96",
                        pretrain.Recipe("MobileNetV2", 32, steps=3, batch=8, per_class=1))
    first = config.setup("05_mobilenetv2_tl_ft_ratio", params={"backbone": ("MobileNetV2_96",
                         "MobileNetV2_160", "MobileNetV2_160")}, weights=["backbone"])
    assert first.weights["MobileNetV2_96"].kind == "course-pretrained"
    assert first.weights["MobileNetV2_96"].tag in first.artifacts.name
    runs = []

    def run(cfg_row):
        runs.append(cfg_row["n"])
        return {"val_accuracy": 0.5}

    sweeps.sweep(first.artifacts / "ratios.csv", [{"n": 1}], run)
    sweeps.sweep(first.artifacts / "ratios.csv", [{"n": 1}], run)
    assert runs == [1]  # the same sources: the finished row is reused

    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_96_no_top.h5").write_bytes(
        b"weights")
    monkeypatch.setenv("LAB_OFFLINE", "0")
    monkeypatch.setenv("LAB_DATA_MIRROR", mirror.as_uri())
    second = config.setup("05_mobilenetv2_tl_ft_ratio", weights=["backbone"], params={
                          "backbone": ("MobileNetV2_96", "MobileNetV2_160", "MobileNetV2_160")})
    assert second.weights["MobileNetV2_96"].kind == "imagenet"
    assert second.artifacts != first.artifacts
    sweeps.sweep(second.artifacts / "ratios.csv", [{"n": 1}], run)
    assert runs == [1, 1]


def test_the_artifact_folder_changes_with_the_kind_of_data(offline_home) -> None:
    cfg = config.setup("01_mnist_cnn", datasets=["mnist"])
    before = cfg.artifacts
    cfg.data["mnist"] = SimpleNamespace(kind="real")  # as if the real MNIST were at hand
    assert cfg.sources == "real__no-weights" and cfg.artifacts != before
