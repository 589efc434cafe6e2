"""Learning-rate schedules of the CIFAR document's TransferTrainer (CIFAR §2.2, Table 5, §3.1);
notebook 06, 実験1, teaches them (burn-in, then warmup, flat, cooldown).

TransferTrainer first trains only the new classifier (burn-in, ``burnin_epochs`` at the constant
``burnin_lr``), then fine-tunes with a rate that warms up to ``max_lr``, stays flat, and cools down
to ``min_lr``. The document gives the phase lengths and end points but not the curve shapes, so
we choose:

* warmup **linear** from ``min_lr`` to ``max_lr`` (Goyal et al. 2017, "Accurate, large minibatch
  SGD"): it starts where burn-in ended (``burnin_lr == min_lr`` in Table 5), with no jump;
* cooldown **cosine** from ``max_lr`` to ``min_lr`` (Loshchilov & Hutter, SGDR): it spends longer
  at low rates than a linear ramp and has no kink at either end. With ``flat_epochs=0`` the whole
  schedule equals Keras's own ``CosineDecay(warmup_target=...)``, which the tests check.

The schedule is evaluated per optimizer step (smooth within an epoch) and is flat at ``min_lr``
after the cooldown.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import keras
import numpy as np
from keras import ops


@keras.saving.register_keras_serializable(package="helpers")
class WarmupFlatCooldown(keras.optimizers.schedules.LearningRateSchedule):
    """Fine-tuning schedule: linear warmup, flat ``max_lr``, cosine cooldown (module docstring)."""

    def __init__(
        self,
        steps_per_epoch: int,
        warmup_epochs: int,
        flat_epochs: int,
        cooldown_epochs: int,
        max_lr: float,
        min_lr: float,
    ) -> None:
        self.steps_per_epoch = int(steps_per_epoch)
        self.warmup_epochs = int(warmup_epochs)
        self.flat_epochs = int(flat_epochs)
        self.cooldown_epochs = int(cooldown_epochs)
        self.max_lr = float(max_lr)
        self.min_lr = float(min_lr)

    @property
    def boundaries(self) -> tuple[int, int, int]:
        """Steps at which warmup, flat and cooldown end."""
        warm = self.warmup_epochs * self.steps_per_epoch
        flat = warm + self.flat_epochs * self.steps_per_epoch
        return warm, flat, flat + self.cooldown_epochs * self.steps_per_epoch

    def __call__(self, step):
        warm, flat, cool = self.boundaries
        step = ops.cast(step, "float32")
        warmup = self.min_lr + (self.max_lr - self.min_lr) * step / max(warm, 1)
        progress = ops.clip((step - flat) / max(cool - flat, 1), 0.0, 1.0)
        cosine = 0.5 * (1.0 + ops.cos(math.pi * progress))
        cooldown = self.min_lr + (self.max_lr - self.min_lr) * cosine
        return ops.where(step < warm, warmup, ops.where(step < flat, self.max_lr, cooldown))

    def get_config(self) -> dict:
        return {
            "steps_per_epoch": self.steps_per_epoch,
            "warmup_epochs": self.warmup_epochs,
            "flat_epochs": self.flat_epochs,
            "cooldown_epochs": self.cooldown_epochs,
            "max_lr": self.max_lr,
            "min_lr": self.min_lr,
        }


def transfer_trainer_rates(
    burnin_epochs: int, burnin_lr: float, schedule: WarmupFlatCooldown, points_per_epoch: int = 10
) -> tuple[np.ndarray, np.ndarray]:
    """The whole TransferTrainer curve for plotting: ``(epoch, learning rate)`` arrays.

    Epochs are continuous (0 = start of training); burn-in is constant ``burnin_lr``, then
    ``schedule`` runs from step 0 of the fine-tuning optimizer.
    """
    fine_epochs = schedule.warmup_epochs + schedule.flat_epochs + schedule.cooldown_epochs
    epochs = np.linspace(
        0, burnin_epochs + fine_epochs, (burnin_epochs + fine_epochs) * points_per_epoch + 1
    )
    steps = np.clip(epochs - burnin_epochs, 0, None) * schedule.steps_per_epoch
    rates = np.asarray(ops.convert_to_numpy(schedule(steps)), dtype=float)
    return epochs, np.where(epochs < burnin_epochs, burnin_lr, rates)


class LearningRateLogger(keras.callbacks.Callback):
    """Adds the optimizer's current ``learning_rate`` to each epoch's logs (so to ``History``)."""

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if logs is not None:
            logs["learning_rate"] = float(ops.convert_to_numpy(self.model.optimizer.learning_rate))


def divergence(losses: Sequence[float], reference: float, factor: float) -> str:
    """``""`` when every loss is finite and at most ``factor`` times ``reference`` (e.g. the
    validation loss at the end of burn-in); otherwise one sentence saying where the fit
    diverged. A fine-tuning phase whose peak rate is too large for its few steps shows up so
    (CIFAR §3.1's 0.03 reached within one quick epoch)."""
    for epoch, loss in enumerate(losses, start=1):
        if not math.isfinite(loss):
            return f"diverged: the loss became {loss} in epoch {epoch} of the phase"
        if loss > factor * reference:
            return (f"diverged: the loss reached {loss:.4g} in epoch {epoch} of the phase, "
                    f"above {factor:g} times its starting value {reference:.4g}")
    return ""
