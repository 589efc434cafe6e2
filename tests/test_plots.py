"""helpers.plots: the lecture's colours, labels on grids, mistakes highlighted."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from helpers import plots  # noqa: E402

HISTORY = {
    "loss": [1.0, 0.5, 0.3],
    "val_loss": [1.1, 0.7, 0.8],
    "accuracy": [0.5, 0.8, 0.9],
    "val_accuracy": [0.4, 0.7, 0.7],
}


def teardown_function() -> None:
    plt.close("all")


def test_learning_curves_training_red_validation_green() -> None:
    fig = plots.learning_curves(HISTORY, marks={"fine-tuning starts": 2.5})
    loss_ax, acc_ax = fig.axes
    train, val = loss_ax.get_lines()[:2]
    assert train.get_color() == "red" and val.get_color() == "green"
    np.testing.assert_array_equal(train.get_xdata(), [1, 2, 3])
    np.testing.assert_array_equal(val.get_ydata(), HISTORY["val_loss"])
    assert acc_ax.get_ylabel() == "accuracy"
    assert any(t.get_text() == "fine-tuning starts" for t in loss_ax.texts)


def test_learning_curves_accepts_a_keras_history_and_names_missing_metrics() -> None:
    class History:
        history = HISTORY

    plots.learning_curves(History(), metrics=("loss",))
    with pytest.raises(KeyError, match="auc"):
        plots.learning_curves(HISTORY, metrics=("auc",))


def test_image_grid_marks_mistakes_in_red() -> None:
    images = np.zeros((4, 8, 8))
    fig = plots.image_grid(
        images,
        true=[0, 1, 2, 3],
        pred=[0, 1, 9, 3],
        ncols=2,
        class_names=[str(i) for i in range(10)],
    )
    titles = [ax.get_title() for ax in fig.axes]
    colours = [ax.title.get_color() for ax in fig.axes]
    assert titles[2] == "true 2\npred 9" and colours[2] == "red"
    assert colours[0] == colours[1] == colours[3] == "black"


def test_confusion_heatmap_and_probability_bars() -> None:
    fig = plots.confusion_heatmap(np.array([[5, 1], [0, 4]]), ["cat", "dog"])
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["cat", "dog"]
    assert sorted(t.get_text() for t in ax.texts) == ["0", "1", "4", "5"]
    fig = plots.probability_bars([0.1, 0.7, 0.2], ["a", "b", "c"])
    bars = fig.axes[0].patches
    assert [b.get_facecolor()[:3] for b in bars][1] == matplotlib.colors.to_rgb("red")


def test_image_rows_labels_each_row_and_scales_0_255() -> None:
    rows = {"flip": [np.full((4, 4), 255.0)] * 3, "none": [np.zeros((4, 4))] * 2}
    fig = plots.image_rows(rows, ncols=3)
    axes = np.array(fig.axes).reshape(2, 3)
    assert [ax.get_ylabel() for ax in axes[:, 0]] == ["flip", "none"]
    assert axes[0, 0].images[0].get_array().max() == 1.0  # 0-255 shown as 0-1
    assert not axes[1, 2].images  # a short row leaves its last cells empty


def test_flat_noise_is_drawn_flat_and_chance_is_marked() -> None:
    flat = {"loss": [0.69315, 0.69335, 0.69320], "val_loss": [0.69318, 0.69330, 0.69325],
            "accuracy": [0.5, 0.5, 0.5], "val_accuracy": [0.5, 0.5, 0.5]}
    fig = plots.learning_curves(flat, chance={"loss": np.log(2), "accuracy": 0.5})
    for ax, span in zip(fig.axes, (plots.MIN_SPAN["loss"], plots.MIN_SPAN["accuracy"]),
                        strict=True):
        low, high = ax.get_ylim()
        assert high - low >= span - 1e-9
        assert any(line.get_linestyle() == ":" for line in ax.get_lines())


def test_confusion_overview_sorts_and_zooms_on_the_confused_classes() -> None:
    rng = np.random.default_rng(0)
    matrix = np.diag(rng.integers(5, 10, 100))
    matrix[3, 7] = matrix[7, 3] = 9  # the one confused pair
    names = [f"c{i}" for i in range(100)]
    fig = plots.confusion_overview(matrix, names, k=5)
    top = fig.axes[1]
    labels = {t.get_text() for t in top.get_xticklabels()}
    assert {"c3", "c7"} <= labels and len(labels) == 5


def test_sweep_curves_do_not_stretch_a_small_difference() -> None:
    """Two runs two images apart are drawn on accuracy 0-1 and loss from 0 (issue 22: a
    2-image difference filled the whole y-axis)."""
    import pandas as pd

    table = pd.DataFrame({"blocks": [1, 6], "val_accuracy": [0.50, 0.52],
                          "val_loss": [0.70, 0.69]})
    fig = plots.sweep_curves(table, "blocks", "re-trained blocks N", chosen=1)
    acc, loss = fig.axes
    assert acc.get_ylim() == (0, 1.02)
    assert loss.get_ylim()[0] == 0 and loss.get_ylim()[1] >= 0.70


def test_a_confusion_heatmap_can_name_an_other_column() -> None:
    """02's 6/9 heatmap: rows 6 and 9, columns 6, 9 and every other digit."""
    m = np.array([[40, 2, 8], [3, 30, 17]])
    fig = plots.confusion_heatmap(m, ["6", "9"], predicted_names=["6", "9", "other"])
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["6", "9", "other"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["6", "9"]
    assert sorted(t.get_text() for t in ax.texts) == sorted(str(v) for v in m.ravel())
