"""TransferTrainer schedule (CIFAR Table 5): phase boundaries and values, against Keras."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest
from keras import ops

from helpers.schedules import LearningRateLogger, WarmupFlatCooldown, transfer_trainer_rates

DOC = {"warmup_epochs": 10, "flat_epochs": 5, "cooldown_epochs": 20, "max_lr": 0.03,
       "min_lr": 1e-4}  # fmt: skip
STEPS = 7


def lr(schedule, step) -> float:
    return float(ops.convert_to_numpy(schedule(step)))


@pytest.fixture
def schedule() -> WarmupFlatCooldown:
    return WarmupFlatCooldown(steps_per_epoch=STEPS, **DOC)


def test_phase_boundaries_are_epochs_times_steps(schedule):
    assert schedule.boundaries == (10 * STEPS, 15 * STEPS, 35 * STEPS)


def test_values_at_the_phase_boundaries(schedule):
    assert lr(schedule, 0) == pytest.approx(1e-4)  # warmup starts where burn-in ended
    assert lr(schedule, 5 * STEPS) == pytest.approx((1e-4 + 0.03) / 2)  # linear: halfway
    assert lr(schedule, 10 * STEPS) == pytest.approx(0.03)  # flat phase
    assert lr(schedule, 15 * STEPS - 1) == pytest.approx(0.03)
    assert lr(schedule, 15 * STEPS) == pytest.approx(0.03)  # cooldown starts at max
    assert lr(schedule, 25 * STEPS) == pytest.approx((1e-4 + 0.03) / 2)  # cosine: halfway
    assert lr(schedule, 35 * STEPS) == pytest.approx(1e-4)
    assert lr(schedule, 99 * STEPS) == pytest.approx(1e-4)  # stays at min_lr afterwards


def test_warmup_is_linear_and_cooldown_is_cosine(schedule):
    warm = [lr(schedule, s) for s in range(10 * STEPS)]
    np.testing.assert_allclose(np.diff(warm), (0.03 - 1e-4) / (10 * STEPS), rtol=1e-4)
    quarter = 15 * STEPS + 5 * STEPS
    expected = 1e-4 + (0.03 - 1e-4) * 0.5 * (1 + math.cos(math.pi / 4))
    assert lr(schedule, quarter) == pytest.approx(expected, rel=1e-5)


def test_without_flat_phase_it_equals_keras_cosine_decay_with_warmup():
    ours = WarmupFlatCooldown(STEPS, 10, 0, 20, 0.03, 1e-4)
    keras_schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=1e-4,
        warmup_target=0.03,
        warmup_steps=10 * STEPS,
        decay_steps=20 * STEPS,
        alpha=1e-4 / 0.03,
    )
    steps = np.arange(0, 32 * STEPS)
    np.testing.assert_allclose(
        [lr(ours, s) for s in steps], [lr(keras_schedule, s) for s in steps], rtol=1e-4
    )


def test_full_curve_starts_with_constant_burnin(schedule):
    epochs, rates = transfer_trainer_rates(3, 1e-4, schedule, points_per_epoch=4)
    assert epochs[0] == 0 and epochs[-1] == 38
    assert np.all(rates[epochs < 3] == 1e-4)
    assert rates.max() == pytest.approx(0.03)
    assert rates[np.searchsorted(epochs, 3 + 10)] == pytest.approx(0.03)
    assert rates[-1] == pytest.approx(1e-4)


def test_optimizer_follows_the_schedule_and_history_logs_it():
    schedule = WarmupFlatCooldown(steps_per_epoch=2, warmup_epochs=1, flat_epochs=1,
                                  cooldown_epochs=1, max_lr=0.03, min_lr=1e-4)  # fmt: skip
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(keras.optimizers.SGD(learning_rate=schedule), loss="mse")
    x, y = np.zeros((8, 3), "float32"), np.zeros((8, 2), "float32")
    history = model.fit(x, y, batch_size=4, epochs=3, verbose=0, callbacks=[LearningRateLogger()])
    # after epoch e the optimizer has taken 2 * e steps
    expected = [lr(schedule, 2), lr(schedule, 4), lr(schedule, 6)]
    np.testing.assert_allclose(history.history["learning_rate"], expected, rtol=1e-5)
    restored = WarmupFlatCooldown.from_config(schedule.get_config())
    assert lr(restored, 3) == pytest.approx(lr(schedule, 3))


def test_divergence_is_nan_or_a_rise_above_the_factor():
    from helpers.schedules import divergence

    assert divergence([2.3, 2.1, 2.4], reference=2.3, factor=10) == ""
    assert divergence([], reference=2.3, factor=10) == ""
    # notebook 06's old quick schedule: 151 after burn-in, then 22,476
    message = divergence([3000.0, 22476.0], reference=151.0, factor=10)
    assert "epoch 1" in message and "10 times" in message
    assert "nan" in divergence([2.0, float("nan")], reference=2.3, factor=10)
    assert "inf" in divergence([float("inf")], reference=2.3, factor=10)
