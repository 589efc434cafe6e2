"""Budgets (helpers.budget and setup's share of them): FLOPs against the papers' counts, the
plan, the projection stop, resuming a killed fit, Drive storage, mixed precision and the dry
run's sizing, and SmoothGrad's bounded memory."""

from __future__ import annotations

import os
import subprocess
import sys
import tracemalloc
from pathlib import Path
from types import SimpleNamespace

import keras
import numpy as np
import pytest

from helpers import backup, budget, callbacks, config, explain, lesson, results, runtime

# Multiply-adds per image at 224 x 224 as the papers give them (convolutions and dense layers):
# MobileNet (Howard et al. 2017, Table 8): 569 M; MobileNetV2 (Sandler et al. 2018, Table 3):
# 300 M; EfficientNet-B0 (Tan and Le 2019, Table 2): 0.39 B; VGG16: 15.5 G with its three
# dense layers (123.6 M multiply-adds of 4096-wide layers), so 15.35 G without the top.
PAPER_MACS = {"MobileNet": 569e6, "MobileNetV2": 300e6, "EfficientNetB0": 0.39e9,
              "VGG16": 15.5e9 - 123.6e6}


@pytest.mark.parametrize("name", sorted(PAPER_MACS))
def test_forward_flops_match_the_papers(name: str, lab_env: Path) -> None:
    flops, depthwise = budget.model_cost(name, 224)
    assert flops / 2 == pytest.approx(PAPER_MACS[name], rel=0.02)
    assert depthwise == (name != "VGG16")


def test_a_new_flop_count_adds_a_file_and_rewrites_none(lab_env: Path) -> None:
    # kernels graded side by side share the data cache: the guard reports a changed file there
    budget.model_cost.cache_clear()
    budget.model_cost("mnist_cnn", 28)
    [first] = (runtime.own_cache_dir() / "flops").iterdir()
    before = (first.read_bytes(), first.stat().st_mtime_ns)
    budget.model_cost.cache_clear()
    assert budget.model_cost("mnist_cnn", 32) != budget.model_cost("mnist_cnn", 28)
    assert (first.read_bytes(), first.stat().st_mtime_ns) == before
    assert len(list((runtime.own_cache_dir() / "flops").iterdir())) == 2  # no partial left


def test_forward_flops_of_a_small_cnn_by_hand() -> None:
    model = budget.small_convnet(28, 1, (32, 64), 128)
    # conv 26x26x32 (3x3x1), conv 11x11x64 (3x3x32), dense 1600->128, dense 128->10
    by_hand = 2 * (26 * 26 * 32 * 9 + 11 * 11 * 64 * 9 * 32 + 1600 * 128 + 128 * 10)
    assert budget.forward_flops(model) == by_hand


def test_a_frozen_fit_costs_one_forward_pass_a_trained_one_three(lab_env: Path) -> None:
    frozen = budget.Fit("a", "MobileNet", 224, images=100, epochs=2, trains=False)
    trained = budget.Fit("b", "MobileNet", 224, images=100, epochs=2, val_images=50)
    forward, _ = budget.model_cost("MobileNet", 224)
    assert frozen.flops == forward * 100 * 2
    assert trained.flops == forward * (300 + 50) * 2
    # by hand: compute at the depthwise rate plus the fixed cost of each of the 4 + 2 steps
    by_hand = (trained.flops / budget.T4_RATE["depthwise"]
               + 2 * (4 + 2) * budget.T4_STEP_SECONDS)
    assert trained.t4_seconds == pytest.approx(by_hand)


def test_the_t4_estimate_counts_the_lectures_generator(lab_env: Path) -> None:
    """A small convnet fed by the lecture's generator is bound by the generator's rate (BLOG's
    level 1: 2,000 training and 800 validation images at 150 px)."""
    fit = budget.Fit("level1", "small_convnet", 150, 2000, 1, 800, batch=16, feed="generator")
    rates = budget.FEED_RATE["generator"]
    assert fit.t4_seconds == pytest.approx(2000 / rates["train"] + 800 / rates["evaluate"])
    arrays = budget.Fit("level1", "small_convnet", 150, 2000, 1, 800, batch=16)
    assert arrays.t4_seconds < fit.t4_seconds / 10


def test_full_mode_plans_fit_the_session_and_paper_keeps_the_documents(lab_env: Path) -> None:
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "budgets.py"
    spec = importlib.util.spec_from_file_location("budgets", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    for notebook, params in bench.notebook_params().items():
        full = lesson.named(notebook).fits(config.pick_params(params, "full"),
                                           budget.document_images)
        assert sum(f.t4_seconds for f in full) <= 60 * budget.SESSION_MINUTES["full"], notebook
    paper = config.pick_params(bench.notebook_params()["07_motor_defects_cam_smoothgrad"],
                               "paper")
    assert paper.resolutions == [224, 288, 352, 416, 480, 520, 576, 640]  # MOTOR's sizes
    assert (paper.transfer_epochs, paper.blocks, paper.fine_tune_epochs) == (
        200, list(range(1, 14)), 60)


def _tiny_model() -> keras.Model:
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    return model


_KILLED_FIT = """
import os, signal, sys
import numpy as np
import helpers
import keras
from helpers import backup

keras.utils.set_random_seed(0)
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")


class Kill(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch == 1:  # after the second epoch's backup
            os.kill(os.getpid(), signal.SIGKILL)


model.fit(np.ones((32, 4)), np.zeros(32), epochs=5, verbose=0,
          callbacks=[backup.Resume(sys.argv[1], every_seconds=0), Kill()])
"""


def test_a_killed_fit_resumes_at_the_next_epoch(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "backup"
    killed = subprocess.run([sys.executable, "-c", _KILLED_FIT, str(folder)],
                            capture_output=True, timeout=300, env={**os.environ})
    assert killed.returncode == -9, killed.stderr.decode()[-2000:]
    model = _tiny_model()
    ran: list[int] = []
    counted = keras.callbacks.LambdaCallback(on_epoch_begin=lambda epoch, logs: ran.append(epoch))
    history = model.fit(np.ones((32, 4)), np.zeros(32), epochs=5, verbose=0,
                        callbacks=[backup.Resume(str(folder), every_seconds=0), counted])
    assert ran == [2, 3, 4]  # epochs 3-5: the two finished ones are not redone
    assert history.epoch == [0, 1, 2, 3, 4] and len(history.history["loss"]) == 5  # issue 23
    assert "continues at epoch 3" in capsys.readouterr().out
    assert not folder.exists() or not any(folder.iterdir()), "a finished fit removes its backup"


def test_short_epochs_are_backed_up_once_the_interval_has_passed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    now = [0.0]
    monkeypatch.setattr(backup.time, "monotonic", lambda: now[0])
    saved: list[int] = []

    class Clocked(backup.Resume):
        def on_epoch_end(self, epoch: int, logs: object = None) -> None:
            now[0] += 25.0  # every epoch takes 25 s
            super().on_epoch_end(epoch, logs)

        def _save_model(self) -> None:
            saved.append(self._current_epoch)
            super()._save_model()

    model = _tiny_model()
    model.fit(np.ones((8, 4)), np.zeros(8), epochs=7, verbose=0,
              callbacks=[Clocked(str(tmp_path / "backup"), every_seconds=60)])
    assert saved == [3, 6]  # 75 s after the start, then 75 s after that backup
    saved.clear()
    model.fit(np.ones((8, 4)), np.zeros(8), epochs=3, verbose=0,
              callbacks=[Clocked(str(tmp_path / "backup"), every_seconds=0)])
    assert saved == [1, 2, 3]


def test_outputs_go_to_drive_when_it_is_mounted(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LAB_BUILD", "LAB_RESULTS", "LAB_CACHE", "LAB_DRIVE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LAB_HOME", str(tmp_path / "project"))
    monkeypatch.setenv("LAB_DRIVE_MOUNT", str(tmp_path / "drive"))
    assert runtime.drive_folder() is None  # nothing mounted
    assert runtime.build_dir() == tmp_path / "project" / "build"
    (tmp_path / "drive" / "MyDrive").mkdir(parents=True)
    course = tmp_path / "drive" / "MyDrive" / runtime.DRIVE_FOLDER
    assert runtime.build_dir() == course / "build"
    assert runtime.artifacts_root("01_mnist_cnn", "full").is_relative_to(course)
    assert results.results_dir() == course / "results"
    # downloaded archives too, so a new session does not download them again; unpacked sets
    # stay on the session's disk
    assert runtime.downloads_dir() == course / "downloads"
    assert runtime.cache_dir() == tmp_path / "project" / "data" / "cache"
    monkeypatch.setenv("LAB_CACHE", str(tmp_path / "classroom"))
    assert runtime.downloads_dir() == tmp_path / "classroom" / "downloads"  # LAB_CACHE wins
    monkeypatch.delenv("LAB_CACHE")
    monkeypatch.setenv("LAB_DRIVE", "0")
    assert runtime.build_dir() == tmp_path / "project" / "build"


@pytest.mark.parametrize(("accelerator", "policy"), [("GPU", "mixed_float16"),
                                                     ("TPU", "mixed_bfloat16"),
                                                     ("CPU", "float32")])
def test_mixed_precision_on_accelerators(accelerator: str, policy: str,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LAB_PRECISION", raising=False)
    assert config.precision_policy(accelerator) == policy


def test_a_float32_output_layer_under_mixed_precision() -> None:
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8),
                                  keras.layers.Dense(2, activation="softmax", dtype="float32")])
        assert model.layers[0].compute_dtype == "bfloat16"
        assert keras.ops.convert_to_numpy(model(np.ones((1, 4)))).dtype == np.float32
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_three_columns_and_the_dry_run_sizes() -> None:
    block = {"batch_size": (8, 128, 128), "smoothgrad_samples": (4, 50, 50),
             "train_images": (64, 50_000, 50_000), "val_per_class": (10, 400, 400),
             "train_per_class": (40, None, None), "fine_tune_epochs": (2, 20, 60),
             "dataset": ("motor_cores_small", "motor_cores", "motor_cores"),
             "resolutions": ([128], [224, 520], [224, 288, 520]), "num_models": (2, 5, 5),
             "ratios": ([(2, 1)], [(30, 1), (20, 11), (10, 21), (0, 31)], [(30, 1)]),
             "batchnorm_ratio": ((2, 1), (10, 21), (10, 21))}
    assert config.pick_params(block, "paper").resolutions == [224, 288, 520]
    with pytest.raises(ValueError, match=r"\(quick, full, paper\) triple"):
        config.pick_params({"epochs": (1, 2)}, "quick")
    caps = {"batch_size": "batch", "smoothgrad_samples": 2, "train_images": "images",
            "val_per_class": "per_class", "train_per_class": "per_class",
            "fine_tune_epochs": 2, "dataset": "small", "resolutions": "grid", "num_models": 2,
            "ratios": "grid"}  # batchnorm_ratio: no cap
    full = config.pick_params(block, "full")
    changed = config._dry_run_sized(full, "CPU", caps)
    assert (full.batch_size, full.smoothgrad_samples, full.dataset) == (
        config.DRYRUN_BATCH, 2, "motor_cores_small")
    assert (full.train_images, full.val_per_class, full.train_per_class) == (
        4 * config.DRYRUN_BATCH, 2 * config.DRYRUN_BATCH, 2 * config.DRYRUN_BATCH)  # None: all
    assert full.resolutions == [224, 520]  # the real shapes stay
    assert (full.fine_tune_epochs, full.num_models) == (2, 2)
    assert full.ratios == [(30, 1), (10, 21), (0, 31)]  # the ends, and what batchnorm_ratio names
    assert len(changed) == 9
    paper = config.pick_params(block, "paper")
    config._dry_run_sized(paper, "CPU", caps)
    assert paper.resolutions == [224, 520]  # a longer grid: its first and last entry
    on_gpu = config.pick_params(block, "full")
    assert config._dry_run_sized(on_gpu, "GPU", caps) == [] and on_gpu.batch_size == 128
    uncapped = config.pick_params(block, "full")
    assert config._dry_run_sized(uncapped, "CPU", {}) == [] and uncapped.batch_size == 128
    with pytest.raises(ValueError, match="parameters the block lacks: epochs"):
        config._dry_run_sized(uncapped, "CPU", {"epochs": 2})
    with pytest.raises(ValueError, match="unknown dry-run cap"):
        lesson.Lesson("99_x", dry_run={"batch_size": "tiny"})


def test_a_dry_run_needs_full_or_paper(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAB_DRYRUN", "1")
    monkeypatch.setenv("LAB_MODE", "quick")
    with pytest.raises(ValueError, match="LAB_DRYRUN"):
        runtime.resolve_mode("CPU")
    monkeypatch.delenv("LAB_MODE")
    assert runtime.resolve_mode("CPU") == "full"


def _smoothgrad_peak(samples: int, n: int = 24, size: int = 96) -> int:
    model = keras.Sequential([keras.Input((size, size, 3)), keras.layers.Conv2D(4, 3),
                              keras.layers.GlobalAveragePooling2D(),
                              keras.layers.Dense(2, activation="softmax")])
    images = np.random.default_rng(0).random((n, size, size, 3), dtype=np.float32)
    explain.smoothgrad(model, images[:2], 0, samples=1)  # trace the gradient first
    tracemalloc.start()
    try:
        explain.smoothgrad(model, images, 0, samples=samples)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_smoothgrad_memory_does_not_grow_with_samples(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(explain, "CHUNK_SIDE", 96)  # two images a pass, as at 520 px
    images_bytes = 24 * 96 * 96 * 3 * 4
    few, many = _smoothgrad_peak(2), _smoothgrad_peak(16)
    assert many < 1.2 * few
    # the images' float32 copy, the sum, and a chunk: not samples x images of float64 noise
    assert many < 4 * images_bytes < 16 * 2 * images_bytes


def test_the_plan_is_printed_with_the_budget(lab_env: Path) -> None:
    params = SimpleNamespace(img_size=150, epochs=30, exercise_epochs=30, batch_size=32)
    fits = lesson.named("03_vgg16_horse_zebra").fits(params, budget.document_images)
    text = budget.describe(fits, "full")
    assert text.startswith("Plan          3 fits")
    assert "fine-tuning  VGG16 150px  40 x 30 epochs, batch 32, the lecture's generator" in text
    assert "Budget        90 min (full)" in text


def test_expect_asserts_except_in_a_dry_run(capsys: pytest.CaptureFixture[str]) -> None:
    cfg = SimpleNamespace(dry_run=False)
    with pytest.raises(AssertionError, match="must learn"):
        config.Config.expect(cfg, False, "must learn")
    config.Config.expect(cfg, True, "must learn")
    cfg.dry_run = True
    config.Config.expect(cfg, False, "must learn")
    assert capsys.readouterr().out == "Dry run, not asserted: must learn\n"


def test_a_dry_run_fit_ends_after_one_step() -> None:
    steps = []

    class Count(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            steps.append(batch)

    history = _tiny_model().fit(np.zeros((64, 4)), np.zeros(64), batch_size=8, epochs=3,
                                validation_data=(np.zeros((8, 4)), np.zeros(8)),
                                callbacks=[Count(), callbacks.DryRunStop()], verbose=0)
    assert history.epoch == [0] and steps == [0] and "val_loss" in history.history


def test_the_memory_benchmarks_dry_run_keeps_every_image(monkeypatch: pytest.MonkeyPatch) -> None:
    block = {"batch_size": (8, 128, 128), "train_images": (64, 50_000, 50_000),
             "train_per_class": (40, None, None),
             "dataset": ("motor_cores_small", "motor_cores", "motor_cores"),
             "fine_tune_epochs": (2, 20, 60)}
    monkeypatch.setenv("LAB_DRYRUN_DATA", "full")
    caps = {"batch_size": "batch", "train_images": "images", "train_per_class": "per_class",
            "dataset": "small", "fine_tune_epochs": 2}
    full = config.pick_params(block, "full")
    changed = config._dry_run_sized(full, "CPU", caps)
    assert (full.train_images, full.train_per_class, full.dataset) == (50_000, None,
                                                                         "motor_cores")
    assert (full.batch_size, full.fine_tune_epochs) == (config.DRYRUN_BATCH, 2)  # still capped
    assert len(changed) == 2


def test_a_classifier_on_features_costs_its_steps(lab_env: Path) -> None:
    """07's softmax layer on 1,024 pooled features for 200 epochs: its arithmetic is nothing,
    its 79 steps an epoch are not."""
    head = budget.Fit("transfer 224", "dense_head", 1024, 2508, 200, 264, batch=32)
    assert head.flops == 2 * 1024 * 2 * (3 * 2508 + 264) * 200
    assert head.t4_seconds == pytest.approx((79 + 9) * 200 * budget.T4_STEP_SECONDS, rel=0.01)


def test_the_quick_plan_says_what_a_person_needs(lab_env: Path) -> None:
    """Quick mode runs on whatever machine it is on: no T4 estimate of 0 s; a skipped phase,
    one epoch and a classifier on features are said in words (issue 22)."""
    fits = [budget.Fit("tl0", "MobileNetV2", 96, 64, 0, 16),
            budget.Fit("tl2 ft1", "MobileNetV2", 96, 64, 1, 16),
            budget.Fit("level2", "dense_head", 512, 120, 20, 80)]
    text = budget.describe(fits, "quick")
    assert "T4" not in text and "timed on this machine" in text
    assert "tl0      MobileNetV2 96px  no epochs (this setting skips the phase)" in text
    assert "64 x 1 epoch, batch 32" in text
    assert "a dense classifier on 512 features  120 x 20 epochs" in text
    assert budget.duration(0.01) == "under 0.1 s" and budget.duration(0.4) == "0.4 s"
