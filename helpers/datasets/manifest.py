"""The manifest of a prepared dataset: ``manifest.json`` in its root, written when it is built.

It holds the class names, the number of images per split and class, the files skipped as
unreadable (per reason) and facts particular to the dataset (``info``). Written last, it also
marks the build as complete: a folder without one is built again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from helpers.datasets.folder import DatasetError

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class Manifest:
    """``counts`` is split -> class -> images; ``skipped`` is reason -> files."""

    class_names: list[str]
    counts: dict[str, dict[str, int]]
    skipped: dict[str, int] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of_labels(
        cls,
        class_names: Sequence[str],
        labels: Mapping[str, np.ndarray],
        info: Mapping[str, Any] | None = None,
    ) -> Manifest:
        """For arrays: ``labels`` is split -> integer labels (index into ``class_names``)."""
        names = [str(n) for n in class_names]
        counts = {}
        for split, y in labels.items():
            y = np.ravel(y).astype(np.int64)
            if len(y) and not 0 <= y.min() <= y.max() < len(names):
                raise DatasetError(
                    f"{split} labels run from {y.min()} to {y.max()}, but there are "
                    f"{len(names)} class names"
                )
            found = np.bincount(y, minlength=len(names)).tolist()
            counts[split] = dict(zip(names, found, strict=True))
        return cls(names, counts, {}, dict(info or {}))

    @classmethod
    def of_folders(
        cls,
        root: Path,
        splits: Sequence[str],
        class_names: Sequence[str],
        skipped: Mapping[str, int] | None = None,
        info: Mapping[str, Any] | None = None,
    ) -> Manifest:
        """For ``root/<split>/<class>/`` folders holding only readable images (files counted)."""
        counts = {
            split: {c: sum(p.is_file() for p in (root / split / c).rglob("*")) for c in class_names}
            for split in splits
        }
        return cls(list(class_names), counts, dict(skipped or {}), dict(info or {}))

    def write(self, root: Path) -> None:
        (root / MANIFEST).write_text(json.dumps(asdict(self), indent=1) + "\n")

    @classmethod
    def read(cls, root: Path) -> Manifest:
        return cls(**json.loads((root / MANIFEST).read_text()))
