"""helpers.histories: reading a merged two-phase history (the two fits are notebook 05's code)."""

from __future__ import annotations

import pandas as pd
import pytest

from helpers import histories
from helpers.histories import FINE_TUNING, TRANSFER_LEARNING

HISTORY = {
    "epoch": [1, 2, 3, 4, 5],
    "phase": [TRANSFER_LEARNING] * 2 + [FINE_TUNING] * 3,
    "loss": [0.6, 0.4, 0.7, 0.3, 0.2],
    "accuracy": [0.70, 0.85, 0.60, 0.90, 0.97],
    "val_loss": [0.5, 0.35, 0.3, 0.32, 0.33],
    "val_accuracy": [0.60, 0.86, 0.88, 0.90, 0.89],
}


def _one_phase(phase: str) -> dict:
    return {**{k: v[:3] for k, v in HISTORY.items()}, "phase": [phase] * 3}


def test_as_frame_survives_a_sweep_csv_round_trip() -> None:
    frame = histories.as_frame(HISTORY)
    pd.testing.assert_frame_equal(histories.as_frame(frame.to_dict("list")), frame)
    assert histories.as_frame(frame) is not frame  # a copy: the caller's frame stays as it was


@pytest.mark.parametrize(("history", "starts"), [
    (HISTORY, 2.5),
    (_one_phase(FINE_TUNING), 0.5),
    (_one_phase(TRANSFER_LEARNING), None),
])
def test_fine_tuning_starts_between_the_phases(history, starts) -> None:
    assert histories.fine_tuning_starts(history) == starts


def test_summarise_against_pandas() -> None:
    s = histories.summarise(HISTORY)
    frame = pd.DataFrame(HISTORY)
    assert s["best_val_accuracy"] == frame["val_accuracy"].max() == 0.90
    assert s["final_val_accuracy"] == 0.89
    assert s["best_val_loss"] == 0.3 and s["final_val_loss"] == 0.33
    # 95% of 0.90 is 0.855: epoch 2 (0.86) is the first to reach it
    assert s["epochs_to_95pct_best"] == 2
    assert s["final_train_accuracy"] == 0.97
    assert s["accuracy_gap"] == pytest.approx(0.97 - 0.89)
    assert s["loss_gap"] == pytest.approx(0.33 - 0.2)
    assert histories.epochs_to_reach([0.5, 0.5, 0.5]) == 1
    assert histories.summarise(HISTORY, share=0.99)["epochs_to_99pct_best"] == 4


def test_fine_tuning_jump_compares_last_tl_with_first_ft_epoch() -> None:
    jump = histories.fine_tuning_jump(HISTORY)
    assert jump["accuracy"] == pytest.approx(0.60 - 0.85)  # training accuracy drops
    assert jump["loss"] == pytest.approx(0.7 - 0.4)
    assert jump["val_accuracy"] == pytest.approx(0.88 - 0.86)
    assert "epoch" not in jump and "phase" not in jump


@pytest.mark.parametrize("phase", [TRANSFER_LEARNING, FINE_TUNING])
def test_no_jump_in_a_single_phase_run(phase) -> None:
    assert histories.fine_tuning_jump(_one_phase(phase)) is None
