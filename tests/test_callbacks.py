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
