"""The callbacks every fit of the course gets (docs/architecture.md, "Budgets").

``for_fit`` is what ``cfg.callbacks(name)`` returns: ``OptimizerBuilt`` (the optimizer's
variables made before the first step is traced), ``helpers.backup.Resume`` (rerunning the
cell after a disconnect continues from the last finished epoch), ``helpers.projection.
Projection`` (the measured time against the budget, after the first epoch), ``EpochBar`` (a
progress bar over the epochs of a fit run with ``verbose=0``) and, in a dry run, ``DryRunStop``
(the fit ends after one step).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import keras
from tqdm.auto import tqdm

from helpers import projection
from helpers.backup import Resume


class OptimizerBuilt(keras.callbacks.Callback):
    """Builds the model's optimizer (its slot variables) when the fit begins, before Keras
    traces the training step. On TensorFlow without a distribution strategy Keras otherwise
    makes them inside that first trace, and TensorFlow traces a function that creates variables
    a second time, a large part of the first epoch of 06's EfficientNetB0 on a CPU
    (benchmarks/first_epoch.py measures it). JAX, and TensorFlow under a strategy, build it
    before tracing already; an optimizer already built is left alone. A metric given as a
    string (``"accuracy"``) is made inside that trace too, once Keras sees the labels, so the
    notebooks whose models trace longest (05, 06, 07) give theirs as objects."""

    async_safe = True  # it has no batch hook

    def on_train_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        optimizer = self.model.optimizer
        if optimizer is not None and not optimizer.built:
            optimizer.build(self.model.trainable_variables)


class EpochSeconds(keras.callbacks.Callback):
    """The wall-clock seconds of each epoch of a fit, in ``seconds`` (the benchmarks' clock: the
    first epoch holds the tracing or compiling, the later ones the steady cost)."""

    def __init__(self) -> None:
        super().__init__()
        self.seconds: list[float] = []
        self._began = 0.0

    def on_epoch_begin(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        self._began = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        self.seconds.append(time.perf_counter() - self._began)


class DryRunStop(keras.callbacks.Callback):
    """Dry run: the fit ends after ``steps`` training batches (validation still runs once).
    It ends the whole fit, not each epoch: Keras cannot resume a ``PyDataset`` (the lecture's
    generators) in a new epoch after a batch loop broken off mid-epoch."""

    # not async_safe: Keras reads stop_training right after each batch's callbacks; dispatched
    # to a thread, the flag arrives steps late (on JAX those steps then meet donated buffers)
    async_safe = False

    def __init__(self, steps: int = 1) -> None:
        super().__init__()
        self.steps = steps

    def on_train_batch_end(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        if batch + 1 >= self.steps:
            self.model.stop_training = True


class EpochBar(keras.callbacks.Callback):
    """A bar over the epochs of a fit run with ``verbose=0`` (01's 60-epoch overfitting fit,
    the sweeps' fits), with the last epoch's validation loss and accuracy; Keras's own progress
    bar shows the rest. ``TQDM_DISABLE=1`` (``make run``) turns it off."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name, self.bar = name, None

    def on_train_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        if self.params.get("verbose", 1) == 0 and (self.params.get("epochs") or 0) > 1:
            self.bar = tqdm(total=self.params["epochs"], desc=self.name, unit="epoch")

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        if self.bar is not None:
            shown = {k: f"{v:.4f}" for k, v in (logs or {}).items()
                     if k in ("val_loss", "val_accuracy")}
            self.bar.n = epoch + 1  # a resumed fit starts at its first unfinished epoch
            self.bar.set_postfix(shown, refresh=True)

    def on_train_end(self, logs: Mapping[str, Any] | None = None) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def for_fit(name: str, backup: Path, clock: projection.Clock,
            dry_run: bool) -> list[keras.callbacks.Callback]:
    """The callbacks of the planned fit ``name``, backed up in ``backup``."""
    found = [OptimizerBuilt(), Resume(str(backup)), projection.Projection(clock, name),
             EpochBar(name)]
    return [*found, DryRunStop()] if dry_run else found
