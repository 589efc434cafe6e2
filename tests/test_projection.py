"""The measured projection (helpers.projection): each fit projected from its own measurement,
a host-bound first epoch that no longer stops a notebook that fits, a notebook that truly
cannot finish still stopped with the measured table, the probe, and the async-safe callbacks."""

from __future__ import annotations

import time
from pathlib import Path

import keras
import numpy as np
import pytest

from helpers import backup, budget, config, projection
from helpers.budget import Fit
from helpers.callbacks import DryRunStop


def _level_fits() -> list[Fit]:
    """BLOG's levels 1 and 3 as 04 plans them (50 epochs, batch 16, the lecture's generator,
    no validation here): level 3 at BLOG's 2,000 images of 150 px, level 1 small enough for a
    test (160 images of 32 px), so its T4 estimate is a fraction of a second an epoch."""
    fed = {"batch": 16, "feed": "generator"}
    return [Fit("level1", "small_convnet", 32, 160, 50, **fed),
            Fit("level3", "VGG16", 150, 2000, 50, **fed)]


class _SlowBatches(keras.utils.PyDataset):
    """A host-bound input pipeline: every batch takes ``seconds`` on the host, like the
    lecture's generator decoding and augmenting JPEGs in one Python thread."""

    def __init__(self, n: int, batch: int, seconds: float) -> None:
        super().__init__(max_queue_size=1)  # no batches queued up while the step compiles
        self.n, self.batch, self.seconds = n, batch, seconds

    def __len__(self) -> int:
        return self.n // self.batch

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        time.sleep(self.seconds)
        return np.zeros((self.batch, 4), "float32"), np.zeros(self.batch, "int32")


def _tiny_model() -> keras.Model:
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    return model


def test_a_host_bound_first_epoch_no_longer_stops_a_notebook_that_fits(
        lab_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Level 1's first epoch takes far longer than its T4 estimate (the host feeds it). The old
    projection scaled every later fit by that measured / estimated ratio and stopped; now the
    fit projects only itself, and level 3 waits for the generator's measured rate, not for a
    ratio. Level 3's own steps are not measured here (no probe), so it keeps its estimate."""
    fits = _level_fits()
    clock = projection.Clock(fits, time.time(), allowed_seconds=1800.0, mode="full")
    data = _SlowBatches(160, 16, 0.05)  # 10 batches of 50 ms: about 0.5 s an epoch
    _tiny_model().fit(data, epochs=2, verbose=0,
                      callbacks=[projection.Projection(clock, "level1")])
    out = capsys.readouterr().out
    assert "Projection    level1:" in out and "over its" not in out
    level1, level3 = clock.rows()
    assert level1.measured and level1.source == "its first epoch"
    ratio = level1.epoch_seconds / fits[0].t4_epoch_seconds("train")
    old_projection = ratio * fits[1].t4_seconds  # what the ratio would have projected
    assert ratio > 3 and old_projection > 1800  # the old projection stopped here
    rate = clock.rates[("generator", "train")]
    assert rate == pytest.approx(16 / clock.steps[fits[0].key].train)
    assert not level3.measured
    assert level3.epoch_seconds == pytest.approx(max(fits[1].t4_epoch_seconds("train"),
                                                     2000 / rate))
    clock.check("level1", 2)  # and the whole notebook still fits: no stop


def test_a_notebook_that_cannot_finish_stops_with_the_measured_table(
        lab_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fits = [Fit("small", "mnist_cnn", 28, 320, 5, batch=32),
            Fit("large", "VGG16", 150, 320, 50, 96, batch=32)]
    clock = projection.Clock(fits, time.time(), allowed_seconds=60.0, mode="full")
    # the probe measured the large fit at 2 s a training step and 0.5 s an evaluation step:
    # 10 x 2 + 3 x 0.5 = 21.5 s an epoch, 50 epochs
    clock.record(fits[1], projection.Steps(train=2.0, evaluate=0.5, compile=30.0,
                                           source="probe"))
    with pytest.raises(budget.BudgetExceeded) as stop:
        clock.check()
    message = str(stop.value)
    assert "\n" not in message
    assert "full mode would take" in message and "large (18 min)" in message
    assert "LAB_MODE=quick" in message and "LAB_BUDGET_MINUTES" in message
    table = capsys.readouterr().out
    assert "here/epoch" in table and "T4 est./epoch" in table
    large = next(line for line in table.splitlines() if "large" in line)
    assert "21.5 s" in large and "probe" in large
    # the small fit is not measured: its row says so, in brackets, and it never stops a run
    small = next(line for line in table.splitlines() if " small " in line)
    assert "T4 estimate" in small and "(" in small


def test_an_unmeasured_fit_never_stops_the_run(lab_env: Path) -> None:
    fits = [Fit("huge", "VGG16", 224, 100_000, 100, batch=32)]  # hours by the T4 estimate
    clock = projection.Clock(fits, time.time(), allowed_seconds=60.0, mode="full")
    line = clock.check()
    assert "T4 estimate for 1 fit(s) not yet measured" in line
    assert "may pass the" in line


def test_a_fit_projects_its_own_epochs_left(lab_env: Path) -> None:
    fits = [Fit("a", "mnist_cnn", 28, 320, 10, batch=32),
            Fit("b", "mnist_cnn", 28, 640, 5, batch=32)]  # the same distinct fit: one key
    clock = projection.Clock(fits, time.time(), allowed_seconds=None, mode="paper")
    clock.record(fits[0], projection.Steps(0.1, None, 1.0, "its first epoch"))
    a, b = clock.rows("a", epochs_done=3)
    assert a.epoch_seconds == pytest.approx(1.0) and a.remaining == pytest.approx(7.0)
    assert b.epoch_seconds == pytest.approx(2.0) and b.remaining == pytest.approx(10.0)
    assert [r.fit.name for r in clock.rows("b")] == ["b"]  # fits before the current are done
    # a probe does not replace what a fit measured of itself
    clock.record(fits[1], projection.Steps(9.0, None, 0.0, "probe"))
    assert clock.steps[fits[0].key].source == "its first epoch"


def test_the_epoch_is_timed_without_its_first_batches() -> None:
    callback = projection.Projection(projection.Clock([], 0.0, None, "full"), "x")
    callback.set_params({"steps": 5, "epochs": 1, "verbose": 0})
    callback._stamps = {"begin": 0.0, "train0": 10.0, "test": 14.0, "test0": 20.0}
    callback._val_batches = 3  # 10 s compiling the training step, 5 s the evaluation step
    steps = callback.steps_measured(end=22.0)
    assert steps.train == pytest.approx(1.0) and steps.evaluate == pytest.approx(1.0)
    assert steps.compile == pytest.approx(22.0 - 5 * 1.0 - 3 * 1.0)


def test_the_probe_times_each_distinct_fit_once(lab_env: Path) -> None:
    fits = [Fit("first", "mnist_cnn", 28, 64, 3, 16, batch=8),
            Fit("again", "mnist_cnn", 28, 64, 3, 16, batch=8),  # same key: not probed again
            Fit("features", "small_convnet", 32, 0, 1, 24, trains=False, batch=8)]
    clock = projection.Clock(fits, time.time(), allowed_seconds=None, mode="full")
    text = projection.probe(clock, steps=2)
    assert text.startswith("Measured      2 distinct fit(s), 2 steps each")
    first = clock.steps[fits[0].key]
    assert first.train > 0 and first.evaluate > 0 and first.source == "probe"
    features = clock.steps[fits[2].key]
    assert features.train is None and features.evaluate > 0  # a forward pass only
    rows = clock.rows()
    assert all(r.measured and r.source == "probe" for r in rows)
    assert rows[0].epoch_seconds == pytest.approx(8 * first.train + 2 * first.evaluate)


def test_the_probe_model_freezes_a_frozen_backbone(lab_env: Path) -> None:
    model = projection.probe_model(Fit("tl", "MobileNet", 32, 64, 1, trains=False, batch=4))
    assert not model.layers[0].trainable
    assert model.layers[-1].trainable and model.layers[-1].compute_dtype == "float32"


def test_the_fit_callbacks_let_keras_dispatch_batches_asynchronously(
        tmp_path: Path, lab_env: Path) -> None:
    clock = projection.Clock([], 0.0, None, "full")
    callbacks = [backup.Resume(str(tmp_path / "backup")), projection.Projection(clock, "x")]
    assert all(c.async_safe for c in callbacks)
    listed = keras.callbacks.CallbackList(callbacks, model=_tiny_model())
    if keras.src.backend.IS_THREAD_SAFE:
        assert listed._async_train and listed._async_test
    # a dry run's stop must reach Keras after the first batch, not some batches later
    assert not DryRunStop().async_safe


@pytest.mark.parametrize(("mode", "dry", "env", "wanted"),
                         [("full", False, "", True), ("paper", False, "", True),
                          ("quick", False, "", False), ("full", True, "", False),
                          ("quick", False, "1", True), ("full", False, "0", False)])
def test_the_probe_runs_in_full_and_paper_mode(mode: str, dry: bool, env: str, wanted: bool,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAB_PROBE", env)
    assert config.probe_wanted(mode, dry) is wanted


def test_the_probe_times_a_classifier_on_features(lab_env: Path) -> None:
    fit = Fit("transfer 224", "dense_head", 1024, 64, 200, 16, batch=8)
    steps = projection.probe_fit(fit, steps=2)
    assert steps.train > 0 and steps.evaluate > 0


def test_a_fit_the_probe_cannot_time_is_said_and_keeps_its_estimate(
        lab_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fits = [Fit("too big", "mnist_cnn", 28, 64, 3, batch=8)]
    clock = projection.Clock(fits, time.time(), allowed_seconds=60.0, mode="full")

    def out_of_memory(fit: Fit, steps: int) -> projection.Steps:
        raise MemoryError("RESOURCE_EXHAUSTED: out of memory\nwhile allocating")

    monkeypatch.setattr(projection, "probe_fit", out_of_memory)
    text = projection.probe(clock)
    assert "Not timed     too big (MemoryError: RESOURCE_EXHAUSTED: out of memory while" in text
    assert not clock.rows()[0].measured


def test_the_probe_leaves_the_runs_precision_and_seed_alone(lab_env: Path) -> None:
    """The probe builds models of its own; the run's mixed-precision policy (set by setup)
    must survive it: keras.backend.clear_session() would reset it to float32."""
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        clock = projection.Clock([Fit("head", "dense_head", 16, 32, 1, 8, batch=8)], 0.0,
                                 None, "full")
        projection.probe(clock, steps=1)
        assert keras.mixed_precision.global_policy().name == "mixed_bfloat16"
    finally:
        keras.mixed_precision.set_global_policy("float32")
