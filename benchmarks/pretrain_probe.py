"""Feasibility probe (issue 21, step 3): does a MobileNetV2 pretrained for a few minutes on a
synthetic many-class source set transfer to the cats-vs-dogs stand-in better than random init?

The source set ("creature heads") is drawn with ``helpers.synth.animals``'s primitives: the same
cluttered background, fur palette, noise, head ellipse, eyes and nose as ``cat_or_dog``, and the
parts that carry the target's class signal (the ears' shape and placement, the muzzle, the head's
proportions) varied as factors. Each class is one combination of

* ear shape: triangle, ellipse, rectangle, or no ears;
* ear placement: upright on top, hanging at the sides, or sticking out at a slant;
* muzzle: none, or a snout ellipse below the head;
* head: wide (as a cat's) or tall (as a dog's);
* ear tone: the fur's colour, or darker (as a dog's ears);

leaving out every combination with the cat's parts (triangle ears upright, no muzzle) or the
dog's (ellipse ears hanging, a muzzle), so the source is disjoint from the two target classes.
``--coat`` adds a coat factor (solid, or zebra stripes from ``animals``), doubling the classes.

A backbone as the notebooks build it (``--backbone``, default MobileNetV2 at width 1.0 and its
notebook's quick size, ``weights=None``; ``BACKBONES`` lists the four with their input scalings)
is trained on it for ``--steps`` batches (Adam, batch 32, and
BatchNormalization momentum 0.9 while pretraining: with Keras' 0.999 a few hundred steps leave
the stored statistics near their initial values, and the inference-mode features of the
pretrained base probe no better than random init's), then its pooled (GAP) features
of the cats-vs-dogs stand-in (built as ``helpers.datasets.cats_vs_dogs`` builds it, read as
notebook 05 reads it, at its quick-mode 64 training and 48 validation images, and at the whole
stand-in) feed a linear probe: scikit-learn's LogisticRegression on standardised features,
trained on train, scored on validation. Rows: pretrained and random init, two seeds each
(``--control``: also random weights whose BN statistics alone were fitted to the source).

    nice -n 15 .venv/bin/python benchmarks/pretrain_probe.py --steps 450 --backbone MobileNetV2
    nice -n 15 .venv/bin/python benchmarks/pretrain_probe.py --cost 20

``--cost STEPS`` only times pretraining, every backbone at its quick size: what the issue's
six-minute budget buys. VGG16 (no BatchNormalization) did not learn the source at the default
``--lr`` 2e-3 (source accuracy at chance after 300 steps); a lower rate is untried.
The probe's target is the cats-vs-dogs stand-in (04's VGG16 and 05's
MobileNetV2); sources and targets for 03's horses and zebras, 06's CIFAR and 07's motor cores,
the notebooks' own fine-tunes and the pretrain command are not built yet.
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
import time
from pathlib import Path

import helpers  # noqa: F401  (chooses the Keras backend first)

# isort: split
import keras
import numpy as np
from PIL import Image, ImageDraw
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from helpers import pipelines, runtime
from helpers.datasets import cats_vs_dogs
from helpers.synth import animals
from helpers.verdicts import accuracy_interval

EARS = ("triangle", "ellipse", "rectangle", "none")
PLACEMENTS = ("up", "hang", "out")
MUZZLES = (False, True)
HEADS = ("wide", "tall")
TONES = ("same", "darker")
COATS = ("solid", "stripes")
TARGET_PARTS = {("triangle", "up", False), ("ellipse", "hang", True)}  # cat's, dog's
QUICK = {"train": 64, "validation": 48}  # notebook 05's quick PARAMS


def source_classes(coat: bool = False) -> list[dict]:
    """Every factor combination, without the target's parts (see module doc)."""
    classes = []
    coats = COATS if coat else ("solid",)
    for ear, place, muzzle, head, tone, fur in itertools.product(
            EARS, PLACEMENTS, MUZZLES, HEADS, TONES, coats):
        if ear == "none" and (place, tone) != ("up", "same"):
            continue  # without ears, placement and tone mean nothing
        if (ear, place, muzzle) in TARGET_PARTS:
            continue
        classes.append({"ear": ear, "place": place, "muzzle": muzzle, "head": head,
                        "tone": tone, "coat": fur})
    return classes


def _ear(draw: ImageDraw.ImageDraw, shape: str, x: float, y: float, s: float, side: int,
         place: str, colour: tuple[int, ...]) -> None:
    """One ear of half-size ``s * 0.4`` centred near ``(x, y)``."""
    r = s * 0.4
    if place == "up":
        tip = (x + side * s * 0.15, y - s * 1.05)
        base = [(x - r, y), (x + r, y)]
    elif place == "hang":
        tip = (x + side * s * 0.1, y + s * 1.1)
        base = [(x - r, y), (x + r, y)]
    else:  # out: the tip pointing outwards and up at a slant
        tip = (x + side * s * 0.95, y - s * 0.75)
        base = [(x, y - r), (x, y + r)]
    if shape == "triangle":
        draw.polygon([*base, tip], fill=colour)
        return
    mid = ((base[0][0] + base[1][0]) / 2, (base[0][1] + base[1][1]) / 2)
    cx, cy = (mid[0] + tip[0]) / 2, (mid[1] + tip[1]) / 2
    half_long = float(np.hypot(tip[0] - mid[0], tip[1] - mid[1])) / 2
    half_w, half_h = (r * 0.85, half_long) if place != "out" else (half_long, r * 0.85)
    box = [cx - half_w, cy - half_h, cx + half_w, cy + half_h]
    if shape == "ellipse":
        draw.ellipse(box, fill=colour)
    else:
        draw.rectangle(box, fill=colour)


def creature(spec: dict, size: int, rng: np.random.Generator) -> Image.Image:
    """One head of a source class, drawn as ``animals.cat_or_dog`` draws a cat or a dog."""
    img = animals._background(size, rng)
    draw = ImageDraw.Draw(img)
    fur = animals._colour(animals.FUR, rng)
    s = size * rng.uniform(0.22, 0.3)
    cx = size * rng.uniform(0.38, 0.62)
    cy = size * rng.uniform(0.45, 0.62)
    ear_colour = fur if spec["tone"] == "same" else tuple(max(0, c - 50) for c in fur)
    head = ([cx - s, cy - s * 0.9, cx + s, cy + s * 0.9] if spec["head"] == "wide"
            else [cx - s * 0.9, cy - s, cx + s * 0.9, cy + s * 0.9])
    mask = Image.new("L", (size, size), 0)
    mdraw = ImageDraw.Draw(mask)
    behind = spec["place"] == "up"  # upright ears go behind the head, others over its sides
    ears = []
    if spec["ear"] != "none":
        for side in (-1, 1):
            if spec["place"] == "up":
                x, y = cx + side * s * 0.55, cy - s * 0.5
            elif spec["place"] == "hang":
                x, y = cx + side * s * 0.95, cy - s * 0.7
            else:
                x, y = cx + side * s * 0.85, cy - s * 0.35
            ears.append((x, y, side))
    if behind:
        for x, y, side in ears:
            _ear(draw, spec["ear"], x, y, s, side, spec["place"], ear_colour)
    mdraw.ellipse(head, fill=255)
    if spec["muzzle"]:
        mdraw.ellipse([cx - s * 0.5, cy + s * 0.2, cx + s * 0.5, cy + s * 1.2], fill=255)
    if spec["coat"] == "stripes":
        coat = animals._stripes(size, rng)
    else:
        coat = Image.new("RGB", (size, size), fur)
    img.paste(coat, (0, 0), mask)
    if not behind:
        for x, y, side in ears:
            _ear(draw, spec["ear"], x, y, s, side, spec["place"], ear_colour)
    eye = max(1.0, s * 0.12)
    for side in (-1, 1):
        ex, ey = cx + side * s * 0.4, cy - s * 0.15
        draw.ellipse([ex - eye, ey - eye, ex + eye, ey + eye], fill=(20, 20, 20))
    nose_y = cy + (s * 0.75 if spec["muzzle"] else s * 0.25)
    draw.ellipse([cx - eye, nose_y - eye, cx + eye, nose_y + eye], fill=(30, 20, 20))
    if rng.random() < 0.5:
        img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return animals._noise(img, rng)


def source_set(classes: list[dict], per_class: int, size: int, seed: int):
    """``(images uint8 (n, size, size, 3), labels int)``, deterministic for a given ``seed``."""
    rng = np.random.default_rng(seed)
    x = np.empty((len(classes) * per_class, size, size, 3), np.uint8)
    y = np.repeat(np.arange(len(classes)), per_class)
    for i, label in enumerate(y):
        x[i] = np.asarray(creature(classes[label], size, rng))
    order = rng.permutation(len(y))
    return x[order], y[order]


def factor_labels(classes: list[dict], y: np.ndarray) -> dict[str, np.ndarray]:
    """Each factor of each image's class as an integer label (factors that vary only)."""
    out = {}
    for name in classes[0]:
        values = sorted({str(c[name]) for c in classes})
        if len(values) > 1:
            index = np.array([values.index(str(c[name])) for c in classes])
            out[name] = index[y]
    return out


class StepBudget(keras.callbacks.Callback):
    """Stops ``fit`` after ``steps`` batches, so that a run does not depend on the machine's
    speed."""

    def __init__(self, steps: int):
        super().__init__()
        self.budget, self.steps = steps, 0

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        if self.steps >= self.budget:
            self.model.stop_training = True


# The notebooks' backbones as they build them (keras.applications defaults: MobileNets at width
# 1.0), each with its notebook's input scaling and quick-mode input size: VGG16 rescale=1/255
# (BLOG, 03 and 04 at 48 px), the MobileNets [-1, 1] (05 at 96 px, 07 at 128), EfficientNetB0 its
# own Rescaling and Normalization on 0-255 pixels (06 at 32 px).
BACKBONES = {
    "MobileNetV2": (1 / 127.5, -1.0, 96),
    "VGG16": (1 / 255, 0.0, 48),
    "MobileNet": (1 / 127.5, -1.0, 128),
    "EfficientNetB0": (1.0, 0.0, 32),
}


def backbone(name: str, size: int, seed: int, alpha: float | None = None) -> keras.Model:
    """``keras.applications.<name>`` without top and with random weights; ``alpha`` only for the
    MobileNets (``None``: Keras's default width, the notebooks' 1.0)."""
    keras.utils.set_random_seed(seed)
    kwargs = {"alpha": alpha} if alpha is not None else {}
    return getattr(keras.applications, name)(input_shape=(size, size, 3), include_top=False,
                                             weights=None, **kwargs)


def scaled(base: keras.Model, inputs):
    """The backbone's input scaling (``BACKBONES``), from 0-255 pixels."""
    scale, offset, _ = BACKBONES[base_name(base)]
    return keras.layers.Rescaling(scale, offset=offset)(inputs) if scale != 1.0 else inputs


def base_name(base: keras.Model) -> str:
    """The ``BACKBONES`` key of a model built by ``backbone``."""
    name = base.name.lower()
    for key in sorted(BACKBONES, key=len, reverse=True):
        if name.startswith(key.lower()):
            return key
    raise KeyError(f"not one of the probe's backbones: {base.name}")


def pretrain(base: keras.Model, x, y, n_classes: int, steps: int, batch: int, lr: float,
             bn_momentum: float | None = None, factors: dict | None = None):
    """Train ``base`` with a new softmax head for ``steps`` batches. ``bn_momentum`` replaces Keras'
    0.999 while pretraining, so that a few hundred steps move the stored statistics to the
    source's (with 0.999 they keep ``0.999 ** steps`` of their initial values)."""
    if bn_momentum:
        for layer in base.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.momentum = bn_momentum
    inputs = keras.Input(base.input_shape[1:])
    h = keras.layers.GlobalAveragePooling2D()(base(scaled(base, inputs)))
    outputs = {"classes": keras.layers.Dense(n_classes, activation="softmax", name="classes")(h)}
    targets = {"classes": y}
    for name, column in (factors or {}).items():  # one extra softmax head per factor
        outputs[name] = keras.layers.Dense(int(column.max()) + 1, activation="softmax",
                                           name=name)(h)
        targets[name] = column
    model = keras.Model(inputs, outputs)
    model.compile(keras.optimizers.Adam(lr),
                  {name: "sparse_categorical_crossentropy" for name in outputs},
                  metrics={"classes": ["accuracy"]})
    budget = StepBudget(steps)
    history = model.fit(x, targets, batch_size=batch, epochs=1000, callbacks=[budget],
                        verbose=0)
    key = next(k for k in history.history if k.endswith("accuracy"))
    if bn_momentum:
        for layer in base.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.momentum = 0.999
    return budget.steps, history.history[key][-1], len(history.history[key])


def target(folder: Path, split: str, size: int, limit: int | None, seed: int):
    batches, _ = pipelines.image_folder(folder / split, size, 64, label_mode="binary",
                                        seed=seed, limit=limit)
    xs, ys = zip(*((keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
                   for a, b in batches), strict=True)
    return np.concatenate(xs), np.concatenate(ys).ravel().astype(int)


def probe(base: keras.Model, splits: dict) -> list[tuple[int, int, float]]:
    """``(n train, n validation, accuracy)`` per target size."""
    inputs = keras.Input(base.input_shape[1:])
    pooled = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(
        base(scaled(base, inputs), training=False)))
    rows = []
    for (xt, yt), (xv, yv) in splits.values():
        ft, fv = (pooled.predict(a, batch_size=64, verbose=0) for a in (xt, xv))
        scaler = StandardScaler().fit(ft)
        clf = LogisticRegression(max_iter=5000).fit(scaler.transform(ft), yt)
        rows.append((len(yt), len(yv), float(clf.score(scaler.transform(fv), yv))))
    return rows


def cost(steps: int, batch: int, n_classes: int = 68) -> None:
    """Seconds to build each backbone (``BACKBONES``, at its quick size) with a softmax head,
    to run its first fit of 2 batches (tracing and graph optimisation) and ms per batch after:
    what a pretraining budget buys."""
    rng = np.random.default_rng(0)
    print(f"pretraining cost, batch {batch}, {n_classes} classes, Adam, {steps} steady steps")
    print(f"{'backbone':<15} {'px':>4} {'build s':>7} {'first fit s':>11} {'ms/step':>7}")
    for name, (_, _, size) in BACKBONES.items():
        t0 = time.perf_counter()
        base = backbone(name, size, seed=0)
        inputs = keras.Input((size, size, 3))
        h = keras.layers.GlobalAveragePooling2D()(base(scaled(base, inputs)))
        model = keras.Model(inputs, keras.layers.Dense(n_classes, activation="softmax")(h))
        model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
        x = rng.integers(0, 256, (batch * steps, size, size, 3), dtype=np.uint8)
        y = rng.integers(0, n_classes, batch * steps)
        built = time.perf_counter() - t0
        t1 = time.perf_counter()
        model.fit(x[:2 * batch], y[:2 * batch], batch_size=batch, verbose=0)
        first = time.perf_counter() - t1
        t2 = time.perf_counter()
        model.fit(x, y, batch_size=batch, verbose=0)
        per_step = (time.perf_counter() - t2) / steps
        print(f"{name:<15} {size:>4} {built:>7.1f} {first:>11.1f} {per_step * 1000:>7.0f}",
              flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=450, help="pretraining batches per seed")
    parser.add_argument("--per-class", type=int, default=120, help="source images per class")
    parser.add_argument("--backbone", choices=BACKBONES, default="MobileNetV2")
    parser.add_argument("--alpha", type=float, default=None,
                        help="the MobileNets' width (default: Keras's, the notebooks' 1.0)")
    parser.add_argument("--size", type=int, default=None,
                        help="input size (default: the backbone's quick-mode size)")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--bn-momentum", type=float, default=0.9,
                        help="BatchNormalization momentum while pretraining (0: keep Keras' "
                             "0.999)")
    parser.add_argument("--factor-heads", action="store_true",
                        help="also train one softmax head per factor (ear, placement, ...)")
    parser.add_argument("--coat", action="store_true", help="add the striped-coat factor")
    parser.add_argument("--control", action="store_true",
                        help="add rows: random weights with the source's BN statistics")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--cost", type=int, metavar="STEPS", default=0,
                        help="only time pretraining: every backbone at its quick size, STEPS "
                             "steady batches after the first fit, and stop")
    args = parser.parse_args()
    if args.cost:
        return cost(args.cost, args.batch)
    args.size = args.size or BACKBONES[args.backbone][2]
    start = time.perf_counter()
    classes = source_classes(args.coat)
    x, y = source_set(classes, args.per_class, args.size, seed=0)
    made = time.perf_counter() - start
    print(f"source: {len(classes)} classes x {args.per_class} = {len(y)} images at {args.size} "
          f"px, drawn in {made:.1f} s")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)  # the stand-in exactly as helpers.datasets.cats_vs_dogs builds it
        for i, split in enumerate(cats_vs_dogs.SPLITS):
            n = cats_vs_dogs.STANDIN_COUNTS[split]
            animals.write_split(folder / split, animals.cat_or_dog,
                                {"cats": ("cat", n), "dogs": ("dog", n)},
                                cats_vs_dogs.STANDIN_SIZE, i)
        splits = {name: tuple(target(folder, split, args.size, limits[split],
                                     runtime.DEFAULT_SEED) for split in cats_vs_dogs.SPLITS)
                  for name, limits in (("quick", QUICK),
                                       ("whole", {"train": None, "validation": None}))}
    rows = []
    inits = ("pretrained", "random init", *(("source BN only",) if args.control else ()))
    for init, seed in itertools.product(inits, args.seeds):
        t0 = time.perf_counter()
        base = backbone(args.backbone, args.size, seed, args.alpha)
        note = ""
        if init == "pretrained":
            steps, acc, epochs = pretrain(base, x, y, len(classes), args.steps, args.batch,
                                          args.lr, args.bn_momentum,
                                          factor_labels(classes, y) if args.factor_heads
                                          else None)
            note = f"{steps} steps, {epochs} epochs, source train accuracy {acc:.3f}"
        elif init == "source BN only":  # control: random weights, the source's BN statistics
            steps, _, _ = pretrain(base, x, y, len(classes), 60, args.batch, 0.0,
                                   args.bn_momentum)
            note = f"{steps} steps at learning rate 0: BN statistics only"
        for n_train, n_val, acc in probe(base, splits):
            rows.append((init, seed, acc, n_train, n_val, time.perf_counter() - t0, note))
        print(f"  done: {init} seed {seed} ({time.perf_counter() - t0:.0f} s) {note}", flush=True)
    width = f" alpha {args.alpha}" if args.alpha is not None else ""
    print(f"\n{args.backbone}{width} at {args.size} px, pretraining {args.steps} steps "
          f"per seed, {len(classes)} source classes x {args.per_class}, lr {args.lr}, "
          f"BN momentum {args.bn_momentum or 0.999}, batch {args.batch}"
          f"{', factor heads' if args.factor_heads else ''}; "
          "linear probe on standardised GAP features")
    print(f"{'backbone init':<13} {'seed':>4} {'probe acc':>9} {'95% Wilson':>15} "
          f"{'n train':>7} {'n val':>5} {'seconds':>7}  note")
    for init, seed, acc, n_train, n_val, seconds, note in rows:
        low, high = accuracy_interval(acc, n_val)
        print(f"{init:<13} {seed:>4} {acc:>9.3f} [{low:.3f}, {high:.3f}] {n_train:>7} "
              f"{n_val:>5} {seconds:>7.0f}  {note}")
    print(f"total time {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
