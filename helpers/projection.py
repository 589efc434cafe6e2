"""Time measured on this device: the probe before the long work, each fit's own epochs while
it runs, and the projection that stops a full-mode run which cannot finish
(docs/architecture.md, "Budgets").

``probe`` times a few real steps of each distinct fit of the plan (model, input size, batch,
training or not, input pipeline), with random weights and random images on this device, and
reports compiling apart. ``Projection`` (one per fit, from ``cfg.callbacks``) then measures the
fit's own first epoch, its input pipeline included. ``Clock`` keeps what was measured and
projects every fit from its own measurement, or from the probe of the same distinct fit; a fit
fed by the lecture's generator also waits for the generator's measured rate. A fit with no
measurement keeps its T4 estimate, shown as such, and never causes a stop: the run stops only
when the measured part alone passes the budget.
"""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
from tqdm.auto import tqdm

from helpers.budget import ARCHITECTURES, BudgetExceeded, Fit, duration, small_convnet
from helpers.datasets.download import one_line

PROBE_STEPS = 3
"""Timed steps per phase of each distinct fit, after the first (compiling) step."""


@dataclass
class Steps:
    """Seconds per training and per evaluation step of one distinct fit (``Fit.key``), and the
    seconds its first steps spent compiling; ``source`` says where they were measured."""

    train: float | None
    evaluate: float | None
    compile: float
    source: str


@dataclass(frozen=True)
class Row:
    """One fit in the projection: its seconds per epoch here, where they came from, the
    seconds it still needs, and whether they were measured (else they are the T4 estimate)."""

    fit: Fit
    epoch_seconds: float
    source: str
    remaining: float
    measured: bool


class Clock:
    """One notebook run's measurements and its projection against ``allowed_seconds``."""

    def __init__(self, fits: Sequence[Fit], started: float, allowed_seconds: float | None,
                 mode: str) -> None:
        self.fits, self.started = list(fits), started
        self.allowed, self.mode = allowed_seconds, mode
        self.steps: dict[tuple[Any, ...], Steps] = {}
        self.rates: dict[tuple[str, str], float] = {}  # (feed, phase) -> images/s measured

    def fit(self, name: str) -> Fit | None:
        return next((f for f in self.fits if f.name == name), None)

    def record(self, fit: Fit, steps: Steps) -> None:
        """Keep ``steps`` for ``fit``'s distinct fit; a fit's own epoch replaces the probe. A
        fit's own epoch also gives its host pipeline's rate: the images it delivered per
        second of step time."""
        known = self.steps.get(fit.key)
        if known is not None and steps.source == "probe" and known.source != "probe":
            return
        self.steps[fit.key] = steps
        if fit.feed != "arrays" and steps.source != "probe":  # the probe feeds no pipeline
            for phase, seconds in (("train", steps.train), ("evaluate", steps.evaluate)):
                if seconds:
                    self.rates[(fit.feed, phase)] = fit.batch / seconds

    def epoch_seconds(self, fit: Fit) -> tuple[float, str, bool]:
        """``fit``'s seconds per epoch here, their source, and whether every phase was measured
        (its step times known); a phase without them takes its T4 estimate, or the measured
        rate of its input pipeline where that is longer."""
        steps = self.steps.get(fit.key)
        seconds, sources, measured = 0.0, [], True
        for phase, count, images in (("train", fit.steps, fit.images),
                                     ("evaluate", fit.val_steps, fit.val_images)):
            if not count:
                continue
            step = getattr(steps, phase) if steps else None
            rate = self.rates.get((fit.feed, phase))
            # a fit's own epoch already includes its pipeline; the probe's steps do not
            pipeline_apart = step is None or steps.source == "probe"
            fed = images / rate if rate and pipeline_apart else 0.0
            if step is None:
                measured = False
                here = fit.t4_epoch_seconds(phase)
                sources.append("T4 estimate")
            else:
                here = count * step
                sources.append(steps.source)
            if fed > here:
                here = fed
                sources.append(f"{fit.feed} rate measured")
            seconds += here
        return seconds, ", ".join(dict.fromkeys(sources)) or "nothing to run", measured

    def rows(self, current: str | None = None, epochs_done: int = 0) -> list[Row]:
        """Every fit still to run: from ``current`` (with ``epochs_done`` of its epochs
        finished) to the end of the plan, or the whole plan before the first fit."""
        names = [f.name for f in self.fits]
        first = names.index(current) if current in names else 0
        rows = []
        for i, fit in enumerate(self.fits[first:]):
            per_epoch, source, measured = self.epoch_seconds(fit)
            epochs = max(fit.epochs - (epochs_done if i == 0 and current else 0), 0)
            rows.append(Row(fit, per_epoch, source, per_epoch * epochs, measured))
        return rows

    def check(self, current: str | None = None, epochs_done: int = 0) -> str:
        """One line with the projected rest of the notebook; raises ``BudgetExceeded`` (after
        printing the table) when the elapsed time and the measured rest pass the budget."""
        rows = self.rows(current, epochs_done)
        measured = sum(r.remaining for r in rows if r.measured)
        estimated = sum(r.remaining for r in rows if not r.measured)
        elapsed = time.time() - self.started
        line = f"the rest of the notebook ~{duration(measured)} measured here"
        if estimated:
            line += (f" + ~{duration(estimated)} T4 estimate for "
                     f"{sum(not r.measured for r in rows)} fit(s) not yet measured")
        line += f" (elapsed {duration(elapsed)})"
        if self.allowed and elapsed + measured > self.allowed:
            print(table(rows))
            slowest = sorted((r for r in rows if r.measured), key=lambda r: -r.remaining)[:3]
            raise BudgetExceeded(
                f"{self.mode} mode would take ~{duration(elapsed + measured)} here, over its "
                f"{duration(self.allowed)} budget, most of it in "
                + ", ".join(f"{r.fit.name} ({duration(r.remaining)})" for r in slowest)
                + ": use a faster GPU/TPU runtime, LAB_MODE=quick, or "
                "LAB_BUDGET_MINUTES=<minutes> to allow more")
        if self.allowed and elapsed + measured + estimated > self.allowed:
            line += f"; it may pass the {duration(self.allowed)} budget once all are measured"
        return line


def table(rows: Sequence[Row]) -> str:
    """The projection as a table: per fit its T4 estimate, its time here and the source (in
    brackets where not measured)."""
    width = max([len(r.fit.name) for r in rows] + [3])
    lines = [f"              {'fit':<{width}}  {'epochs':>6}  {'T4 est./epoch':>13}  "
             f"{'here/epoch':>10}  {'rest here':>9}  source"]
    for r in rows:
        here = f"{r.epoch_seconds:.1f} s" if r.measured else f"({r.epoch_seconds:.1f} s)"
        rest = duration(r.remaining) if r.measured else f"({duration(r.remaining)})"
        lines.append(f"              {r.fit.name:<{width}}  {r.fit.epochs:>6}  "
                     f"{r.fit.t4_seconds / max(r.fit.epochs, 1):>11.1f} s  {here:>10}  "
                     f"{rest:>9}  {r.source}")
    return "\n".join(lines)


# --- the probe --------------------------------------------------------------------------------

def probe_model(fit: Fit) -> keras.Model:
    """A model that costs what ``fit``'s does per step: its backbone with random weights and a
    two-class head (frozen backbone when ``fit.trains`` is False), or the head alone for a
    ``dense_head`` fit on features, compiled."""
    if fit.model == "dense_head":
        model = keras.Sequential([keras.Input((fit.size,)), keras.layers.Dense(2, dtype="float32")])
    elif fit.model in ("mnist_cnn", "small_convnet"):
        channels = 1 if fit.model == "mnist_cnn" else 3
        filters, dense = ((32, 64), 128) if fit.model == "mnist_cnn" else ((32, 32, 64), 64)
        model = small_convnet(fit.size, channels, filters, dense)
    else:
        base = ARCHITECTURES[fit.model](include_top=False, weights=None, pooling="avg",
                                    input_shape=(fit.size, fit.size, 3))
        base.trainable = fit.trains
        model = keras.Sequential([keras.Input((fit.size, fit.size, 3)), base,
                                  keras.layers.Dense(2, dtype="float32")])
    model.compile(optimizer="sgd",
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def _timed(call: Callable[[], Any], steps: int) -> tuple[float, float]:
    """(seconds of the first call, mean seconds of ``steps`` more), each call waited for."""
    start = time.perf_counter()
    np.asarray(call())
    first = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(steps):
        np.asarray(call())
    return first, (time.perf_counter() - start) / steps


def probe_fit(fit: Fit, steps: int = PROBE_STEPS) -> Steps:
    """Time ``fit``'s training and evaluation steps on this device (``probe_model``, random
    images of its shape); the first step of each phase, less a steady step, is compiling."""
    model = probe_model(fit)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (fit.batch, *model.inputs[0].shape[1:])).astype("float32")
    y = rng.integers(0, 2, fit.batch)
    train = evaluate = None
    compiling = 0.0
    if fit.images:
        first, train = _timed(lambda: model.train_on_batch(x, y), steps)
        compiling += max(first - train, 0.0)
    if fit.val_images:
        call = ((lambda: model.test_on_batch(x, y)) if fit.images
                else (lambda: model.predict_on_batch(x)))
        first, evaluate = _timed(call, steps)
        compiling += max(first - evaluate, 0.0)
    return Steps(train, evaluate, compiling, "probe")


def probe(clock: Clock, scope: Callable[[], AbstractContextManager[Any]] = contextlib.nullcontext,
          steps: int = PROBE_STEPS) -> str:
    """Probe every distinct fit of ``clock``'s plan, record the times, and return the plan as
    a table with this device's seconds per epoch beside the T4 estimate (``check`` follows)."""
    distinct: dict[tuple[Any, ...], Fit] = {}
    for fit in clock.fits:
        distinct.setdefault(fit.key, fit)
    compiling, failed = 0.0, []
    for fit in tqdm(list(distinct.values()), desc="Timing each distinct fit on this device",
                    unit="fit"):
        try:
            with scope():
                measured = probe_fit(fit, steps)
        except Exception as err:  # out of device memory, say: the fit itself will tell
            failed.append(f"{fit.name} ({type(err).__name__}: {one_line(str(err))[:120]})")
            continue
        finally:  # free the probe's model; not clear_session, which would also reset the
            gc.collect()  # run's dtype policy, distribution and seed
        clock.record(fit, measured)
        compiling += measured.compile
    lines = [f"Measured      {len(distinct) - len(failed)} distinct fit(s), {steps} steps each "
             f"after the first; compiling took {duration(compiling)} (not in the times below)"]
    lines += [f"Not timed     {why}" for why in failed]
    return "\n".join([*lines, table(clock.rows())])


# --- the callback -----------------------------------------------------------------------------

class Projection(keras.callbacks.Callback):
    """Measure the fit ``name``'s first epoch here and print the projection (``Clock.check``).

    The epoch is timed from the end of its first training batch, and its validation from the
    end of the first validation batch, each scaled up by the batches it missed, so compiling
    the steps does not count as the fit's speed. Only those first batches are stamped; the
    callback is ``async_safe``, so Keras does not wait for the device after every step."""

    async_safe = True

    def __init__(self, clock: Clock, name: str) -> None:
        super().__init__()
        self.clock, self.name = clock, name
        self._seen = 0
        self._stamps: dict[str, float] = {}
        self._val_batches = 0

    def _first_epoch(self) -> bool:
        return self._seen == 0

    def on_epoch_begin(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        if self._first_epoch():
            self._stamps = {"begin": time.perf_counter()}

    def on_train_batch_end(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        if self._first_epoch() and batch == 0:
            self._stamps.setdefault("train0", time.perf_counter())

    def on_test_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        if self._first_epoch():
            self._stamps.setdefault("test", time.perf_counter())

    def on_test_batch_end(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        if self._first_epoch():
            if batch == 0:
                self._stamps.setdefault("test0", time.perf_counter())
            self._val_batches = max(self._val_batches, batch + 1)

    def steps_measured(self, end: float) -> Steps:
        """Seconds per step of the first epoch's training and validation, from the stamps."""
        s = self._stamps
        train_end = s.get("test", end)
        n = int(self.params.get("steps") or 0) if self.params else 0
        if n > 1 and "train0" in s:
            train = (train_end - s["train0"]) / (n - 1)
        else:
            train = (train_end - s["begin"]) / max(n, 1)
        evaluate = None
        if "test" in s:
            m = self._val_batches
            evaluate = ((end - s["test0"]) / (m - 1) if m > 1 and "test0" in s
                        else (end - s["test"]) / max(m, 1))
        steady = train * max(n, 1) + (evaluate or 0.0) * self._val_batches
        compiling = max(end - s["begin"] - steady, 0.0)
        return Steps(train, evaluate, compiling, "its first epoch")

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        first = self._first_epoch()
        self._seen += 1
        if not first:
            return
        measured = self.steps_measured(time.perf_counter())
        fit = self.clock.fit(self.name)
        if fit is None:  # a fit the plan does not list: its speed, no projection
            steps = max(int(self.params.get("steps") or 1), 1)
            print(f"Measured      {self.name}: {measured.train * steps:.1f} s per epoch of "
                  "training here")
            return
        self.clock.record(fit, measured)
        per_epoch, _, _ = self.clock.epoch_seconds(fit)
        print(f"Projection    {self.name}: {per_epoch:.1f} s per epoch here (compiling "
              f"{duration(measured.compile)}); {self.clock.check(self.name, epoch + 1)}")
