"""helpers.training: two fit() calls merged into one history with phases; the summaries."""

from __future__ import annotations

import keras
import numpy as np
import pandas as pd
import pytest

from helpers import training
from helpers.training import FINE_TUNING, TRANSFER_LEARNING


def _model() -> tuple[keras.Model, keras.Model]:
    keras.utils.set_random_seed(0)
    base = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(8)],
        name="base",
    )
    inputs = keras.Input((4,))
    outputs = keras.layers.Dense(1)(base(inputs, training=False))
    return keras.Model(inputs, outputs), base


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    return x, (x[:, 0] > 0).astype("float32")


def _phases(log: list):
    def compile_(model: keras.Model) -> None:
        model.compile(
            optimizer=keras.optimizers.Adam(1e-2),
            loss=keras.losses.BinaryCrossentropy(from_logits=True),
            metrics=[keras.metrics.BinaryAccuracy(threshold=0.0, name="accuracy")],
        )

    def tl(model, base):
        base.trainable = False
        compile_(model)
        log.append(("tl", len(model.trainable_weights)))

    def ft(model, base):
        base.trainable = True
        base.layers[0].trainable = False  # "unfreeze from layer 1"
        compile_(model)
        log.append(("ft", len(model.trainable_weights)))

    return tl, ft


def test_two_phase_merges_histories_and_marks_phases() -> None:
    model, base = _model()
    x, y = _data()
    log: list = []
    tl, ft = _phases(log)
    frozen_kernel = base.layers[0].get_weights()[0].copy()
    h = training.two_phase(model, base, 3, 2, tl, ft, x=x, y=y, validation_data=(x, y),
                           batch_size=16, verbose=0)
    assert log == [("tl", 2), ("ft", 4)]  # head only; then head + the unfrozen Dense
    assert list(h["epoch"]) == [1, 2, 3, 4, 5]
    assert list(h["phase"]) == [TRANSFER_LEARNING] * 3 + [FINE_TUNING] * 2
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(h.columns)
    np.testing.assert_array_equal(base.layers[0].get_weights()[0], frozen_kernel)
    assert training.fine_tuning_starts(h) == 3.5
    # the history survives a sweep CSV round trip (dict of lists)
    again = training.as_frame(h.to_dict("list"))
    pd.testing.assert_frame_equal(again, h)


@pytest.mark.parametrize(("n_tl", "n_ft", "calls", "starts"), [
    (0, 2, ["ft"], 0.5),
    (2, 0, ["tl"], None),
])
def test_single_phase_runs(n_tl, n_ft, calls, starts) -> None:
    model, base = _model()
    x, y = _data()
    log: list = []
    tl, ft = _phases(log)
    h = training.two_phase(model, base, n_tl, n_ft, tl, ft, x=x, y=y, validation_data=(x, y),
                           epochs=99, verbose=0)
    assert [name for name, _ in log] == calls
    assert len(h) == n_tl + n_ft and list(h["epoch"]) == list(range(1, n_tl + n_ft + 1))
    assert training.fine_tuning_starts(h) == starts
    assert training.fine_tuning_jump(h) is None


def test_refuses_empty_run() -> None:
    model, base = _model()
    with pytest.raises(ValueError, match="at least one epoch"):
        training.two_phase(model, base, 0, 0, None, None)


HISTORY = {
    "epoch": [1, 2, 3, 4, 5],
    "phase": [TRANSFER_LEARNING] * 2 + [FINE_TUNING] * 3,
    "loss": [0.6, 0.4, 0.7, 0.3, 0.2],
    "accuracy": [0.70, 0.85, 0.60, 0.90, 0.97],
    "val_loss": [0.5, 0.35, 0.3, 0.32, 0.33],
    "val_accuracy": [0.60, 0.86, 0.88, 0.90, 0.89],
}


def test_summarise_against_pandas() -> None:
    s = training.summarise(HISTORY)
    frame = pd.DataFrame(HISTORY)
    assert s["best_val_accuracy"] == frame["val_accuracy"].max() == 0.90
    assert s["final_val_accuracy"] == 0.89
    assert s["best_val_loss"] == 0.3 and s["final_val_loss"] == 0.33
    # 95% of 0.90 is 0.855: epoch 2 (0.86) is the first to reach it
    assert s["epochs_to_95pct_best"] == 2
    assert s["accuracy_gap"] == pytest.approx(0.97 - 0.89)
    assert s["loss_gap"] == pytest.approx(0.33 - 0.2)
    assert training.epochs_to_reach([0.5, 0.5, 0.5]) == 1
    assert training.summarise(HISTORY, share=0.99)["epochs_to_99pct_best"] == 4


def test_fine_tuning_jump_compares_last_tl_with_first_ft_epoch() -> None:
    jump = training.fine_tuning_jump(HISTORY)
    assert jump["accuracy"] == pytest.approx(0.60 - 0.85)  # training accuracy drops
    assert jump["loss"] == pytest.approx(0.7 - 0.4)
    assert jump["val_accuracy"] == pytest.approx(0.88 - 0.86)
    assert "epoch" not in jump and "phase" not in jump
