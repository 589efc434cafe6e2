"""Reading a two-phase history: transfer learning, then fine-tuning (RATIO §5.1-5.3).

The two-phase training itself is the lesson of notebook 05, and its code stays there: the
transfer-learning ``fit`` with ``epochs=n_tl``, then the fine-tuning ``fit`` with
``initial_epoch=n_tl``, merged into one history with an ``epoch`` and a ``phase`` column
(``TRANSFER_LEARNING`` or ``FINE_TUNING``). This module only reads such a history: where the
phases meet, best and final values, epochs to reach 95% of the best, the training-validation
gap, and what happens to the curves at the epoch where fine-tuning starts (RATIO §5.2).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

TRANSFER_LEARNING = "transfer learning"
FINE_TUNING = "fine-tuning"
PHASE = "phase"
EPOCH = "epoch"

History = pd.DataFrame | Mapping[str, Sequence[Any]]


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

