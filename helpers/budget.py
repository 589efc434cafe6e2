"""Budgets: the cost of a planned fit and a T4 estimate for planning (docs/architecture.md,
"Budgets"). Each notebook plans its fits in its ``LESSON`` (``helpers.lesson``).

The cost of a fit is images x epochs x training FLOPs per image. Forward FLOPs come from the
model itself (``forward_flops`` walks its convolution and dense layers); a fit whose backbone is
frozen costs one forward pass per image, a trained one three (forward and backward). The T4
estimate (``Fit.t4_seconds``, the README's table) adds a per-step overhead and the rate of the
fit's input pipeline (``FEED_RATE``) to the FLOPs at ``T4_RATE``. It plans; it never stops a run:
``helpers.projection`` measures each fit on this device and stops only on measurements.
"""

from __future__ import annotations

import functools
import json
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import keras

from helpers import runtime, settings

SESSION_MINUTES = {"full": 90.0}
"""Each mode's time budget per notebook (``LAB_BUDGET_MINUTES`` overrides): ``full`` must finish
in one free Colab session on a T4; ``paper`` and ``quick`` have none."""

T4_RATE = {"dense": 6e12, "depthwise": 0.75e12}
"""Sustained training FLOP/s on a T4 with mixed precision, for the estimate only.
``depthwise`` (MobileNet, EfficientNet: bound by memory bandwidth) is derived from a published
measurement: EfficientNet-B0 trains at 868 images/s on one V100 with TF2 AMP + XLA (NVIDIA
DeepLearningExamples, TensorFlow2/Classification/ConvNets/efficientnet_v1), and a T4 has about
a third of a V100's memory bandwidth (320 against 900 GB/s, NVIDIA's data sheets): about 300
images/s at 3 x 0.78 GFLOP each. ``dense`` (VGG16, the small CNNs) is an assumption, not a
measurement: a tenth of the T4's 65 TFLOP/s FP16 peak."""

T4_STEP_SECONDS = 0.004
"""Fixed cost of one training or evaluation step (the fit loop, callbacks, the host-to-device
copy of a batch), for the estimate only: an assumption, not a measurement. It dominates small
images: 06's 50,000 CIFAR images at 32 px in batches of 32 are 1,563 steps an epoch."""

FEED_RATE = {"generator": {"train": 142.0, "evaluate": 845.0}}
"""Images per second the lecture's ``ImageDataGenerator.flow_from_directory`` delivers at
150 x 150 from 256-pixel JPEGs on 2 CPU cores (Colab's 2 vCPUs), reading and decoding in one
Python thread: ``train`` with the lecture's augmentation, ``evaluate`` rescaling only. Measured
by ``python benchmarks/augment_throughput.py --per-class 100 --seconds 8`` on a 2-core machine
(larger JPEGs decode more slowly: the projection measures each run's own rate). Other target
sizes scale by pixel count. Fits fed from arrays (``feed="arrays"``) have no such limit."""


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


ARCHITECTURES: dict[str, Callable[..., keras.Model]] = {
    # the keras.applications constructor of each backbone the plans name (its weights:
    # ``helpers.weights.BACKBONES``)
    "VGG16": keras.applications.VGG16,
    "MobileNet": keras.applications.MobileNet,
    "MobileNetV2": keras.applications.MobileNetV2,
    "EfficientNetB0": keras.applications.EfficientNetB0,
    "EfficientNetB5": keras.applications.EfficientNetB5,
}


@functools.cache
def model_cost(model: str, size: int) -> tuple[int, bool]:
    """(forward FLOPs per image, depthwise-separable?) of ``model`` at ``size`` x ``size``:
    a backbone of ``ARCHITECTURES`` without its top, ``"mnist_cnn"`` / ``"small_convnet"``, or
    ``"dense_head"`` (a two-class layer on ``size`` features: its steps cost more than its
    arithmetic). Cached on disk per Keras version (building B5 takes seconds), one file per model
    and size: a new entry adds a file and never rewrites one, so kernels that share the cache
    (a class graded in parallel, docs/grading.md) neither race nor change each other's files."""
    if model == "dense_head":  # a classifier on ``size`` features (04's level 2, 07's softmax)
        return 2 * size * 2, False
    path = runtime.own_cache_dir() / "flops" / f"{model}@{size}-keras-{keras.__version__}.json"
    if path.exists():
        known = json.loads(path.read_text())
    else:
        if model == "mnist_cnn":
            built = small_convnet(size, 1, (32, 64), 128)
        elif model == "small_convnet":
            built = small_convnet(size, 3, (32, 32, 64), 64)
        else:
            built = ARCHITECTURES[model](include_top=False, weights=None,
                                     input_shape=(size, size, 3))
        known = [forward_flops(built), _depthwise(built)]
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}")
        partial.write_text(json.dumps(known))
        partial.replace(path)  # whole or not at all, for a reader in another kernel
    flops, depthwise = known
    return int(flops), bool(depthwise)


# --- a planned fit ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Fit:
    """One planned ``fit``: its name (as passed to ``cfg.callbacks``), the model and input size,
    training images per epoch, epochs, validation images per epoch, whether the backbone trains
    (``trains=False``: frozen, one forward pass per image), the batch size, and its input
    pipeline: ``"arrays"`` (in memory, fed as fast as the device takes it) or ``"generator"``
    (the lecture's ``ImageDataGenerator`` reading files on the host, ``FEED_RATE``)."""

    name: str
    model: str
    size: int
    images: int
    epochs: int
    val_images: int = 0
    trains: bool = True
    batch: int = 32
    feed: str = "arrays"

    @property
    def key(self) -> tuple[str, int, int, bool, str]:
        """What makes two fits time alike per step: model, size, batch, training, pipeline."""
        return (self.model, self.size, self.batch, self.trains, self.feed)

    @property
    def steps(self) -> int:
        return math.ceil(self.images / self.batch)

    @property
    def val_steps(self) -> int:
        return math.ceil(self.val_images / self.batch)

    @property
    def flops(self) -> float:
        forward, _ = model_cost(self.model, self.size)
        per_epoch = self.images * (3 if self.trains else 1) + self.val_images
        return float(forward) * per_epoch * self.epochs

    def feed_seconds(self, phase: str, images: int) -> float:
        """Seconds the input pipeline needs to deliver ``images`` in ``phase`` on a T4 runtime
        (``FEED_RATE``; zero for arrays)."""
        rates = FEED_RATE.get(self.feed)
        return images / rates[phase] * (self.size / 150) ** 2 if rates else 0.0

    def t4_epoch_seconds(self, phase: str) -> float:
        """The T4 estimate of one epoch's ``phase`` (``train`` or ``evaluate``): compute (FLOPs
        at ``T4_RATE``) plus ``T4_STEP_SECONDS`` a step, or the input pipeline's time where
        that is longer."""
        forward, depthwise = model_cost(self.model, self.size)
        rate = T4_RATE["depthwise" if depthwise else "dense"]
        if phase == "train":
            images, steps, passes = self.images, self.steps, 3 if self.trains else 1
        else:
            images, steps, passes = self.val_images, self.val_steps, 1
        compute = images * passes * forward / rate + steps * T4_STEP_SECONDS
        return max(compute, self.feed_seconds(phase, images))

    @property
    def t4_seconds(self) -> float:
        """The T4 estimate of the whole fit (``t4_epoch_seconds`` of both phases x epochs)."""
        return (self.t4_epoch_seconds("train") + self.t4_epoch_seconds("evaluate")) * self.epochs


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


def minutes_allowed(mode: str) -> float | None:
    return settings.number("LAB_BUDGET_MINUTES") or SESSION_MINUTES.get(mode)


def _model_words(fit: Fit) -> str:
    if fit.model == "dense_head":
        return f"a dense classifier on {fit.size:,} features"
    return f"{fit.model} {fit.size}px"


def _work_words(fit: Fit) -> str:
    if not fit.images:
        return f"one pass over {fit.val_images:,} images"
    if not fit.epochs:
        return "no epochs (this setting skips the phase)"
    return f"{fit.images:,} x {fit.epochs} epoch{'s' if fit.epochs != 1 else ''}"


def describe(fits: Sequence[Fit], mode: str) -> str:
    """The plan as ``setup`` prints it before the long work starts: in full and paper mode with
    the T4 estimate (what a Colab session must hold); in quick mode, which runs on whatever
    machine it is on, without one (its first epochs are measured instead)."""
    if not fits:
        return "Plan          no fits"
    estimate = mode != "quick"
    head = (f"Plan          {len(fits)} fits, {sum(f.images * f.epochs for f in fits):,} "
            f"training images x epochs, {sum(f.flops for f in fits) / 1e12:,.1f} TFLOP")
    lines = [head + (f"; on a T4 about {duration(sum(f.t4_seconds for f in fits))} (an "
                     "estimate: helpers.budget)" if estimate else
                     "; each fit's first epoch is timed on this machine")]
    width = max(len(f.name) for f in fits)
    lines += [f"              {f.name:<{width}}  {_model_words(f)}  {_work_words(f)}"
              + f", batch {f.batch}"
              + (", the lecture's generator" if f.feed == "generator" else "")
              + (f"  T4 ~{duration(f.t4_seconds)}" if estimate else "") for f in fits]
    allowed = minutes_allowed(mode)
    if allowed:
        lines.append(f"Budget        {allowed:.0f} min ({mode}); each fit is measured here (a "
                     "few steps before the long work, then its first epoch) and the run stops "
                     "when the measured time cannot finish")
    return "\n".join(lines)


def duration(seconds: float) -> str:
    """Seconds as a person reads them: ``under 0.1 s``, ``0.4 s``, ``12 s``, ``7 min``,
    ``1.5 h``."""
    if seconds < 0.05:
        return "under 0.1 s"
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
