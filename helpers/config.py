"""Run configuration: mode, paths, seeds, device and the setup banner (DESIGN.md, "Modes and data").

``LAB_MODE`` is ``quick`` (small subsets, minutes on a 2-core CPU) or ``full`` (the documents'
exact settings, meant for a GPU/TPU). Unset, it is ``full`` on a GPU/TPU runtime and ``quick``
otherwise, and always ``quick`` when ``CI`` is set.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

MODES = ("quick", "full")
DEFAULT_SEED = 42


def project_root() -> Path:
    """The course checkout (the folder holding ``notebooks/``), else the working directory.

    ``LAB_HOME`` overrides it. On Colab, where only the package is installed, it is the cwd.
    """
    if env := os.environ.get("LAB_HOME"):
        return Path(env).expanduser().resolve()
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "notebooks").is_dir() and (folder / "helpers").is_dir():
            return folder
    return here


def cache_dir() -> Path:
    """Where downloads and generated stand-ins live: ``LAB_CACHE``, default ``data/cache``."""
    env = os.environ.get("LAB_CACHE")
    return Path(env).expanduser().resolve() if env else project_root() / "data" / "cache"


def offline() -> bool:
    """``LAB_OFFLINE=1`` forbids every download attempt (an offline classroom, the tests)."""
    return os.environ.get("LAB_OFFLINE", "").lower() in ("1", "true", "yes")


def detect_accelerator() -> str:
    """``"TPU"``, ``"GPU"`` or ``"CPU"``: what this runtime offers TensorFlow."""
    import tensorflow as tf

    if os.environ.get("COLAB_TPU_ADDR") or os.environ.get("TPU_NAME"):
        return "TPU"
    if tf.config.list_logical_devices("TPU"):
        return "TPU"
    if tf.config.list_physical_devices("GPU"):
        return "GPU"
    return "CPU"


def resolve_mode(accelerator: str | None = None) -> str:
    """The mode from ``LAB_MODE``, or the default for this runtime (see module docstring)."""
    mode = os.environ.get("LAB_MODE", "").strip().lower()
    if mode:
        if mode not in MODES:
            raise ValueError(f"LAB_MODE must be one of {MODES}, not {mode!r}")
        return mode
    if os.environ.get("CI"):
        return "quick"
    accelerator = accelerator or detect_accelerator()
    return "full" if accelerator in ("GPU", "TPU") else "quick"


def seed_everything(seed: int = DEFAULT_SEED, deterministic: bool = False) -> None:
    """Seed Python, NumPy and TensorFlow; ``deterministic`` also enables op determinism
    (bit-for-bit repeatable runs, at some cost in speed)."""
    import keras
    import tensorflow as tf

    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)
    np.random.seed(seed)
    keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()


def distribution_strategy(accelerator: str):
    """TPU strategy on a TPU runtime, MirroredStrategy for several GPUs, else the default."""
    import tensorflow as tf

    if accelerator == "TPU":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    if len(tf.config.list_logical_devices("GPU")) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def pick_params(params: Mapping[str, tuple[Any, Any]], mode: str) -> SimpleNamespace:
    """Choose one column of a notebook's parameter block ``{name: (quick, full)}``."""
    column = MODES.index(mode)
    chosen = {}
    for name, pair in params.items():
        if not (isinstance(pair, tuple) and len(pair) == 2):
            raise ValueError(f"parameter {name!r} must be a (quick, full) pair, got {pair!r}")
        chosen[name] = pair[column]
    return SimpleNamespace(**chosen)


@dataclass
class Config:
    """What ``setup()`` decided; also the provenance ``results.record`` writes."""

    notebook: str
    mode: str
    seed: int
    accelerator: str
    strategy: Any
    params: SimpleNamespace
    data: dict[str, Any] = field(default_factory=dict)
    weights: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.time)

    @property
    def quick(self) -> bool:
        return self.mode == "quick"

    @property
    def artifacts(self) -> Path:
        """Folder for this notebook's checkpoints, saved models and caches."""
        path = project_root() / "build" / "artifacts" / self.notebook / self.mode
        path.mkdir(parents=True, exist_ok=True)
        return path

    def data_source(self) -> str:
        return _sources(self.data) or "none"

    def weights_source(self) -> str:
        return _sources(self.weights) or "none (trained from scratch)"

    def banner(self) -> str:
        import keras
        import tensorflow as tf

        other = "full" if self.quick else "quick"
        lines = [
            f"Notebook      {self.notebook}",
            f"Mode          {self.mode}   (set LAB_MODE={other} before starting the kernel "
            f"to switch; LAB_MODE=quick is minutes on a CPU, full is the document's setting)",
            f"Data          {self.data_source()}",
            f"Weights       {self.weights_source()}",
            f"Device        {self.accelerator} ({type(self.strategy).__name__}, "
            f"{self.strategy.num_replicas_in_sync} replica(s))",
            f"Versions      TensorFlow {tf.__version__}, Keras {keras.__version__}",
            f"Seed          {self.seed}",
        ]
        lines += [f"Note          {note}" for note in self.notes]
        lines += [
            f"Note          {name}: {entry.detail}"
            for name, entry in {**self.data, **self.weights}.items()
            if getattr(entry, "detail", "")
        ]
        return "\n".join(lines)


def _by_mode(entry: str | tuple[str, str], mode: str) -> str:
    return entry[MODES.index(mode)] if isinstance(entry, tuple) else entry


def _sources(entries: Mapping[str, Any]) -> str:
    return "; ".join(f"{name}: {e}" for name, e in entries.items())


CURRENT: Config | None = None


def setup(
    notebook: str,
    params: Mapping[str, tuple[Any, Any]] | None = None,
    datasets: Iterable[str | tuple[str, str]] = (),
    weights: Iterable[str | tuple[str, str]] = (),
    seed: int = DEFAULT_SEED,
    deterministic: bool = False,
    notes: Iterable[str] = (),
) -> Config:
    """Seed everything, pick the mode's parameters, prepare data and weights, print the banner.

    ``datasets`` names entries of ``helpers.datasets``; ``weights`` names backbones of
    ``helpers.weights`` (e.g. ``"VGG16"``); a ``(quick, full)`` pair picks one by mode. Each is
    prepared now, so the banner states the source actually used. Full mode never substitutes:
    a missing download raises ``DataUnavailable`` with the URL(s) and the cache path to place
    the file by hand.
    """
    from helpers import datasets as ds
    from helpers import weights as wt

    global CURRENT
    accelerator = detect_accelerator()
    mode = resolve_mode(accelerator)
    seed_everything(seed, deterministic)
    cfg = Config(
        notebook=notebook,
        mode=mode,
        seed=seed,
        accelerator=accelerator,
        strategy=distribution_strategy(accelerator),
        params=pick_params(params or {}, mode),
        notes=list(notes),
    )
    for name in map(lambda entry: _by_mode(entry, mode), datasets):
        cfg.data[name] = ds.prepare(name, mode)
    for name in map(lambda entry: _by_mode(entry, mode), weights):
        cfg.weights[name] = wt.prepare(name, mode)
    CURRENT = cfg
    print(cfg.banner())
    return cfg
