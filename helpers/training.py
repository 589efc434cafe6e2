"""Two-phase training, transfer learning then fine-tuning, with one merged history (RATIO §5.1).

The lesson stays in the notebook: the notebook writes what starts each phase (freezing or
unfreezing layers, then ``compile``) and passes it in. This module only runs the two ``fit``
calls back to back, numbers the epochs 1..N_tl+N_ft and marks each epoch's phase, and reads the
merged history: best and final values, epochs to reach 95% of the best, the training-validation
gap, and what happens to the curves at the epoch where fine-tuning starts (RATIO §5.2).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

TRANSFER_LEARNING = "transfer learning"
FINE_TUNING = "fine-tuning"
PHASE = "phase"
EPOCH = "epoch"

StartPhase = Callable[[Any, Any], None]
History = pd.DataFrame | Mapping[str, Sequence[Any]]


def two_phase(
    model: Any,
    base: Any,
    n_tl: int,
    n_ft: int,
    start_transfer_learning: StartPhase,
    start_fine_tuning: StartPhase,
    **fit_kwargs: Any,
) -> pd.DataFrame:
    """``n_tl`` epochs of transfer learning, then ``n_ft`` of fine-tuning; the merged history.

    ``start_transfer_learning(model, base)`` and ``start_fine_tuning(model, base)`` prepare a phase
    (trainable flags, ``model.compile``); ``fit_kwargs`` go to both ``model.fit`` calls. The
    fine-tuning ``fit`` continues the epoch count (``initial_epoch=n_tl``), as in the TensorFlow
    transfer-learning tutorial RATIO follows. Returns one row per epoch: ``epoch``, ``phase``
    and every metric Keras logged.
    """
    if n_tl < 0 or n_ft < 0 or n_tl + n_ft == 0:
        raise ValueError(f"need n_tl, n_ft >= 0 and at least one epoch, got ({n_tl}, {n_ft})")
    fit_kwargs.pop("epochs", None)
    fit_kwargs.pop("initial_epoch", None)
    parts = []
    if n_tl:
        start_transfer_learning(model, base)
        history = model.fit(epochs=n_tl, **fit_kwargs)
        parts.append(_phase_frame(history.history, TRANSFER_LEARNING, first_epoch=1))
    if n_ft:
        start_fine_tuning(model, base)
        history = model.fit(epochs=n_tl + n_ft, initial_epoch=n_tl, **fit_kwargs)
        parts.append(_phase_frame(history.history, FINE_TUNING, first_epoch=n_tl + 1))
    return pd.concat(parts, ignore_index=True)


def _phase_frame(
    history: Mapping[str, Sequence[float]], phase: str, first_epoch: int
) -> pd.DataFrame:
    frame = pd.DataFrame({k: [float(v) for v in values] for k, values in history.items()})
    frame.insert(0, PHASE, phase)
    frame.insert(0, EPOCH, np.arange(first_epoch, first_epoch + len(frame)))
    return frame


def as_frame(history: History) -> pd.DataFrame:
    """A merged history as a DataFrame (e.g. from the dict of lists a sweep CSV stores)."""
    return history.copy() if isinstance(history, pd.DataFrame) else pd.DataFrame(dict(history))


def fine_tuning_starts(history: History) -> float | None:
    """Position of the line between the phases (``n_tl + 0.5``), ``None`` without fine-tuning."""
    frame = as_frame(history)
    ft = frame.loc[frame[PHASE] == FINE_TUNING, EPOCH]
    return float(ft.iloc[0]) - 0.5 if len(ft) else None


def epochs_to_reach(values: Sequence[float], share: float = 0.95) -> int:
    """First epoch (1-based) whose value reaches ``share`` of the best (highest) value."""
    values = np.asarray(values, dtype=float)
    return int(np.argmax(values >= share * values.max())) + 1


def summarise(history: History, share: float = 0.95) -> dict[str, float]:
    """One run's summary row (RATIO §5.2-5.3): best and final validation accuracy and loss,
    epochs to reach ``share`` of the best validation accuracy, final training-validation gaps
    (accuracy: training minus validation; loss: validation minus training)."""
    h = as_frame(history)
    return {
        "best_val_accuracy": float(h["val_accuracy"].max()),
        "final_val_accuracy": float(h["val_accuracy"].iloc[-1]),
        "best_val_loss": float(h["val_loss"].min()),
        "final_val_loss": float(h["val_loss"].iloc[-1]),
        f"epochs_to_{round(share * 100)}pct_best": epochs_to_reach(h["val_accuracy"], share),
        "final_train_accuracy": float(h["accuracy"].iloc[-1]),
        "accuracy_gap": float(h["accuracy"].iloc[-1] - h["val_accuracy"].iloc[-1]),
        "loss_gap": float(h["val_loss"].iloc[-1] - h["loss"].iloc[-1]),
    }


def fine_tuning_jump(history: History) -> dict[str, float] | None:
    """The change from the last transfer-learning epoch to the first fine-tuning epoch, per
    metric (RATIO §5.2: training accuracy and loss get worse there, validation does not);
    ``None`` when the run has only one phase."""
    h = as_frame(history)
    tl = h[h[PHASE] == TRANSFER_LEARNING]
    ft = h[h[PHASE] == FINE_TUNING]
    if tl.empty or ft.empty:
        return None
    last, first = tl.iloc[-1], ft.iloc[0]
    metrics = [c for c in h.columns if c not in (EPOCH, PHASE)]
    return {m: float(first[m] - last[m]) for m in metrics}
