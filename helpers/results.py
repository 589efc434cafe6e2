"""Measured headline numbers with provenance, and the documents' own numbers.

A notebook records through ``cfg.record(**metrics)`` (``helpers.config``), which calls
``record`` here: ``results/<mode>/<notebook>.json`` holds the metrics and the run's provenance
as structured fields (data and weights kinds, backend, versions, ...). ``report()`` sets each
measured number beside the document's. Measured numbers only ever come from a run; the
documents' numbers live here once, in ``DOCUMENT`` (docs/architecture.md, "Results").
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from helpers import runtime

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


def results_dir() -> Path:
    """``LAB_RESULTS``, default ``results/`` under ``runtime.storage_root()`` (the project, or
    the course folder on Google Drive when it is mounted on Colab)."""
    env = os.environ.get("LAB_RESULTS")
    return Path(env).expanduser().resolve() if env else runtime.storage_root() / "results"


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


def record(
    notebook: str, mode: str, metrics: Mapping[str, Any], provenance: Mapping[str, Any]
) -> pd.DataFrame:
    """Write ``results/<mode>/<notebook>.json`` with ``metrics`` and ``provenance`` (plus the
    git commit and the date); return the measured-vs-document table."""
    if notebook not in NOTEBOOKS:
        raise ValueError(f"unknown notebook {notebook!r}; known: {', '.join(NOTEBOOKS)}")
    path = results_dir() / mode / f"{notebook}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
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
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    tmp.replace(path)
    print(f"recorded {len(metrics)} metric(s) to {path}")
    return pd.DataFrame(comparison(notebook, payload["metrics"]))


def load(notebook: str, mode: str) -> dict[str, Any] | None:
    path = results_dir() / mode / f"{notebook}.json"
    return json.loads(path.read_text()) if path.exists() else None


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


def report(modes: tuple[str, ...] = runtime.MODES) -> str:
    """Markdown table: every recorded headline and document number, measured beside document."""
    lines = [
        "| notebook | mode | metric | measured | document | source | data | weights "
        "| measured on |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for notebook in NOTEBOOKS:
        for mode in modes:
            saved = load(notebook, mode)
            if saved is None:
                continue
            metrics, prov = saved["metrics"], saved["provenance"]
            headline = HEADLINE[notebook]
            rows = [
                row
                for row in comparison(notebook, metrics)
                if row["document"] is not None or row["metric"] == headline
            ]
            for row in rows:
                lines.append(
                    f"| {notebook} | {mode} | {row['metric']} | {_fmt(row['measured'])} | "
                    f"{_fmt(row['document'])} | {row['source']} | "
                    f"{source_kinds(prov['data'], 'none')} | "
                    f"{source_kinds(prov['weights'], 'none')} | "
                    f"{prov['date'][:10]}, {prov['device']}, {prov['backend']}, "
                    f"{prov['git_commit']} |"
                )
    if len(lines) == 2:
        return "No results recorded yet: run `make run` (quick) or the notebooks in full mode."
    return "\n".join(lines)
