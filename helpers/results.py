"""Measured headline numbers with provenance, and the documents' own numbers.

A notebook records through ``cfg.record(**metrics)`` (``helpers.config``), which calls
``record`` here: ``results/<mode>/<notebook>.json`` holds the metrics and the run's provenance
as structured fields (data and weights kinds, backend, versions, ...). ``report()`` sets each
measured number beside the document's. Measured numbers only ever come from a run; the
documents' numbers live here once, in ``DOCUMENT`` (docs/architecture.md, "Results").

A run is complete once it has recorded its notebook's ``HEADLINE`` metric (every notebook
records it in its last ``cfg.record`` call; a test checks this). Until then its records go to
``<notebook>.partial.json``, so a run stopped between two calls never replaces an earlier
complete record; the report says so. Files are written to a unique temporary name in the same
folder and moved into place, so concurrent runs never see half a file.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from helpers import runtime, settings

NOTEBOOKS = {
    "01_mnist_cnn": "MNIST CNN (LECTURE)",
    "02_data_augmentation": "Data augmentation (LECTURE)",
    "03_vgg16_horse_zebra": "VGG16 fine-tuning, horse vs zebra (LECTURE)",
    "04_little_data_cats_dogs": "Very little data, cats vs dogs, three levels (BLOG)",
    "05_mobilenetv2_tl_ft_ratio": "MobileNetV2 transfer vs fine-tune epoch ratio (RATIO)",
    "06_efficientnet_cifar_ensemble": "EfficientNet on CIFAR-10/100 with ensembles (CIFAR)",
    "07_motor_defects_cam_smoothgrad": "Motor-core defects, CAM and SmoothGrad (MOTOR)",
}

# The metric each notebook's one-line summary shows (``python -m helpers run``).
HEADLINE = {
    "01_mnist_cnn": "test_accuracy",
    "02_data_augmentation": "accuracy_sensible",
    "03_vgg16_horse_zebra": "test_accuracy_pretrained",
    "04_little_data_cats_dogs": "val_accuracy_level3",
    "05_mobilenetv2_tl_ft_ratio": "cats_dogs_best_val_accuracy",
    "06_efficientnet_cifar_ensemble": "ensemble_accuracy",
    "07_motor_defects_cam_smoothgrad": "val_accuracy",
}


@dataclass(frozen=True)
class DocumentNumber:
    value: float
    source: str
    note: str = ""


# (notebook, metric) -> what the document reports. Dotted metric names reach into tables,
# e.g. "cats_dogs.tl30_ft1.final_val_loss" is metrics["cats_dogs"]["tl30_ft1"]["final_val_loss"].
DOCUMENT: dict[tuple[str, str], DocumentNumber] = {
    ("01_mnist_cnn", "test_accuracy"): DocumentNumber(
        0.992, "Keras example", "LECTURE reports none; keras-io mnist_convnet reports about 99.2%"
    ),
    ("04_little_data_cats_dogs", "val_accuracy_level1"): DocumentNumber(0.80, "BLOG", "about"),
    ("04_little_data_cats_dogs", "val_accuracy_level2"): DocumentNumber(0.90, "BLOG", "about"),
    ("04_little_data_cats_dogs", "val_accuracy_level3"): DocumentNumber(
        0.94, "BLOG", "after 50 epochs"
    ),
    ("05_mobilenetv2_tl_ft_ratio", "cats_dogs.tl30_ft1.final_val_loss"): DocumentNumber(
        0.07, "RATIO", "about"
    ),
    ("05_mobilenetv2_tl_ft_ratio", "cats_dogs.tl0_ft31.final_val_loss"): DocumentNumber(
        0.04, "RATIO", "about"
    ),
    ("05_mobilenetv2_tl_ft_ratio", "roses_tulips.tl50_ft1.best_val_accuracy"): DocumentNumber(
        0.89, "RATIO", "about"
    ),
    ("05_mobilenetv2_tl_ft_ratio", "roses_tulips.tl50_ft1.final_val_loss"): DocumentNumber(
        0.26, "RATIO", "about"
    ),
    ("05_mobilenetv2_tl_ft_ratio", "roses_tulips.tl0_ft51.best_val_accuracy"): DocumentNumber(
        0.93, "RATIO", "about"
    ),
    ("05_mobilenetv2_tl_ft_ratio", "roses_tulips.tl0_ft51.final_val_loss"): DocumentNumber(
        0.15, "RATIO", "about"
    ),
    ("06_efficientnet_cifar_ensemble", "cifar10_best_val_accuracy"): DocumentNumber(
        0.9872, "CIFAR", "EfficientNetB5, experiment 1"
    ),
    ("06_efficientnet_cifar_ensemble", "cifar100_accuracy"): DocumentNumber(
        0.55, "CIFAR", "EfficientNetB0 at 32x32, experiment 2"
    ),
    ("06_efficientnet_cifar_ensemble", "cifar100_macro_f1"): DocumentNumber(
        0.55, "CIFAR", "macro average F1, experiment 2"
    ),
    ("06_efficientnet_cifar_ensemble", "ensemble_accuracy"): DocumentNumber(
        0.64, "CIFAR", "about; 5 x EfficientNetB0, experiment 3"
    ),
    ("07_motor_defects_cam_smoothgrad", "resolution_520_val_accuracy"): DocumentNumber(
        0.919, "MOTOR", "transfer learning at 520x520, where accuracy saturates"
    ),
    ("07_motor_defects_cam_smoothgrad", "resolution_520_val_loss"): DocumentNumber(
        0.270, "MOTOR", "transfer learning at 520x520"
    ),
    ("07_motor_defects_cam_smoothgrad", "chosen_blocks"): DocumentNumber(
        6, "MOTOR", "re-trained blocks with the lowest validation loss"
    ),
    ("07_motor_defects_cam_smoothgrad", "val_accuracy"): DocumentNumber(
        0.979, "MOTOR", "fine-tuned, N = 6 blocks"
    ),
    ("07_motor_defects_cam_smoothgrad", "val_loss"): DocumentNumber(
        0.079, "MOTOR", "fine-tuned, N = 6 blocks"
    ),
}


class ResultsError(ValueError):
    """A results file that cannot be read; the message names it and says what to do."""


def results_dir() -> Path:
    """``LAB_RESULTS``, default ``results/`` under ``runtime.storage_root()`` (the project, or
    the course folder on Google Drive when it is mounted on Colab)."""
    return settings.path("LAB_RESULTS") or runtime.storage_root() / "results"


def _plain(value: Any) -> Any:
    """JSON-ready copy: NumPy scalars and arrays become Python numbers and lists."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _git_commit() -> str:
    try:
        root = runtime.project_root()
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return "unknown"
    return (commit + ("-dirty" if dirty else "")) if commit else "unknown"


def result_path(notebook: str, mode: str, partial: bool = False) -> Path:
    """``results/<mode>/<notebook>.json``, or the ``.partial.json`` of an unfinished run."""
    return results_dir() / mode / f"{notebook}{'.partial' if partial else ''}.json"


def _write(path: Path, payload: Mapping[str, Any]) -> None:
    """``payload`` as JSON at ``path``: written to a unique temporary file in the same folder,
    then moved into place (``os.replace``), so readers and other writers never see half."""
    text = json.dumps(payload, indent=2, ensure_ascii=False) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)  # mkstemp's 0o600 would hide results from a shared course folder
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def record(
    notebook: str, mode: str, metrics: Mapping[str, Any], provenance: Mapping[str, Any]
) -> pd.DataFrame:
    """Write ``results/<mode>/<notebook>.json`` with ``metrics`` and ``provenance`` (plus the
    git commit and the date); return the measured-vs-document table. Without the notebook's
    headline metric the run is not complete yet: it goes to ``<notebook>.partial.json`` and
    the earlier complete record stays."""
    if notebook not in NOTEBOOKS:
        raise ValueError(f"unknown notebook {notebook!r}; known: {', '.join(NOTEBOOKS)}")
    complete = lookup(metrics, HEADLINE[notebook]) is not None
    path = result_path(notebook, mode, partial=not complete)
    payload = {
        "metrics": _plain(metrics),
        "provenance": _plain(
            {
                **provenance,
                "git_commit": _git_commit(),
                "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            }
        ),
    }
    _write(path, payload)
    line = f"recorded {len(metrics)} metric(s) to {path}"
    if complete:
        result_path(notebook, mode, partial=True).unlink(missing_ok=True)
    else:
        line += (f"; {result_path(notebook, mode).name} is replaced once "
                 f"{HEADLINE[notebook]} is recorded")
    print(line)
    return shown(comparison(notebook, payload["metrics"]))


def shown(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """``comparison``'s rows as a table to display: whole numbers stay whole, fractions have
    four decimals, a number the document does not report is ``None`` (object columns: pandas
    would turn a count into ``1540.000000`` and ``None`` into ``NaN``)."""
    def value(v: Any) -> Any:
        return round(v, 4) if isinstance(v, float) else v
    return pd.DataFrame([{**row, "measured": value(row["measured"]),
                          "document": value(row["document"])} for row in rows], dtype=object)


def _redo(notebook: str) -> str:
    return f"rerun {notebook} to record it again, or delete the file"


def load(notebook: str, mode: str) -> dict[str, Any] | None:
    """The last complete run's record, ``None`` if there is none; a file that cannot be read
    is a ``ResultsError`` that names it and says what to do."""
    path = result_path(notebook, mode)
    if not path.exists():
        return None
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        what = "empty" if not err.doc.strip() else f"truncated or not JSON ({err})"
        raise ResultsError(f"{path} is {what}; {_redo(notebook)}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ResultsError(f"{path} cannot be read ({err}); {_redo(notebook)}") from None
    if not (isinstance(saved, dict) and isinstance(saved.get("metrics"), dict)
            and isinstance(saved.get("provenance"), dict)):
        raise ResultsError(f"{path} holds no metrics and provenance; {_redo(notebook)}")
    return saved


def lookup(metrics: Mapping[str, Any], dotted: str) -> Any:
    """``metrics["a"]["b"]`` for ``"a.b"``; ``None`` where the path is absent."""
    value: Any = metrics
    for part in dotted.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def comparison(notebook: str, metrics: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Measured vs document: every document number of ``notebook``, then the other scalar
    metrics (document ``None``: the document reports none)."""
    rows = [
        {
            "metric": metric,
            "measured": lookup(metrics, metric),
            "document": doc.value,
            "source": doc.source,
            "note": doc.note,
        }
        for (nb, metric), doc in DOCUMENT.items()
        if nb == notebook
    ]
    documented = {row["metric"] for row in rows}
    rows += [
        {"metric": k, "measured": v, "document": None, "source": "not reported", "note": ""}
        for k, v in metrics.items()
        if k not in documented and isinstance(v, (int, float))
    ]
    return rows


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def source_kinds(sources: Mapping[str, Mapping[str, Any]], empty: str) -> str:
    """``{"mnist": {"kind": "stand-in", ...}}`` -> ``"mnist: stand-in"``."""
    return "; ".join(f"{name}: {entry['kind']}" for name, entry in sources.items()) or empty


# The provenance fields each row of the report shows.
REPORTED = ("data", "weights", "date", "device", "backend", "git_commit")


def _rows(notebook: str, mode: str) -> list[str]:
    """The report's rows for one notebook and mode: its headline and document numbers."""
    saved = load(notebook, mode)
    if saved is None:
        return []
    metrics, prov = saved["metrics"], saved["provenance"]
    missing = [name for name in REPORTED if name not in prov]
    if missing:
        raise ResultsError(f"{result_path(notebook, mode)} lacks provenance "
                           f"{', '.join(missing)}; {_redo(notebook)}")
    return [
        f"| {notebook} | {mode} | {row['metric']} | {_fmt(row['measured'])} | "
        f"{_fmt(row['document'])} | {row['source']} | "
        f"{source_kinds(prov['data'], 'none')} | "
        f"{source_kinds(prov['weights'], 'none')} | "
        f"{prov['date'][:10]}, {prov['device']}, {prov['backend']}, "
        f"{prov['git_commit']} |"
        for row in comparison(notebook, metrics)
        if row["document"] is not None or row["metric"] == HEADLINE[notebook]
    ]


def _unfinished(notebook: str, mode: str) -> str | None:
    """The line for a run that stopped before recording its headline metric, if any."""
    partial = result_path(notebook, mode, partial=True)
    if not partial.exists():
        return None
    shown = ("the table shows the earlier complete run" if result_path(notebook, mode).exists()
             else "no complete run is recorded")
    return (f"{notebook} ({mode}): a run stopped before recording {HEADLINE[notebook]} "
            f"({partial}) and {shown}; rerun {notebook} to finish it")


def report(modes: tuple[str, ...] = runtime.MODES) -> str:
    """Markdown table: every recorded headline and document number, measured beside document;
    below it, one line per results file that cannot be read (the rest are reported) and per
    run that stopped before its headline metric."""
    lines = [
        "| notebook | mode | metric | measured | document | source | data | weights "
        "| measured on |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    notes = []
    for notebook in NOTEBOOKS:
        for mode in modes:
            try:
                lines += _rows(notebook, mode)
            except ResultsError as err:
                notes.append(f"not in the table: {err}")
            notes += filter(None, [_unfinished(notebook, mode)])
    table = "\n".join(lines) if len(lines) > 2 else (
        "No results recorded yet: run `make run` (quick) or the notebooks in full mode.")
    return "\n\n".join([table, "\n".join(notes)]) if notes else table
