"""``setup()`` and the run it returns: the top of the import graph (docs/architecture.md).

``cfg = helpers.setup(LESSON, params=PARAMS, datasets=..., weights=...)`` seeds everything, picks
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

import keras
import pandas as pd

from helpers import (
    budget,
    callbacks,
    compile_cache,
    depthwise,
    distribute,
    projection,
    results,
    runtime,
    settings,
)
from helpers import datasets as ds
from helpers import weights as wt
from helpers.datasets.download import rehearsal
from helpers.lesson import Lesson, Params

DRYRUN_BATCH = 4
"""A dry run's largest batch on a CPU (``LAB_DRYRUN_BATCH``): the real shape of an image, in a
batch that fits a CI machine's memory (EfficientNetB5 at 456 px in a batch of 128 does not)."""


DRY_RUN_NOTE = "  DRY RUN: one step per fit, nothing recorded"
REHEARSAL_NOTE = ("REHEARSAL     {}: the real data and ImageNet weights below are its small "
                  "archives and random weights (tests/rehearsal.py), checked by its checksums.json")


def pick_params(params: Params, mode: str) -> SimpleNamespace:
    """Choose one column of a notebook's parameter block ``{name: (quick, full, paper)}``."""
    column = runtime.MODES.index(mode)
    chosen = {}
    for name, values in params.items():
        if not (isinstance(values, tuple) and len(values) == len(runtime.MODES)):
            raise ValueError(f"parameter {name!r} must be a (quick, full, paper) triple, "
                             f"got {values!r}")
        chosen[name] = values[column]
    return SimpleNamespace(**chosen)


def _dry_run_sized(params: SimpleNamespace, accelerator: str,
                   caps: Mapping[str, str | int]) -> list[str]:
    """A dry run on a CPU keeps every model and the grids' extremes, and shrinks each parameter
    its lesson caps (``Lesson.dry_run``, the caps ``helpers.lesson.CAPS`` names): ``batch`` at
    ``DRYRUN_BATCH`` (``LAB_DRYRUN_BATCH``), ``images`` at four batches and ``per_class`` at
    two (``None``, every image, too), an ``int`` as the most a count may be (epochs, SmoothGrad's
    noisy copies, ensemble members), ``grid`` at its first and last entry and at any entry
    another parameter names (05's ``batchnorm_ratio``), ``small`` at the dataset's small
    stand-in (``<name>_small``) where there is one; returns what it changed. With
    ``full_data()`` it keeps the image counts and datasets (``benchmarks/host_memory.py``)."""
    unknown = sorted(set(caps) - set(vars(params)))
    if unknown:
        raise ValueError(f"dry-run caps for parameters the block lacks: {', '.join(unknown)}")
    if accelerator != "CPU":
        return []
    cap = int(settings.number("LAB_DRYRUN_BATCH") or DRYRUN_BATCH)
    every_image = full_data()
    changed = []
    for name, how in caps.items():
        value = new = getattr(params, name)
        if every_image and how in ("images", "per_class", "small"):
            continue  # the memory benchmark: the data path at its full size
        if how == "batch":
            new = min(value, cap)
        elif how in ("images", "per_class") and (value is None or isinstance(value, int)):
            most = (4 if how == "images" else 2) * cap
            new = most if value is None else min(value, most)  # None: every image
        elif isinstance(how, int) and isinstance(value, int):
            new = min(value, how)
        elif how == "grid" and isinstance(value, list) and len(value) > 2:
            others = [v for k, v in vars(params).items() if k != name]
            new = [v for i, v in enumerate(value) if i in (0, len(value) - 1) or v in others]
        elif how == "small" and isinstance(value, str) and f"{value}_small" in ds.names():
            new = f"{value}_small"
        if new != value:
            setattr(params, name, new)
            changed.append(f"{name} {value} -> {new}")
    return changed


def full_data() -> bool:
    """``LAB_DRYRUN_DATA=full``: a dry run on a CPU keeps every image count and the full-size
    datasets (it still caps batches, epochs and grids), so its peak host memory is that of the
    full-mode data path (``benchmarks/host_memory.py``)."""
    return settings.choice("LAB_DRYRUN_DATA") == "full"


def precision_policy(accelerator: str) -> str:
    """``mixed_float16`` on a GPU, ``mixed_bfloat16`` on a TPU, else ``float32``;
    ``LAB_PRECISION`` overrides (e.g. ``float32`` to compare)."""
    default = {"GPU": "mixed_float16", "TPU": "mixed_bfloat16"}.get(accelerator, "float32")
    return settings.choice("LAB_PRECISION") or default


@dataclass
class Config:
    """One notebook run: what ``setup()`` decided, and where the run's outputs go."""

    lesson: Lesson
    mode: str
    seed: int
    backend: str
    accelerator: str
    distribution: distribute.Distribution
    params: SimpleNamespace
    precision: str = "float32"
    dry_run: bool = False
    data: dict[str, ds.Prepared] = field(default_factory=dict)
    weights: dict[str, wt.PreparedWeights] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.time)
    recorded: dict[str, Any] = field(default_factory=dict)
    clock: projection.Clock | None = None

    @property
    def notebook(self) -> str:
        return self.lesson.notebook

    @property
    def quick(self) -> bool:
        return self.mode == "quick"

    @property
    def sources(self) -> str:
        """The kinds of data and weights this run uses, e.g. ``stand-in__random`` (with a
        course-pretraining recipe's digest, ``stand-in__course-pretrained-<digest>``): a change
        of either gives new artifact folders, so no sweep row or saved model is reused across
        it."""
        data = "+".join(sorted({p.kind for p in self.data.values()})) or "no-data"
        weights = "+".join(sorted({"-".join(filter(None, (w.kind, w.tag)))
                                   for w in self.weights.values()})) or "no-weights"
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

    def record(self, **metrics: Any) -> pd.DataFrame | None:
        """Record this run's headline numbers (``results/<mode>/<notebook>.json``, with the
        provenance); later calls in the same run add to the first. Returns the measured numbers
        beside the document's. A dry run records nothing."""
        self.recorded.update(metrics)
        if self.dry_run:
            print(f"Dry run: nothing recorded ({', '.join(metrics)} measured on stand-ins after "
                  "one step per fit)")
            return None
        return results.record(self.lesson, self.mode, self.recorded, self.provenance())

    def expect(self, learned: object, message: str) -> None:
        """``assert learned, message`` for what training should have taught (an accuracy, a
        curve's shape). A dry run trains one step per fit, so there it prints the line instead:
        its checks are the shapes, scopes and memory of every cell, not what was learned."""
        if self.dry_run:
            if not learned:
                print(f"Dry run, not asserted: {message}")
            return
        assert learned, message

    def plan(self) -> list[budget.Fit]:
        """This notebook's planned fits (``Lesson.plan``) with this run's parameters and data
        counts."""
        def images(dataset: str, split: str) -> int:
            prepared = self.data.get(dataset)
            if prepared is None:
                return budget.document_images(dataset, split)
            counts = prepared.counts
            split = split if split in counts else next(s for s in counts if s != "train")
            return sum(counts[split].values())
        return self.lesson.fits(self.params, images)

    def start_clock(self) -> projection.Clock:
        """The budget's clock, started now (``setup`` starts it once the data and weights are
        in place, so downloads never count against the session budget)."""
        self.clock = projection.Clock(self.plan(), time.time(),
                                      None if self.dry_run else _seconds(self.mode), self.mode)
        return self.clock

    def callbacks(self, name: str) -> list[keras.callbacks.Callback]:
        """The callbacks every fit of the course gets, ``model.fit(..., callbacks=[*cfg.
        callbacks("name"), ...])``: ``keras.callbacks.BackupAndRestore`` (in
        ``cfg.artifacts/backup/<name>``: rerunning the cell after a disconnect continues from
        the last finished epoch), the projection after the first epoch
        (``helpers.projection``), and in a dry run the end of the fit after one step. ``name``
        must be one of the lesson's planned fits (``Lesson.plan``), if it has a plan."""
        clock = self.clock or self.start_clock()
        planned = [fit.name for fit in clock.fits]
        if self.lesson.plan and name not in planned:
            raise KeyError(f"fit {name!r} is not in {self.notebook}'s plan (its LESSON's plan "
                           f"names: {', '.join(planned)}): add it there, so the budget sees it")
        backup = self.artifacts / "backup" / re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
        return callbacks.for_fit(name, backup, clock, self.dry_run)

    def banner(self) -> str:
        version = runtime.versions()
        lines = [
            f"Notebook      {self.notebook}",
            f"Mode          {self.mode}{DRY_RUN_NOTE if self.dry_run else ''}"
            "   (LAB_MODE=quick|full|paper before starting the kernel: quick is minutes on a "
            "CPU, full one Colab session on a T4, paper the document's exact setting)",
            *([REHEARSAL_NOTE.format(folder)] if (folder := rehearsal()) else []),
            f"Backend       Keras {version['keras']} on {self.backend} {version[self.backend]}",
            f"Device        {self.accelerator}, {self.distribution.name}"
            f" ({self.distribution.replicas} replica(s)), {self.precision}",
            f"Outputs       {runtime.build_dir()}"
            + ("  (Google Drive: kept after a disconnect)" if runtime.drive_folder() else ""),
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


def _seconds(mode: str) -> float | None:
    minutes = budget.minutes_allowed(mode)
    return 60 * minutes if minutes else None


def probe_wanted(mode: str, dry_run: bool) -> bool:
    """Whether ``setup`` times each distinct fit before the long work: in full and paper mode,
    not in quick mode nor a dry run (their fits are seconds); ``LAB_PROBE=0`` or ``1``
    overrides."""
    wanted = settings.flag("LAB_PROBE")
    return (mode != "quick" and not dry_run) if wanted is None else wanted


def _resolve(entries: Iterable[str], params: SimpleNamespace) -> list[str]:
    """Entries naming a parameter become that parameter's value in this mode."""
    return [getattr(params, entry, entry) for entry in entries]


def setup(
    notebook: Lesson | str,
    params: Params | None = None,
    datasets: Iterable[str] = (),
    weights: Iterable[str] = (),
    seed: int = runtime.DEFAULT_SEED,
    deterministic: bool = False,
    notes: Iterable[str] = (),
) -> Config:
    """Seed everything, pick the mode's parameters, prepare data and weights, print the banner.

    ``notebook`` is the notebook's ``LESSON`` (``helpers.lesson``: its plan, headline metric,
    document numbers and dry-run caps), or just a name (a test's or a scratch notebook's: no
    plan, no headline, no document numbers).

    ``datasets`` names entries of ``helpers.datasets``; ``weights`` names backbones of
    ``helpers.weights`` (e.g. ``"VGG16"``). An entry that names a parameter of the block is
    replaced by that parameter's value, so a choice that depends on the mode is written once,
    in the parameter block (``"backbone": ("MobileNetV2_96", "MobileNetV2_160",
    "MobileNetV2_160")`` and ``weights=["backbone"]``). Each is prepared now, so the banner
    states the source actually used. Full and paper mode never substitute: a missing download
    raises ``DataUnavailable`` with the URL(s) and the cache path to place the file by hand (a
    dry run, ``LAB_DRYRUN=1``, takes the stand-ins and random weights, and says so).

    Also sets the Keras dtype policy (``precision_policy``: mixed precision on a GPU/TPU), on
    JAX on a CPU the faster depthwise convolution (``helpers.depthwise``), on JAX the persistent
    compilation cache (``helpers.compile_cache``),
    prints the plan of the notebook's fits (``helpers.budget``) and, in full and paper mode,
    times a few steps of each distinct fit on this device (``helpers.projection.probe``): a
    run whose measured time cannot finish within the budget stops here, before the long work,
    with ``BudgetExceeded``. The budget's clock starts after the downloads.
    """
    backend = runtime.select_backend()
    platforms = runtime.device_platforms()
    accelerator = runtime.accelerator(platforms)
    settings.check_all()  # a wrong LAB_* value stops the run here, in one line
    mode = runtime.resolve_mode(accelerator)
    runtime.seed_everything(seed, deterministic)
    chosen = pick_params(params or {}, mode)
    dry_run = runtime.dry_run()
    notes = list(notes)
    lesson = notebook if isinstance(notebook, Lesson) else Lesson(notebook)
    if dry_run and (changed := _dry_run_sized(chosen, accelerator, lesson.dry_run)):
        notes.append(f"dry run on a CPU, to fit its memory and time: {'; '.join(changed)}")
    policy = precision_policy(accelerator)
    split = distribute.distribution(accelerator, platforms)
    if backend == "jax" and split.replicas > 1:
        notes.append(f"{split.name}: an epoch's last batch that {split.replicas} devices do "
                     "not divide runs whole on every device, so every image counts once")
    keras.mixed_precision.set_global_policy(policy)
    if cache := compile_cache.use_jax_cache():
        notes.append(f"JAX: compiled steps saved in {cache} and reused by a model compiled "
                     "again with the same layers and shapes (helpers.compile_cache)")
    if depthwise.fast_depthwise_on_cpu():
        notes.append("JAX on a CPU: large depthwise convolutions computed as shifted "
                     "multiply-adds (helpers.depthwise): the same result, computed faster")
    cfg = Config(
        lesson=lesson,
        mode=mode,
        seed=seed,
        backend=backend,
        accelerator=accelerator,
        distribution=split,
        params=chosen,
        precision=policy,
        dry_run=dry_run,
        notes=notes,
    )
    stand_ins = dry_run and not rehearsal()  # a rehearsal takes its real-kind files instead
    for name in _resolve(datasets, chosen):
        cfg.data[name] = ds.prepare(name, mode, standin=stand_ins)
    for name in _resolve(weights, chosen):
        cfg.weights[name] = wt.prepare(name, mode, random=stand_ins)
    if any(w.kind == "course-pretrained" for w in cfg.weights.values()):
        runtime.seed_everything(seed, deterministic)  # pretraining drew random numbers
    print(cfg.banner())
    clock = cfg.start_clock()
    print(budget.describe(clock.fits, mode))
    if clock.fits and probe_wanted(mode, dry_run):
        print(projection.probe(clock, cfg.distribution.scope))
        runtime.seed_everything(seed, deterministic)  # the probe's models drew random numbers
        print(f"Projection    {clock.check()}")
    return cfg
