"""helpers.callbacks: the epoch bar of a quiet fit (issue 22: long cells showed no progress)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from helpers import callbacks


class Seen(callbacks.EpochBar):
    """Keeps what the bar showed: its count and last postfix at the end."""

    def on_train_end(self, logs=None) -> None:
        self.shown = None if self.bar is None else (self.bar.n, self.bar.total,
                                                    self.bar.postfix)
        super().on_train_end(logs)


@pytest.mark.parametrize(("verbose", "epochs", "expected"), [(0, 3, (3, 3)), (2, 3, None),
                                                              (0, 1, None)])
def test_a_bar_counts_the_epochs_of_a_quiet_fit_only(monkeypatch, verbose, epochs, expected):
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x = np.zeros((8, 2), "float32")
    bar = Seen("tiny")
    model.fit(x, x[:, :1], epochs=epochs, batch_size=4, verbose=verbose,
              validation_data=(x, x[:, :1]), callbacks=[bar])
    if expected is None:
        assert bar.shown is None
    else:
        assert bar.shown[:2] == expected and "val_loss=" in bar.shown[2]


class _Traced(keras.layers.Layer):
    """Passes its input on and counts the training steps Keras traces through it."""

    def __init__(self) -> None:
        super().__init__()
        self.traces = 0

    def call(self, x, training=None):
        if training:
            self.traces += 1
        return x


def _fit_counting_traces(built_first: bool) -> tuple[int, list[np.ndarray]]:
    keras.utils.set_random_seed(0)
    traced = _Traced()
    model = keras.Sequential([keras.Input((3,)), traced, keras.layers.Dense(2)])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    x = np.random.default_rng(0).normal(size=(16, 3)).astype("float32")
    model.fit(x, x[:, :2], epochs=2, batch_size=8, verbose=0,
              callbacks=[callbacks.OptimizerBuilt()] if built_first else [])
    return traced.traces, [keras.ops.convert_to_numpy(w) for w in model.weights]


def test_the_training_step_is_traced_once_and_trains_as_before():
    """Without it, TensorFlow traces the step twice (the optimizer's variables are made in the
    first trace); with it once, on either backend, and the weights end the same."""
    before, weights_before = _fit_counting_traces(built_first=False)
    once, weights = _fit_counting_traces(built_first=True)
    assert once == 1
    assert before == (2 if keras.backend.backend() == "tensorflow" else 1)
    for ours, theirs in zip(weights, weights_before, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-6)


def test_an_optimizer_already_built_is_left_alone():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    model.optimizer.build(model.trainable_variables)
    slots = list(model.optimizer.variables)
    model.fit(np.zeros((4, 3)), np.zeros((4, 2)), verbose=0, callbacks=[callbacks.OptimizerBuilt()])
    assert [v.path for v in model.optimizer.variables] == [v.path for v in slots]


def test_epoch_seconds_keeps_one_duration_per_epoch():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    clock = callbacks.EpochSeconds()
    model.fit(np.zeros((8, 2)), np.zeros((8, 1)), epochs=3, batch_size=4, verbose=0,
              callbacks=[clock])
    assert len(clock.seconds) == 3 and all(0 < s < 60 for s in clock.seconds)
