"""Budgets: each notebook's planned fits, their cost, a T4 estimate, and the projection that
stops a full-mode run which cannot finish in one Colab session (docs/architecture.md).

The cost of a fit is images x epochs x training FLOPs per image. Forward FLOPs come from the
model itself (``forward_flops`` walks its convolution and dense layers); a fit whose backbone is
frozen costs one forward pass per image, a trained one three (forward and backward). The T4
estimate divides by an *assumed* sustained rate (``T4_RATE``); after the first epoch of each
fit, ``Projection`` replaces it with the measured speed on this device.
"""

from __future__ import annotations

import functools
import json
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import keras

from helpers import runtime

SESSION_MINUTES = {"full": 90.0}
"""Each mode's time budget per notebook (``LAB_BUDGET_MINUTES`` overrides): ``full`` must finish
in one free Colab session on a T4; ``paper`` and ``quick`` have none."""

T4_RATE = {"dense": 6e12, "depthwise": 1.5e12}
"""Assumed sustained training FLOP/s on a T4 with mixed precision: an assumption, not a
measurement (there is no T4 here). Dense convolutions (VGG, small CNNs) are taken to reach about
a tenth of the T4's 65 TFLOP/s FP16 peak; depthwise-separable networks (MobileNet, EfficientNet)
are bound by memory bandwidth and reach a quarter of that."""


class BudgetExceeded(RuntimeError):
    """A full-mode run projected past its session budget; the message says what to change."""


# --- forward FLOPs, from the model's own layers ---------------------------------------------

def _spatial(shape: Sequence[int | None]) -> int:
    return math.prod(int(d) for d in shape[1:-1])


def forward_flops(model: keras.Model) -> int:
    """Multiply-adds x 2 of one image's forward pass through ``model``'s Conv2D,
    DepthwiseConv2D, SeparableConv2D and Dense layers (nested models included); pooling,
    normalisation and activations are left out, as in the papers' counts."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            total += forward_flops(layer)
            continue
        if isinstance(layer, keras.layers.DepthwiseConv2D):
            kh, kw = layer.kernel_size
            out = layer.output.shape
            total += 2 * _spatial(out) * int(out[-1]) * kh * kw
        elif isinstance(layer, keras.layers.SeparableConv2D):
            kh, kw = layer.kernel_size
            c_in = int(layer.input.shape[-1])
            out = layer.output.shape
            total += 2 * _spatial(out) * (c_in * layer.depth_multiplier * (kh * kw + int(out[-1])))
        elif isinstance(layer, keras.layers.Conv2D):
            kh, kw = layer.kernel_size
            c_in = int(layer.input.shape[-1]) // layer.groups
            out = layer.output.shape
            total += 2 * _spatial(out) * int(out[-1]) * kh * kw * c_in
        elif isinstance(layer, keras.layers.Dense):
            inputs = layer.input.shape
            total += 2 * max(_spatial(inputs), 1) * int(inputs[-1]) * layer.units
    return total


def _depthwise(model: keras.Model) -> bool:
    return any(isinstance(layer, keras.layers.DepthwiseConv2D) or
               (isinstance(layer, keras.Model) and _depthwise(layer)) for layer in model.layers)


def small_convnet(size: int, channels: int, filters: Sequence[int], dense: int) -> keras.Model:
    """The documents' small from-scratch CNNs, for their cost only (LECTURE's MNIST CNN: 32, 64
    then Dense 128; BLOG's level 1: 32, 32, 64 then Dense 64): 3x3 convolutions, each followed
    by 2x2 max-pooling."""
    layers = keras.layers
    stack: list[Any] = [keras.Input(shape=(size, size, channels))]
    for f in filters:
        stack += [layers.Conv2D(f, 3, activation="relu"), layers.MaxPooling2D(2)]
    stack += [layers.Flatten(), layers.Dense(dense, activation="relu"), layers.Dense(10)]
    return keras.Sequential(stack)


BACKBONES: dict[str, Callable[..., keras.Model]] = {
    "VGG16": keras.applications.VGG16,
    "MobileNet": keras.applications.MobileNet,
    "MobileNetV2": keras.applications.MobileNetV2,
    "EfficientNetB0": keras.applications.EfficientNetB0,
    "EfficientNetB5": keras.applications.EfficientNetB5,
}


@functools.cache
def model_cost(model: str, size: int) -> tuple[int, bool]:
    """(forward FLOPs per image, depthwise-separable?) of ``model`` at ``size`` x ``size``:
    a backbone of ``BACKBONES`` without its top, or ``"mnist_cnn"`` / ``"small_convnet"``.
    Cached on disk per Keras version (building B5 takes seconds)."""
    path = runtime.cache_dir() / "flops.json"
    key = f"{model}@{size}/keras-{keras.__version__}"
    known = json.loads(path.read_text()) if path.exists() else {}
    if key not in known:
        if model == "mnist_cnn":
            built = small_convnet(size, 1, (32, 64), 128)
        elif model == "small_convnet":
            built = small_convnet(size, 3, (32, 32, 64), 64)
        else:
            built = BACKBONES[model](include_top=False, weights=None,
                                     input_shape=(size, size, 3))
        known[key] = [forward_flops(built), _depthwise(built)]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(known, indent=1, sort_keys=True))
    flops, depthwise = known[key]
    return int(flops), bool(depthwise)


# --- a notebook's plan ------------------------------------------------------------------------

@dataclass(frozen=True)
class Fit:
    """One planned ``fit``: its name (as passed to ``cfg.callbacks``), the model and input size,
    training images per epoch, epochs, validation images per epoch, and whether the backbone
    trains (``trains=False``: frozen, one forward pass per image)."""

    name: str
    model: str
    size: int
    images: int
    epochs: int
    val_images: int = 0
    trains: bool = True

    @property
    def flops(self) -> float:
        forward, _ = model_cost(self.model, self.size)
        per_epoch = self.images * (3 if self.trains else 1) + self.val_images
        return float(forward) * per_epoch * self.epochs

    @property
    def t4_seconds(self) -> float:
        _, depthwise = model_cost(self.model, self.size)
        return self.flops / T4_RATE["depthwise" if depthwise else "dense"]


Counts = Callable[[str, str], int]
"""``images(dataset, split)``: a run's prepared counts, or the documents' (``DOCUMENT_IMAGES``)."""

DOCUMENT_IMAGES = {
    ("mnist", "train"): 60_000, ("mnist", "test"): 10_000,
    ("caltech256_horse_zebra", "train"): 40, ("caltech256_horse_zebra", "test"): 40,
    ("cats_vs_dogs", "train"): 2_000, ("cats_vs_dogs", "validation"): 1_000,
    ("flowers_roses_tulips", "train"): 1_152, ("flowers_roses_tulips", "validation"): 288,
    ("cifar10", "train"): 50_000, ("cifar10", "test"): 10_000,
    ("cifar100", "train"): 50_000, ("cifar100", "test"): 10_000,
    ("motor_cores", "train"): 836, ("motor_cores", "validation"): 264,
}
"""Training and validation images of the documents' datasets (LECTURE, BLOG, RATIO, PAPER,
MOTOR), for plans made without the data (``benchmarks/budgets.py``)."""


def document_images(dataset: str, split: str) -> int:
    return DOCUMENT_IMAGES[(dataset.removesuffix("_small"), split)]


def _plan_01(P: SimpleNamespace, images: Counts) -> list[Fit]:
    n, test = images("mnist", "train"), images("mnist", "test")
    train = int(n * (1 - P.validation_share))
    return [Fit("cnn", "mnist_cnn", 28, train, P.epochs, n - train),
            Fit("oversized", "mnist_cnn", 28, P.overfit_train_images, P.overfit_epochs, test)]


def _plan_02(P: SimpleNamespace, images: Counts) -> list[Fit]:
    n, test = images("mnist", "train"), images("mnist", "test")
    return [Fit(f"augmentation {name}", "mnist_cnn", 28, n, P.epochs, test)
            for name in ("none", "sensible", "harmful")]


def _plan_03(P: SimpleNamespace, images: Counts) -> list[Fit]:
    n, test = images("caltech256_horse_zebra", "train"), images("caltech256_horse_zebra", "test")
    return [Fit("fine-tuning", "VGG16", P.img_size, n, P.epochs, test),
            Fit("scratch", "VGG16", P.img_size, n, P.epochs, test),
            Fit("exercise", "VGG16", P.img_size, n, P.exercise_epochs, test)]


def _plan_04(P: SimpleNamespace, images: Counts) -> list[Fit]:
    n, val = 2 * P.train_per_class, 2 * P.val_per_class
    return [Fit("level1", "small_convnet", P.img_size, n, P.level1_epochs, val),
            Fit("bottleneck features", "VGG16", P.img_size, 0, 1, n + val, trains=False),
            Fit("level3_fine_tuned", "VGG16", P.img_size, n, P.level3_epochs, val),
            Fit("random_top", "VGG16", P.img_size, n, P.level3_epochs, val)]


def _plan_05(P: SimpleNamespace, images: Counts) -> list[Fit]:
    fits = []
    for key, dataset, ratios in (("cats_dogs", "cats_vs_dogs", P.cats_dogs_ratios),
                                 ("roses_tulips", "flowers_roses_tulips", P.roses_tulips_ratios)):
        n = P.train_images or images(dataset, "train")
        val = P.validation_images or images(dataset, "validation")
        for n_tl, n_ft in ratios:
            fits += [Fit(f"{key} tl{n_tl}", "MobileNetV2", P.image_size, n, n_tl, val, False),
                     Fit(f"{key} tl{n_tl} ft{n_ft}", "MobileNetV2", P.image_size, n, n_ft, val)]
    n_tl, n_ft = P.batchnorm_ratio
    n = P.train_images or images("cats_vs_dogs", "train")
    return [*fits, Fit(f"batchnorm tl{n_tl}", "MobileNetV2", P.image_size, n, n_tl),
            Fit(f"batchnorm tl{n_tl} ft{n_ft}", "MobileNetV2", P.image_size, n, n_ft)]


def _plan_06(P: SimpleNamespace, images: Counts) -> list[Fit]:
    n1 = min(P.exp1_train_images, images("cifar10", "train"))
    v1 = min(P.exp1_val_images, images("cifar10", "test"))
    n2 = min(P.c100_train_images, images("cifar100", "train"))
    v2 = min(P.c100_test_images, images("cifar100", "test"))
    fine = P.warmup_epochs + P.flat_epochs + P.cooldown_epochs
    return [
        Fit("burn-in", P.exp1_backbone, P.exp1_image_size, n1, P.burnin_epochs, v1, False),
        Fit("fine-tuning", P.exp1_backbone, P.exp1_image_size, n1, fine, v1),
        *(Fit(f"member {i}", "EfficientNetB0", 32, n2, P.epochs, v2)
          for i in range(1, P.num_models + 1)),
        Fit(f"upscaled to {P.upscaled_size}x{P.upscaled_size}", "EfficientNetB0",
            P.upscaled_size, n2, P.epochs),
        Fit("32x32, BatchNorm frozen", "EfficientNetB0", 32, n2, P.epochs),
    ]


def _plan_07(P: SimpleNamespace, images: Counts) -> list[Fit]:
    n = 3 * (P.train_per_class * 2 if P.train_per_class else images(P.dataset, "train"))
    val = 2 * P.val_per_class if P.val_per_class else images(P.dataset, "validation")
    size = max(P.resolutions) if 520 not in P.resolutions else 520
    return [  # transfer learning: the frozen backbone's features once per size (one pass)
        *(Fit(f"features {s}", "MobileNet", s, 0, 1, n + val, False) for s in P.resolutions),
        *(Fit(f"blocks {b}", "MobileNet", size, n, P.fine_tune_epochs, val) for b in P.blocks),
        Fit("additional images", "MobileNet", size, n, P.fine_tune_epochs, val),
    ]


PLANS: dict[str, Callable[[SimpleNamespace, Counts], list[Fit]]] = {
    "01_mnist_cnn": _plan_01, "02_data_augmentation": _plan_02,
    "03_vgg16_horse_zebra": _plan_03, "04_little_data_cats_dogs": _plan_04,
    "05_mobilenetv2_tl_ft_ratio": _plan_05, "06_efficientnet_cifar_ensemble": _plan_06,
    "07_motor_defects_cam_smoothgrad": _plan_07,
}
"""Each notebook's fits as a function of its parameters: the names match the notebook's
``cfg.callbacks(name)``."""


def plan(notebook: str, params: SimpleNamespace, images: Counts = document_images) -> list[Fit]:
    return PLANS[notebook](params, images) if notebook in PLANS else []


def minutes_allowed(mode: str) -> float | None:
    env = os.environ.get("LAB_BUDGET_MINUTES")
    return float(env) if env else SESSION_MINUTES.get(mode)


def describe(fits: Sequence[Fit], mode: str) -> str:
    """The plan as the notebook prints it before the long work starts."""
    if not fits:
        return "Plan          no fits"
    total = sum(f.t4_seconds for f in fits)
    lines = [f"Plan          {len(fits)} fits, {sum(f.images * f.epochs for f in fits):,} "
             f"training images x epochs, {sum(f.flops for f in fits) / 1e12:,.1f} TFLOP; "
             f"T4 estimate {_duration(total)} (assumed rate, helpers.budget.T4_RATE)"]
    width = max(len(f.name) for f in fits)
    lines += [f"              {f.name:<{width}}  {f.model} {f.size}px  {f.images:,} x "
              f"{f.epochs} epochs  ~{_duration(f.t4_seconds)}" for f in fits]
    allowed = minutes_allowed(mode)
    if allowed:
        lines.append(f"Budget        {allowed:.0f} min ({mode}); the projection after each fit's "
                     "first epoch stops the run if it cannot finish")
    return "\n".join(lines)


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


# --- callbacks --------------------------------------------------------------------------------

class Projection(keras.callbacks.Callback):
    """After the first epoch of the fit ``name``, print this device's projected time for the
    rest of the notebook: the fit's remaining epochs at the measured speed, the fits not yet
    started at their T4 estimate scaled by measured / estimated. The epoch is timed from the
    end of its first batch (which includes compiling the step) and scaled up by the batches
    it missed, so compile time does not inflate the projection. Past ``allowed_seconds``
    (``full`` mode) it raises ``BudgetExceeded`` with what to change."""

    def __init__(self, fits: Sequence[Fit], name: str, started: float,
                 allowed_seconds: float | None, mode: str) -> None:
        super().__init__()
        self.fits, self.name, self.started = list(fits), name, started
        self.allowed, self.mode = allowed_seconds, mode
        self._epoch_start = 0.0
        self._batch_times: list[float] = []
        self._seen = 0

    def on_epoch_begin(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        self._epoch_start = time.perf_counter()
        self._batch_times = []

    def on_train_batch_end(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        if self._seen == 0:
            self._batch_times.append(time.perf_counter())

    def _epoch_seconds(self) -> float:
        """This epoch's training time without its first batch, scaled to all its batches."""
        times = self._batch_times
        if len(times) < 2:
            return time.perf_counter() - self._epoch_start
        return (times[-1] - times[0]) * len(times) / (len(times) - 1)

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        self._seen += 1
        names = [f.name for f in self.fits]
        if self._seen != 1 or self.name not in names:
            return
        index = names.index(self.name)
        fit = self.fits[index]
        measured = self._epoch_seconds()
        estimate = fit.t4_seconds / max(fit.epochs, 1)
        scale = measured / estimate if estimate else 1.0
        rest = measured * max(fit.epochs - epoch - 1, 0)
        rest += scale * sum(f.t4_seconds for f in self.fits[index + 1:])
        elapsed = time.time() - self.started
        print(f"Projection    {self.name}: {measured:.1f} s per epoch here; the rest of the "
              f"notebook ~{_duration(rest)} (elapsed {_duration(elapsed)})")
        if self.allowed and elapsed + rest > self.allowed:
            raise BudgetExceeded(
                f"{self.mode} mode would take ~{_duration(elapsed + rest)} here, over its "
                f"{_duration(self.allowed)} budget: use a faster GPU/TPU runtime, "
                "LAB_MODE=quick, or LAB_BUDGET_MINUTES=<minutes> to allow more")


class DryRunStop(keras.callbacks.Callback):
    """Dry run: the fit ends after ``steps`` training batches (validation still runs once).
    It ends the whole fit, not each epoch: Keras cannot resume a ``PyDataset`` (the lecture's
    generators) in a new epoch after a batch loop broken off mid-epoch."""

    def __init__(self, steps: int = 1) -> None:
        super().__init__()
        self.steps = steps

    def on_train_batch_end(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        if batch + 1 >= self.steps:
            self.model.stop_training = True


class Resume(keras.callbacks.BackupAndRestore):
    """``keras.callbacks.BackupAndRestore`` that says when it resumes an interrupted fit."""

    def on_train_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        super().on_train_begin(logs)
        epoch = getattr(self.model, "_initial_epoch", None)
        if epoch:
            print(f"Resuming from the backup in {self.backup_dir}: the fit continues at epoch "
                  f"{epoch + 1} (epochs before it are not in this history)")

