"""Plots the course reads again and again (LECTURE, "誤差グラフの見方" / "Accuracyグラフの見方").

Learning curves follow the lecture's colours: training in red, validation in green.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

TRAIN_COLOUR = "red"
VALIDATION_COLOUR = "green"
MIN_SPAN = {"loss": 0.1, "accuracy": 0.1}  # smallest y-range drawn, so flat noise looks flat


def _history_dict(history: Any) -> Mapping[str, Sequence[float]]:
    return history.history if hasattr(history, "history") else history


def learning_curves(
    history: Any,
    metrics: Sequence[str] = ("loss", "accuracy"),
    title: str | None = None,
    marks: Mapping[str, float] | None = None,
    axes: Sequence[plt.Axes] | None = None,
    chance: Mapping[str, float] | None = None,
) -> plt.Figure:
    """Loss and accuracy per epoch, training red and validation green, one panel per metric.

    ``history`` is a Keras ``History`` or its ``.history`` dict; ``marks`` draws labelled
    vertical lines at epoch positions (e.g. ``{"fine-tuning starts": 10.5}``); ``chance`` draws
    a dotted line at each metric's chance level (e.g. ``{"accuracy": 0.5, "loss": 0.693}``).
    The y-axis spans at least ``MIN_SPAN`` of loss or accuracy, so that noise of 1e-4 around a
    flat curve is drawn flat instead of as zig-zags filling the panel.
    """
    hist = _history_dict(history)
    if axes is None:
        fig, axes = plt.subplots(1, len(metrics), figsize=(5.5 * len(metrics), 3.8), squeeze=False)
        axes = axes[0]
    fig = axes[0].figure
    for ax, metric in zip(axes, metrics, strict=True):
        if metric not in hist:
            raise KeyError(f"history has no {metric!r}; it has {sorted(hist)}")
        epochs = np.arange(1, len(hist[metric]) + 1)
        ax.plot(epochs, hist[metric], color=TRAIN_COLOUR, marker=".", label=f"training {metric}")
        if f"val_{metric}" in hist:
            ax.plot(
                epochs,
                hist[f"val_{metric}"],
                color=VALIDATION_COLOUR,
                marker=".",
                label=f"validation {metric}",
            )
        for label, x in (marks or {}).items():
            ax.axvline(x, color="grey", linestyle="--", linewidth=1)
            ax.annotate(
                label,
                (x, 1),
                xycoords=("data", "axes fraction"),
                rotation=90,
                va="top",
                ha="right",
                fontsize=8,
                color="grey",
            )
        if chance and metric in chance:
            ax.axhline(chance[metric], color="grey", linestyle=":", label="chance")
        _floor_span(ax, MIN_SPAN.get(metric.removeprefix("val_"), 0.0))
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def _floor_span(ax: plt.Axes, span: float) -> None:
    """Widen the y-axis about its centre to at least ``span``."""
    low, high = ax.get_ylim()
    if high - low < span:
        centre = (low + high) / 2
        ax.set_ylim(centre - span / 2, centre + span / 2)


def image_grid(
    images: np.ndarray,
    true: Sequence[int] | None = None,
    pred: Sequence[int] | None = None,
    class_names: Sequence[str] | None = None,
    ncols: int = 8,
    cmap: str | None = None,
    title: str | None = None,
    size: float = 1.6,
) -> plt.Figure:
    """Images in a grid, each titled with its true (and predicted) label; mistakes in red."""
    n = len(images)
    nrows = max(1, int(np.ceil(n / ncols)))
    title_lines = 0 if true is None else (1 if pred is None else 2)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(size * ncols, (size + 0.18 * title_lines) * nrows + 0.5),
        squeeze=False,
    )

    def name(i: int) -> str:
        return str(class_names[i]) if class_names is not None else str(i)

    for ax in axes.flat:
        ax.axis("off")
    for k, ax in enumerate(axes.flat[:n]):
        img = np.asarray(images[k])
        if img.ndim == 3 and img.shape[-1] == 1:
            img = img[..., 0]
        ax.imshow(img, cmap=cmap or ("gray" if img.ndim == 2 else None))
        if true is None:
            continue
        label, colour = f"true {name(true[k])}", "black"
        if pred is not None:
            label += f"\npred {name(pred[k])}"
            if pred[k] != true[k]:
                colour = "red"
                ax.axis("on")
                ax.set_xticks([])
                ax.set_yticks([])
                for spine in ax.spines.values():
                    spine.set_color("red")
                    spine.set_linewidth(3)
        ax.set_title(label, fontsize=8, color=colour)
    if title:
        fig.suptitle(title)
    fig.tight_layout(h_pad=0.6)
    return fig


def image_rows(
    rows: Mapping[str, Sequence[np.ndarray]], ncols: int, size: float = 1.9
) -> plt.Figure:
    """One labelled row of images per entry (e.g. random draws of one transform, LECTURE
    "データ拡張"); pixel values in 0-255 or 0-1."""
    fig, axes = plt.subplots(
        len(rows), ncols, figsize=(size * ncols * 1.3, size * len(rows)), squeeze=False
    )
    for ax_row, (label, images) in zip(axes, rows.items(), strict=True):
        for ax, img in zip(ax_row, images, strict=False):
            img = np.asarray(img)
            img = img / 255.0 if img.max() > 1.5 else img
            ax.imshow(np.clip(img.squeeze(), 0, 1), cmap="gray")
            ax.set_xticks([])
            ax.set_yticks([])
        ax_row[0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
    fig.tight_layout()
    return fig


def confusion_heatmap(
    matrix: np.ndarray,
    class_names: Sequence[str],
    title: str = "Confusion matrix",
    annotate: bool | None = None,
    ax: plt.Axes | None = None,
    predicted_names: Sequence[str] | None = None,
) -> plt.Figure:
    """Seaborn heatmap of a confusion matrix (rows: true class, columns: predicted class);
    ``predicted_names`` labels the columns where they differ from the rows (a column "other")."""
    import seaborn as sns

    annotate = len(class_names) <= 20 if annotate is None else annotate
    if ax is None:
        side = min(16.0, 3 + 0.45 * len(class_names))
        _, ax = plt.subplots(figsize=(side, side * 0.85))
    sns.heatmap(
        matrix,
        annot=annotate,
        fmt="d",
        cmap="Blues",
        cbar=True,
        square=True,
        xticklabels=class_names if predicted_names is None else predicted_names,
        yticklabels=class_names,
        ax=ax,
    )
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    ax.figure.tight_layout()
    return ax.figure


def confusion_overview(
    matrix: np.ndarray, class_names: Sequence[str], k: int = 15, title: str = "Confusion matrix"
) -> plt.Figure:
    """A confusion matrix too large to read cell by cell (CIFAR-100): left, the whole matrix
    without labels, classes ordered by recall (best first) so its structure shows; right, the
    ``k`` classes involved in the most confusions, annotated, where the mix-ups can be read."""
    matrix = np.asarray(matrix)
    recall = np.diag(matrix) / np.maximum(matrix.sum(axis=1), 1)
    order = np.argsort(-recall, kind="stable")
    off = matrix - np.diag(np.diag(matrix))
    involved = np.argsort(-(off.sum(axis=0) + off.sum(axis=1)), kind="stable")[:k]
    fig, (ax_all, ax_top) = plt.subplots(1, 2, figsize=(15, 6.6),
                                         gridspec_kw={"width_ratios": [1, 1.25]})
    ax_all.imshow(matrix[order][:, order], cmap="Blues", interpolation="nearest")
    ax_all.set_title(f"all {len(class_names)} classes, sorted by recall")
    ax_all.set_xlabel("predicted")
    ax_all.set_ylabel("true")
    ax_all.set_xticks([])
    ax_all.set_yticks([])
    names = [class_names[i] for i in involved]
    confusion_heatmap(matrix[np.ix_(involved, involved)], names, ax=ax_top,
                      title=f"the {len(involved)} classes in the most confusions", annotate=True)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def probability_bars(
    probabilities: Sequence[float],
    class_names: Sequence[str],
    ax: plt.Axes | None = None,
    title: str = "class probabilities",
) -> plt.Figure:
    """Horizontal bars of one prediction's class probabilities, the predicted class in red."""
    probabilities = np.asarray(probabilities)
    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 0.3 * len(class_names) + 1))
    colours = ["red" if i == probabilities.argmax() else "grey" for i in range(len(class_names))]
    ax.barh([str(c) for c in class_names], probabilities, color=colours)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("probability")
    ax.set_title(title)
    ax.figure.tight_layout()
    return ax.figure


def heatmap_overlays(
    images: np.ndarray,
    maps: Mapping[str, np.ndarray],
    titles: Sequence[str] | None = None,
    masks: np.ndarray | None = None,
    alpha: float = 0.5,
    size: float = 1.8,
    title: str | None = None,
) -> plt.Figure:
    """MOTOR figures 11-16: one column per image; the input, then one row per method with its
    heatmap (jet, [0, 1]) over the grayscale image. ``masks`` outlines the true defect in cyan."""
    n, rows = len(images), 1 + len(maps)
    fig, axes = plt.subplots(rows, n, figsize=(size * n, size * rows + 0.4), squeeze=False)
    for col in range(n):
        gray = np.asarray(images[col], dtype=np.float32)
        gray = gray.mean(axis=-1) if gray.ndim == 3 else gray
        for row, (method, heat) in enumerate([("input", None), *maps.items()]):
            ax = axes[row, col]
            ax.imshow(gray, cmap="gray")
            if heat is not None:
                ax.imshow(heat[col], cmap="jet", alpha=alpha, vmin=0, vmax=1)
            if masks is not None and masks[col].any():
                ax.contour(masks[col], levels=[0.5], colors="cyan", linewidths=0.8)
            ax.set_xticks([])
            ax.set_yticks([])
            if col == 0:
                ax.set_ylabel(method, fontsize=9)
            if row == 0 and titles is not None:
                ax.set_title(str(titles[col]), fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def sweep_curves(
    table: Any,
    x: str,
    xlabel: str,
    chosen: float | None = None,
    chosen_label: str = "chosen",
    title: str | None = None,
) -> plt.Figure:
    """MOTOR figures 9-10: validation accuracy and loss of a sweep against its parameter ``x``
    (columns ``val_accuracy``, ``val_loss``); a dashed line marks ``chosen``. Accuracy is drawn
    on 0-1 and loss from 0, so a difference of a few images looks as small as it is."""
    fig, (ax_acc, ax_loss) = plt.subplots(1, 2, figsize=(10, 3.6))
    for ax, metric in ((ax_acc, "val_accuracy"), (ax_loss, "val_loss")):
        ax.plot(table[x], table[metric], color=VALIDATION_COLOUR, marker="o",
                label=f"validation {metric.removeprefix('val_')}")
        if chosen is not None:
            ax.axvline(chosen, color="grey", linestyle="--", linewidth=1, label=chosen_label)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        ax.legend()
    ax_acc.set_ylim(0, 1.02)
    ax_loss.set_ylim(0, max(float(np.nanmax(table["val_loss"])) * 1.1, 1e-3))
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
