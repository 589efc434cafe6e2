"""``setup()`` and the run it returns: the top of the import graph (docs/architecture.md).

``cfg = helpers.setup(notebook, params=..., datasets=..., weights=...)`` seeds everything, picks
the mode's column of the parameter block, prepares the data and weights, sets up the devices and
prints the banner. ``cfg`` then carries the run: ``cfg.params``, ``cfg.data[name]``,
``cfg.weights[name]``, ``cfg.distribution``, ``cfg.artifacts`` and ``cfg.record(**metrics)``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd

from helpers import datasets as ds
from helpers import results, runtime
from helpers import weights as wt


def pick_params(params: Mapping[str, tuple[Any, Any]], mode: str) -> SimpleNamespace:
    """Choose one column of a notebook's parameter block ``{name: (quick, full)}``."""
    column = runtime.MODES.index(mode)
    chosen = {}
    for name, pair in params.items():
        if not (isinstance(pair, tuple) and len(pair) == len(runtime.MODES)):
            raise ValueError(f"parameter {name!r} must be a (quick, full) pair, got {pair!r}")
        chosen[name] = pair[column]
    return SimpleNamespace(**chosen)


@dataclass
class Config:
    """One notebook run: what ``setup()`` decided, and where the run's outputs go."""

    notebook: str
    mode: str
    seed: int
    backend: str
    accelerator: str
    distribution: runtime.Distribution
    params: SimpleNamespace
    data: dict[str, ds.Prepared] = field(default_factory=dict)
    weights: dict[str, wt.PreparedWeights] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.time)
    recorded: dict[str, Any] = field(default_factory=dict)

    @property
    def quick(self) -> bool:
        return self.mode == "quick"

    @property
    def sources(self) -> str:
        """The kinds of data and weights this run uses, e.g. ``stand-in__random``: a change of
        either gives new artifact folders, so no sweep row or saved model is reused across it."""
        data = "+".join(sorted({p.kind for p in self.data.values()})) or "no-data"
        weights = "+".join(sorted({w.kind for w in self.weights.values()})) or "no-weights"
        return re.sub(r"[^a-z0-9+_-]", "", f"{data}__{weights}".lower())

    @property
    def artifacts(self) -> Path:
        """Folder for this run's checkpoints, saved models, sweeps and caches:
        ``build/artifacts/<notebook>/<mode>/<sources>``."""
        path = runtime.artifacts_root(self.notebook, self.mode) / self.sources
        path.mkdir(parents=True, exist_ok=True)
        return path

    def provenance(self) -> dict[str, Any]:
        """Where the numbers of this run come from, as structured fields (results JSON)."""
        return {
            "mode": self.mode,
            "backend": self.backend,
            "device": self.accelerator,
            "distribution": self.distribution.name,
            "replicas": self.distribution.replicas,
            "data": {name: p.as_record() for name, p in self.data.items()},
            "weights": {name: w.as_record() for name, w in self.weights.items()},
            "versions": runtime.versions(),
            "seed": self.seed,
            "notes": self.notes,
            "wall_seconds": round(time.time() - self.started, 1),
        }

    def record(self, **metrics: Any) -> pd.DataFrame:
        """Record this run's headline numbers (``results/<mode>/<notebook>.json``, with the
        provenance); later calls in the same run add to the first. Returns the measured numbers
        beside the document's."""
        self.recorded.update(metrics)
        return results.record(self.notebook, self.mode, self.recorded, self.provenance())

    def banner(self) -> str:
        other = "full" if self.quick else "quick"
        version = runtime.versions()
        lines = [
            f"Notebook      {self.notebook}",
            f"Mode          {self.mode}   (LAB_MODE={other} before starting the kernel switches; "
            "quick is minutes on a CPU, full the document's setting)",
            f"Backend       Keras {version['keras']} on {self.backend} {version[self.backend]}",
            f"Device        {self.accelerator}, {self.distribution.name}"
            f" ({self.distribution.replicas} replica(s))",
        ]
        lines += [f"Data          {p.summary()}" for p in self.data.values()] or [
            "Data          none"
        ]
        lines += [f"Weights       {w.summary()}" for w in self.weights.values()] or [
            "Weights       none (trained from scratch)"
        ]
        lines.append(f"Seed          {self.seed}")
        lines += [f"Note          {note}" for note in self.notes]
        lines += [
            f"Note          {name}: {entry.detail}"
            for name, entry in {**self.data, **self.weights}.items()
            if entry.detail
        ]
        return "\n".join(lines)


def _resolve(entries: Iterable[str], params: SimpleNamespace) -> list[str]:
    """Entries naming a parameter become that parameter's value in this mode."""
    return [getattr(params, entry, entry) for entry in entries]


def setup(
    notebook: str,
    params: Mapping[str, tuple[Any, Any]] | None = None,
    datasets: Iterable[str] = (),
    weights: Iterable[str] = (),
    seed: int = runtime.DEFAULT_SEED,
    deterministic: bool = False,
    notes: Iterable[str] = (),
) -> Config:
    """Seed everything, pick the mode's parameters, prepare data and weights, print the banner.

    ``datasets`` names entries of ``helpers.datasets``; ``weights`` names backbones of
    ``helpers.weights`` (e.g. ``"VGG16"``). An entry that names a parameter of the block is
    replaced by that parameter's value, so a choice that depends on the mode is written once,
    in the parameter block (``"backbone": ("MobileNetV2_96", "MobileNetV2_160")`` and
    ``weights=["backbone"]``). Each is prepared now, so the banner states the source actually
    used. Full mode never substitutes: a missing download raises ``DataUnavailable`` with the
    URL(s) and the cache path to place the file by hand.
    """
    backend = runtime.select_backend()
    platforms = runtime.device_platforms()
    accelerator = runtime.accelerator(platforms)
    mode = runtime.resolve_mode(accelerator)
    runtime.seed_everything(seed, deterministic)
    chosen = pick_params(params or {}, mode)
    cfg = Config(
        notebook=notebook,
        mode=mode,
        seed=seed,
        backend=backend,
        accelerator=accelerator,
        distribution=runtime.distribution(accelerator, platforms),
        params=chosen,
        notes=list(notes),
    )
    for name in _resolve(datasets, chosen):
        cfg.data[name] = ds.prepare(name, mode)
    for name in _resolve(weights, chosen):
        cfg.weights[name] = wt.prepare(name, mode)
    print(cfg.banner())
    return cfg
