"""Course-pretrained backbones (issue 21): when ImageNet's weights cannot be had in quick mode,
a backbone pretrained here, for a fixed number of steps, on one of the course's synthetic
stand-ins for ImageNet (``SOURCES``), instead of a random one.

A random base teaches the opposite of the documents: its features carry almost no signal, so
transfer learning and fine-tuning look useless. A base pretrained on many synthetic classes that
share the target stand-in's primitives (but none of its classes) carries features that transfer,
as ImageNet's do for the real photos. ``RECIPES`` lists the weights (by ``helpers.weights``'s
names) that have a recipe, each one measured against random init on its notebooks' target
stand-ins by ``benchmarks/pretrain_targets.py`` (``pretrain_probe.py`` explores variants on
cats vs dogs); the others stay random in quick mode.

``ensure(name)`` returns the cached weights or trains them (a progress bar over the steps) and
caches them in ``LAB_CACHE/pretrained/`` as ``<name>-<digest>.weights.h5`` (the digest names
the recipe, so a changed recipe trains anew) beside a JSON of how they were made; a classroom's
read-only cache is read, and what is trained goes to ``runtime.own_cache_dir()``. The file is
written under another name and renamed when complete: an interrupted run trains again, never
loads half a file. One process at a time trains a recipe: another that needs it meanwhile
waits and loads the weights. Training on TensorFlow or JAX gives a file both load.
``build_many(names, jobs)`` (``python -m helpers pretrain``, ``make run``) trains several,
``jobs`` at once in worker processes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import multiprocessing
import os
import queue
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import keras
from tqdm.auto import tqdm

from helpers.callbacks import OptimizerBuilt
from helpers.datasets.unpack import one_at_a_time
from helpers.runtime import (
    cache_dir,
    device_platforms,
    ensure_writable,
    own_cache_dir,
)
from helpers.synth import cifar, creatures, garden, plates


@dataclass(frozen=True)
class Source:
    """A source set: the ``helpers.synth`` module that draws it (its ``classes()``,
    ``source_set(specs, per_class, size, seed)`` and, for factor heads, ``factor_labels``),
    its ``version`` (bump it when the module draws differently: cached weights are then
    trained anew) and what its classes are, for the banner."""

    module: ModuleType
    version: int
    what: str


# Each shares the primitives that carry its target stand-in's class signal, none of its classes.
SOURCES: dict[str, Source] = {
    "creatures": Source(creatures, 1, "synthetic creature-head classes"),  # 03, 04
    "garden": Source(garden, 1, "synthetic creature-head and blossom classes"),  # 05
    "cifar": Source(cifar, 1, "synthetic pattern-and-hue classes"),  # 06
    "plates": Source(plates, 1, "synthetic steel-plate classes"),  # 07
}

# The notebooks' backbones as they build them (keras.applications defaults: the MobileNets at
# width 1.0), each with its notebook's input scaling, from 0-255 pixels: VGG16 rescale=1/255
# (BLOG, 03 and 04), the MobileNets [-1, 1] (05, 07), EfficientNetB0 its own Rescaling and
# Normalization inside the model (06).
SCALINGS: dict[str, tuple[float, float]] = {
    "MobileNetV2": (1 / 127.5, -1.0),
    "VGG16": (1 / 255, 0.0),
    "MobileNet": (1 / 127.5, -1.0),
    "EfficientNetB0": (1.0, 0.0),
}


@dataclass(frozen=True)
class Recipe:
    """How one backbone is pretrained: ``keras.applications.<backbone>`` without top at
    ``size`` px with a softmax head over every class of the source set ``source``
    (``per_class`` images each), Adam at ``lr``, ``steps`` batches of ``batch``, and
    BatchNormalization momentum ``bn_momentum`` while pretraining (Keras's 0.999 would leave
    the stored statistics near their initial values after a few hundred steps, and the
    notebooks run the base in inference mode). ``kernel_init`` (a Keras initializer's name)
    re-initialises every convolution kernel before training: VGG16, without
    BatchNormalization, does not learn from Keras's Glorot initialisation, whose signal fades
    over its 13 ReLU convolutions; He et al. (2015)'s ``"he_normal"`` keeps it.
    ``factor_heads`` adds one softmax head per factor of the source's classes (a creature's ear
    shape, placement, muzzle, head and tone; a plate's part, texture and mark): easier targets
    whose gradients a backbone learns from first. ``small_size`` trains the first
    ``small_steps`` of the ``steps`` on the source drawn at that smaller size, for a fraction of
    the cost, and the others at ``size``, which adapt the features to it (progressive resizing;
    Touvron et al., 2019, "Fixing the train-test resolution discrepancy", measure what a
    change of size costs and that training at the test size recovers it)."""

    def __post_init__(self) -> None:
        if self.small_size is not None and not (
                0 < self.small_size < self.size and 0 < self.small_steps < self.steps):
            raise ValueError(f"small_size must be below size ({self.size}) and small_steps "
                             f"between 0 and steps ({self.steps}), exclusive")

    backbone: str
    size: int
    steps: int
    lr: float = 2e-3
    batch: int = 32
    per_class: int = 120
    bn_momentum: float = 0.9
    seed: int = 0
    kernel_init: str | None = None
    factor_heads: bool = False
    source: str = "creatures"
    small_size: int | None = None
    small_steps: int = 0

    def digest(self) -> str:
        """Ten hex digits naming the recipe and the source set's version."""
        text = json.dumps({**dataclasses.asdict(self),
                           "source_version": SOURCES[self.source].version}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:10]


# Measured with benchmarks/pretrain_probe.py and pretrain_targets.py (the closing notes of
# issue 21 give the tables). In the order ``python -m helpers pretrain`` starts them: of the
# orders measured two at once on 2 cores, this one took the least time (issue 21's note).
RECIPES: dict[str, Recipe] = {
    "VGG16": Recipe("VGG16", 48, steps=250, lr=3e-4, kernel_init="he_normal",
                    factor_heads=True, small_size=32, small_steps=200),  # 03, 04
    # 07: 64 px crops of plates enlarged to 128 px, each holding its mark (helpers.synth.plates)
    "MobileNet_224": Recipe("MobileNet", 64, steps=600, per_class=120, factor_heads=True,
                            source="plates"),
    # 05. Not progressive: 200 of its steps at 48 px left 05's transfer learning near chance on
    # the first-steps cell, so the fall it asserts went undetected (issue 24's twelfth note)
    "MobileNetV2_96": Recipe("MobileNetV2", 96, steps=300, source="garden"),
    "EfficientNetB0": Recipe("EfficientNetB0", 32, steps=200, per_class=100,
                             source="cifar"),  # 06
}


@dataclass(frozen=True)
class Pretrained:
    """Cached course-pretrained weights: ``path`` loads with ``weights=path``; ``info`` says how
    they were made (source, classes, images, steps, seconds, source accuracy, backend)."""

    name: str
    path: Path
    info: Mapping[str, Any]

    def describe(self) -> str:
        """One phrase for the banner, e.g. "68 synthetic creature-head classes x 120 images,
        450 steps"."""
        i = self.info
        return (f"{i['classes']} {SOURCES[i['source']].what} x {i['per_class']} images, "
                f"{i['steps']} steps")


def backbone(name: str, size: int | None, seed: int, alpha: float | None = None) -> keras.Model:
    """``keras.applications.<name>`` without top, randomly initialised from ``seed``, for
    ``size`` px inputs (``None``: any size); ``alpha`` only for the MobileNets (``None``:
    Keras's default width, the notebooks' 1.0)."""
    keras.utils.set_random_seed(seed)
    kwargs = {"alpha": alpha} if alpha is not None else {}
    return getattr(keras.applications, name)(input_shape=(size, size, 3), include_top=False,
                                             weights=None, **kwargs)


def reinitialise(base: keras.Model, initializer: str, seed: int) -> None:
    """Every convolution kernel of ``base`` drawn anew from ``initializer`` (see ``Recipe``)."""
    for i, layer in enumerate(base.layers):
        if isinstance(layer, keras.layers.Conv2D):
            init = keras.initializers.get({"class_name": initializer,
                                           "config": {"seed": seed + i}})
            layer.kernel.assign(init(layer.kernel.shape))


def base_name(base: keras.Model) -> str:
    """The ``SCALINGS`` key of a model built by ``backbone``."""
    name = base.name.lower()
    for key in sorted(SCALINGS, key=len, reverse=True):
        if name.startswith(key.lower()):
            return key
    raise KeyError(f"not one of the course's backbones: {base.name}")


def scaled(base: keras.Model, inputs: Any) -> Any:
    """``inputs`` (0-255 pixels) scaled as the backbone's notebook scales them."""
    scale, offset = SCALINGS[base_name(base)]
    return keras.layers.Rescaling(scale, offset=offset)(inputs) if scale != 1.0 else inputs


class StepBudget(keras.callbacks.Callback):
    """Stops ``fit`` after ``steps`` batches (a run does not depend on the machine's speed),
    with a progress bar over them when ``desc`` is given; ``on_step()`` is called after each."""

    def __init__(self, steps: int, desc: str | None = None,
                 on_step: Callable[[], None] | None = None) -> None:
        super().__init__()
        self.budget, self.steps, self.desc, self.bar = steps, 0, desc, None
        self.on_step = on_step

    def on_train_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        if self.desc:
            self.bar = tqdm(total=self.budget, desc=self.desc, unit="step")

    def on_train_batch_end(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        self.steps += 1
        if self.bar is not None:
            self.bar.update(1)
        if self.on_step:
            self.on_step()
        if self.steps >= self.budget:
            self.model.stop_training = True

    def on_train_end(self, logs: Mapping[str, Any] | None = None) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def train(base: keras.Model, x: Any, y: Any, n_classes: int, steps: int, batch: int, lr: float,
          bn_momentum: float | None = None, factors: Mapping[str, Any] | None = None,
          desc: str | None = None,
          first: tuple[Any, Any, Mapping[str, Any] | None, int] | None = None,
          on_step: Callable[[], None] | None = None) -> tuple[int, float, int]:
    """Train ``base`` with a new softmax head (and one per ``factors`` column) for ``steps``
    batches; ``(steps, last epoch's source accuracy, epochs)``. ``bn_momentum`` replaces
    Keras's 0.999 while training (see ``Recipe``) and is put back after. ``first``, images at
    a smaller size with their labels, factors and number of steps, trains first
    (``Recipe.small_size``). ``on_step()`` is called after each batch."""
    norms = [layer for layer in base.layers if isinstance(layer, keras.layers.BatchNormalization)]
    for layer in norms:
        layer.momentum = bn_momentum or layer.momentum
    inputs = keras.Input(base.input_shape[1:])
    h = keras.layers.GlobalAveragePooling2D()(base(scaled(base, inputs)))
    outputs = {"classes": keras.layers.Dense(n_classes, activation="softmax", name="classes")(h)}
    for name, column in (factors or {}).items():
        outputs[name] = keras.layers.Dense(int(column.max()) + 1, activation="softmax",
                                           name=name)(h)
    model = keras.Model(inputs, outputs)
    model.compile(keras.optimizers.Adam(lr),
                  {name: "sparse_categorical_crossentropy" for name in outputs},
                  metrics={"classes": ["accuracy"]})
    phases = [*([first] if first else []), (x, y, factors, steps)]
    trained, epochs = 0, 0
    for images, labels, columns, n in phases:
        budget = StepBudget(n, desc and f"{desc} at {images.shape[1]} px", on_step)
        history = model.fit(images, {"classes": labels, **(columns or {})}, batch_size=batch,
                            epochs=n, callbacks=[OptimizerBuilt(), budget], verbose=0)
        key = next(k for k in history.history if k.endswith("accuracy"))
        trained, epochs = trained + budget.steps, epochs + len(history.history[key])
    for layer in norms:
        layer.momentum = 0.999
    return trained, float(history.history[key][-1]), epochs


def recipe(name: str) -> Recipe:
    try:
        return RECIPES[name]
    except KeyError:
        raise KeyError(f"no course-pretraining recipe for {name!r}; there is one for: "
                       f"{', '.join(RECIPES)}") from None


def weights_path(name: str, folder: Path | None = None) -> Path:
    """Where ``name``'s course-pretrained weights are cached in ``folder`` (default: the
    writable cache, ``runtime.own_cache_dir()``)."""
    folder = folder or own_cache_dir()
    return folder / "pretrained" / f"{name}-{recipe(name).digest()}.weights.h5"


def _info_path(path: Path) -> Path:
    return path.with_name(path.name.removesuffix(".weights.h5") + ".json")


def cached(name: str) -> Pretrained | None:
    """The cached weights of ``name`` (in ``LAB_CACHE``, else in the writable cache), or
    ``None`` when they have not been (fully) built or the file is not the one its JSON names
    (a damaged or replaced file is trained again)."""
    for folder in dict.fromkeys((cache_dir(), own_cache_dir())):
        path = weights_path(name, folder)
        info = _info_path(path)
        if path.exists() and info.exists():
            made = Pretrained(name, path, json.loads(info.read_text()))
            if made.info.get("sha256") == _sha256(path):
                return made
    return None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fit_recipe(r: Recipe, label: str | None = None, on_step: Callable[[], None] | None = None,
               ) -> tuple[keras.Model, dict[str, Any]]:
    """A backbone trained by the recipe ``r`` (float32, the same file on every device) and
    what its training gave (classes, images, steps, epochs, source accuracy); a progress bar
    named ``label`` when given, ``on_step()`` after each batch."""
    source = SOURCES[r.source].module
    specs = source.classes()
    x, y = source.source_set(specs, r.per_class, r.size, seed=r.seed)

    def factors(labels: Any) -> Mapping[str, Any] | None:
        return source.factor_labels(specs, labels) if r.factor_heads else None

    first = None
    if r.small_size:
        small, y_small = source.source_set(specs, r.per_class, r.small_size, seed=r.seed)
        first = (small, y_small, factors(y_small), r.small_steps)
    policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float32")
    try:
        base = backbone(r.backbone, None if r.small_size else r.size, r.seed)
        if r.kernel_init:
            reinitialise(base, r.kernel_init, r.seed)
        steps, accuracy, epochs = train(
            base, x, y, len(specs), r.steps - r.small_steps, r.batch, r.lr, r.bn_momentum,
            factors=factors(y), first=first, on_step=on_step,
            desc=f"pretraining {label} on {len(specs)} synthetic classes" if label else None)
    finally:
        keras.config.set_dtype_policy(policy)
    return base, {"classes": len(specs), "images": len(y), "steps_trained": steps,
                  "epochs": epochs, "source_accuracy": round(accuracy, 4)}


def build(name: str, progress: bool = True, on_step: Callable[[], None] | None = None,
          at_once: int = 1) -> Pretrained:
    """Train ``name``'s recipe and cache the weights (see the module docstring); ``on_step()``
    after each batch; ``at_once``, the builds running together, is recorded beside the
    seconds."""
    r = recipe(name)
    path = weights_path(name)
    ensure_writable(path.parent)
    start = time.perf_counter()
    base, trained = fit_recipe(r, name if progress else None, on_step)
    partial = path.with_name(f".{os.getpid()}-{path.name}")  # Keras wants .weights.h5 at the end
    base.save_weights(partial)
    os.replace(partial, path)
    info = {"name": name, **dataclasses.asdict(r),
            "source_version": SOURCES[r.source].version, **trained, "sha256": _sha256(path),
            "seconds": round(time.perf_counter() - start, 1), "builds_at_once": at_once,
            "backend": keras.backend.backend(),
            "keras": keras.__version__}
    partial_info = _info_path(partial)
    partial_info.write_text(json.dumps(info, indent=1))
    os.replace(partial_info, _info_path(path))
    return Pretrained(name, path, info)


def ensure(name: str, progress: bool = True) -> Pretrained:
    """The cached weights of ``name``, trained first when they are not cached yet."""
    return cached(name) or _once(name, lambda: build(name, progress))


def _once(name: str, train: Callable[[], Pretrained]) -> Pretrained:
    """``train()``, one process at a time per recipe (``unpack.one_at_a_time``): a process
    that waited for another one training the same recipe (two notebooks open at once, or run
    side by side) says so and loads its weights instead of training them again."""
    path = weights_path(name)
    ensure_writable(path.parent)

    def waiting() -> None:
        print(f"{name}: another process is pretraining it; waiting for its weights", flush=True)

    with one_at_a_time(path, waiting):
        return cached(name) or train()


def build_many(names: Sequence[str], jobs: int, built: Callable[[Pretrained], None]) -> None:
    """Train the recipes of ``names`` in ``jobs`` worker processes (one: here), each taking the
    next name in order when it is free, with one progress bar over all their steps;
    ``built(made)`` as each is cached. A failed build, or a process that dies, does not stop the
    others; the failures are raised as one ``RuntimeError`` after them. An interruption stops
    every process: what finished is cached, the rest trains again next time."""
    if jobs < 2 or len(names) < 2:
        for name in names:
            built(build(name))
        return
    jobs = min(jobs, len(names))
    context = multiprocessing.get_context("spawn")  # fresh interpreters: no state of this one
    tasks, events = context.Queue(), context.Queue()
    for name in names:
        tasks.put(name)
    workers = [context.Process(target=_worker, args=(i, dict(RECIPES), tasks, events, jobs),
                               name=f"pretrain {i}", daemon=True) for i in range(jobs)]
    pending, current, failed = set(names), {}, []
    try:
        for process in workers:
            process.start()
        with tqdm(total=sum(recipe(name).steps for name in names), unit="step",
                  desc=f"pretraining {', '.join(names)}, {jobs} at once") as bar:
            while pending:
                try:
                    kind, worker, name, payload = events.get(timeout=1)
                except queue.Empty:  # a process killed (memory?) says nothing
                    for worker, process in enumerate(workers):
                        if process.exitcode not in (None, 0) and worker in current:
                            name = current.pop(worker)
                            failed.append(f"{name}: its process ended with exit code "
                                          f"{process.exitcode}")
                            pending.discard(name)
                    if all(process.exitcode is not None for process in workers):
                        failed += [f"{name}: not trained, no process left" for name in pending]
                        break
                    continue
                if kind == "start":
                    current[worker] = name
                elif kind == "step":
                    bar.update(1)
                else:
                    del current[worker]
                    pending.discard(name)
                    if kind == "built":
                        built(payload)
                    else:
                        failed.append(f"{name}: {payload}")
    finally:
        for process in workers:
            process.terminate()  # idle, or interrupted
        for process in workers:
            process.join()
    if failed:
        raise RuntimeError("course-pretraining failed: " + "; ".join(sorted(failed)))


def _worker(me: int, recipes: Mapping[str, Recipe], tasks: Any, events: Any, at_once: int,
            ) -> None:
    """``build_many``'s worker number ``me``: builds the names it takes from ``tasks`` with the
    parent's ``recipes`` until none is left, sending ``(kind, me, name, payload)`` events: its
    start, each step, and the result (or the error)."""
    RECIPES.clear()
    RECIPES.update(recipes)
    device_platforms()  # the first device query, without TensorFlow's start-up notices
    while True:
        try:
            name = tasks.get(timeout=1)
        except queue.Empty:
            return
        events.put(("start", me, name, None))
        try:
            made = _once(name, lambda name=name: build(
                name, progress=False, at_once=at_once,
                on_step=lambda: events.put(("step", me, name, None))))
        except Exception as err:  # noqa: BLE001  (sent to the parent, which raises it)
            events.put(("failed", me, name, f"{type(err).__name__}: {err}"))
        else:
            events.put(("built", me, name, made))
