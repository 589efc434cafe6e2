"""Motor cores, defect vs ok (MOTOR §6.1): the synthetic cores of ``helpers.synth.motor``.

MOTOR's photographs are proprietary, so the generator *is* the dataset, in both modes (it needs
no download, so ``prepare`` always builds it; its kind is ``synthetic``). Two entries, whose
``Prepared.info`` holds the generator's settings (``size``, ``n_defect``, ``n_ok`` and the
defect ``scale``) and whose ``Prepared.load(size=...)`` returns ``MotorImages``:

* ``motor_cores``: MOTOR's numbers, 300 defect + 800 ok images at 640x640, 76/24 split;
* ``motor_cores_small``: the same generator at 64x64, 150 + 150 images, defects drawn 2.5x
  larger (visible at that size), for quick runs.

Layout of a prepared root (see ``helpers.synth.motor``)::

    train/{defect,ok}/*.png   validation/{defect,ok}/*.png
    masks/{train,validation}/defect/*.png        defects.csv (split, file, kind, core)

``load_images(root, size)`` reads that layout, a student's own folder (``defect/`` and ``ok/``,
optionally under ``train/`` and ``validation/``; masks in ``masks/`` mirroring the images if
any) and DAGM 2007 (``ClassN/{Train,Test}/*.PNG`` with ``Label/*_label.PNG`` masks: an image
with a label mask is a defect) through the same call. Unreadable images are skipped and counted;
a class with too few readable images to split, or a folder in none of these layouts, is one clear
error. What a student's folder holds beside the layout (a ``scratch/`` folder, loose images) and
images upscaled more than ``MAX_UPSCALE`` times are each named in one line on stderr. 16-bit and
float images are scaled to 8 bits (``helpers.datasets.folder.to_8bit``).
"""

from __future__ import annotations

import csv
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from helpers.datasets import (
    Dataset,
    DatasetError,
    FolderScan,
    Manifest,
    register,
    scan_image_folder,
)
from helpers.datasets.folder import (
    image_problem,
    listing,
    skipped_text,
    to_8bit,
    too_few,
    unread_entries,
)
from helpers.synth import motor

CLASSES = ("defect", "ok")  # class index 0 = defect, 1 = ok (alphabetical, as Keras orders)
SPLITS = motor.SPLITS
# Quick runs use small images, so their defects are drawn 2.5x larger (visible at 64 px), and
# balanced classes (chance 50%); the full set follows MOTOR exactly.
SMALL = {"size": 64, "n_defect": 150, "n_ok": 150, "scale": 2.5}
FULL = {"size": 640, "n_defect": 300, "n_ok": 800, "scale": 1.0}
MASKS = "masks"
# An image upscaled more than this many times to the size asked for is named (an icon, a crop).
MAX_UPSCALE = 4
LAYOUTS = ("defect/ and ok/ (split automatically), train/ and validation/ each holding defect/ "
           "and ok/, or DAGM 2007's ClassN/Train and ClassN/Test")


@dataclass
class MotorImages:
    """Images (n, size, size, 3) uint8, labels (0 defect, 1 ok), masks (n, size, size) bool
    (all False where none is known) and the defect kind per image (``"ok"`` for good ones)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    masks_val: np.ndarray
    kinds_val: list[str]
    masks_train: np.ndarray
    kinds_train: list[str]
    skipped: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        def count(y: np.ndarray) -> str:
            return ", ".join(f"{c} {int((y == i).sum())}" for i, c in enumerate(CLASSES))

        line = f"train: {count(self.y_train)}; validation: {count(self.y_val)}"
        if self.skipped:
            line += f"; {skipped_text(self.skipped)}"
        return line


def _build(params: dict[str, float]) -> Callable[[Path, int], Manifest]:
    def build(out: Path, seed: int = 0) -> Manifest:
        motor.write_dataset(out, seed=seed, **params)
        return Manifest.of_folders(out, SPLITS, list(CLASSES), info=params)

    return build


def _load(root: Path, size: int | None = None, **kwargs: Any) -> MotorImages:
    """``MotorImages`` at ``size`` x ``size`` (default: the size the set was drawn at)."""
    return load_images(root, size or int(Manifest.read(root).info["size"]), **kwargs)


def _synthetic(name: str, params: dict[str, float]) -> Dataset:
    larger = f", defects {params['scale']:g}x larger" if params["scale"] != 1 else ""
    label = (f"synthetic motor cores (helpers.synth.motor, {params['size']}x{params['size']}, "
             f"{params['n_defect']} defect + {params['n_ok']} ok{larger})")
    build = _build(params)
    return Dataset(
        name=name,
        title=f"Motor cores, defect vs ok ({params['size']}x{params['size']}, synthetic)",
        document="MOTOR",
        remotes=(),
        build_real=lambda files, out: build(out),
        build_standin=build,
        load=_load,
        real_label=label,
        standin_label=label,
        synthetic=True,
    )


register(_synthetic("motor_cores", FULL))
register(_synthetic("motor_cores_small", SMALL))


def _read(path: Path, size: int, mode: str = "L") -> np.ndarray:
    with Image.open(path) as img:
        img = to_8bit(img).convert(mode)
        if img.size != (size, size):
            img = img.resize((size, size), Image.Resampling.BILINEAR)
        return np.asarray(img)


def _kinds_csv(root: Path) -> dict[str, str]:
    path = root / "defects.csv"
    if not path.exists():
        return {}
    with open(path, newline="") as fh:
        return {row["file"]: row["kind"] for row in csv.DictReader(fh)}


def _samples_folder(root: Path, split: Path) -> tuple[list[tuple], FolderScan]:
    """(image path, label, mask path or None, kind) for ``split/{defect,ok}``, and the scan."""
    scan = scan_image_folder(split, list(CLASSES))
    kinds = _kinds_csv(root)
    samples = []
    for label, cls in enumerate(CLASSES):
        for path in scan.images[cls]:
            rel = path.relative_to(root).as_posix()
            mask = root / "masks" / rel
            kind = kinds.get(rel, "defect") if cls == "defect" else "ok"
            samples.append((path, label, mask if mask.exists() else None, kind))
    return samples, scan


def _samples_dagm(folder: Path, kind: str) -> tuple[list[tuple], dict[str, int]]:
    samples, skipped = [], {}
    for path in sorted(folder.glob("*")):
        if not path.is_file() or path.name.startswith("."):
            continue
        problem = image_problem(path)
        if problem:
            skipped[problem] = skipped.get(problem, 0) + 1
            continue
        mask = folder / "Label" / f"{path.stem}_label{path.suffix}"
        if not mask.exists():
            mask = next(iter(sorted((folder / "Label").glob(f"{path.stem}_label.*"))), None)
        samples.append((path, 0 if mask else 1, mask, kind if mask else "ok"))
    return samples, skipped


def min_per_class(share: float) -> int:
    """The fewest images per class for a stratified split with ``share`` for validation: each
    class gives at least one image to each side."""
    return max(2, math.ceil(1 / share), math.ceil(1 / (1 - share)))


def _split_off(
    samples: list[tuple], scan: FolderScan, share: float, seed: int
) -> tuple[list[tuple], list[tuple]]:
    """A stratified ``share`` of ``samples`` for validation (for a folder with no split)."""
    from sklearn.model_selection import train_test_split

    if not 0 < share < 1:
        raise ValueError(f"validation_share must be between 0 and 1, not {share}")
    needed = min_per_class(share)
    for cls, files in scan.images.items():
        if len(files) < needed:
            raise too_few(scan.root / cls, len(files), scan.skipped_counts(cls), needed,
                          f" to hold out {share:.0%} of them for validation")
    labels = [s[1] for s in samples]
    train, val = train_test_split(samples, test_size=share, stratify=labels, random_state=seed)
    return train, val


def _arrays(samples: list[tuple], size: int) -> tuple:
    x = np.stack([_read(p, size, "RGB") for p, *_ in samples]) if samples else np.zeros(
        (0, size, size, 3), np.uint8)
    y = np.array([s[1] for s in samples], dtype=np.int64)
    masks = np.zeros((len(samples), size, size), dtype=bool)
    for i, (_, _, mask, _) in enumerate(samples):
        if mask is not None:
            masks[i] = _read(mask, size) > 127
    return x, y, masks, [s[3] for s in samples]


def _and(names: list[str], word: str = "and") -> str:
    """``a/, b/ and c/`` (or ``word`` instead of and)."""
    folders = [f"{n}/" for n in names]
    return f" {word} ".join(filter(None, [", ".join(folders[:-1]), folders[-1]]))


def _layout(root: Path) -> str:
    """Which layout ``root`` holds, ``"dagm"``, ``"split"`` or ``"classes"`` (module
    docstring); a ``DatasetError`` saying what is missing where it holds none."""
    if not root.is_dir():
        raise DatasetError(f"no folder at {root}: expected {LAYOUTS}")
    if any((p / "Train").is_dir() for p in root.glob("Class*")):
        return "dagm"
    found = [n for n in (*SPLITS, *CLASSES) if (root / n).is_dir()]
    if set(SPLITS) <= set(found):
        return "split"
    if set(CLASSES) <= set(found):
        return "classes"
    if found:
        group = SPLITS if set(SPLITS) & set(found) else CLASSES
        have = f"has {_and(found)} but no {_and([n for n in group if n not in found], 'or')}"
    else:
        here = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
        holds = f"it holds {listing(here, root, 5)}" if here else "it has no subfolders"
        have = f"has no {_and([*CLASSES, *SPLITS], 'or')} folder ({holds})"
    raise DatasetError(f"{root} {have}: expected {LAYOUTS}")


def _unread_note(root: Path, layout: str) -> str | None:
    """One line naming what a student's folder holds beside its layout, if anything."""
    if layout == "dagm":
        return None
    if layout == "classes":
        unread, read = unread_entries(root, (*CLASSES, MASKS)), _and([*CLASSES, MASKS])
    else:
        unread = unread_entries(root, (*SPLITS, MASKS))
        unread += [p for split in SPLITS for p in unread_entries(root / split, CLASSES)]
        read = f"{_and(list(SPLITS))} (each with {_and(list(CLASSES))}) and {MASKS}/"
    if not unread:
        return None
    return (f"ignored {listing(unread, root)} in {root}: only {read} are read; move images "
            "into a class folder to use them, or out of this folder to silence this")


def _small_note(samples: list[tuple], size: int) -> str | None:
    """One line on the images upscaled more than ``MAX_UPSCALE`` times to ``size``, if any."""
    small = []
    for path, *_ in samples:
        with Image.open(path) as img:
            if min(img.size) * MAX_UPSCALE < size:
                small.append((path, img.size))
    if not small:
        return None
    path, (width, height) = small[0]
    verb = "is" if len(small) == 1 else "are"
    return (f"{len(small)} of {len(samples)} images {verb} under {size / MAX_UPSCALE:g} px on a "
            f"side, upscaled more than {MAX_UPSCALE}x to {size}x{size}, e.g. {path} "
            f"({width}x{height}): check that they are the images you meant, or remove them")


def load_images(
    root: Path | str,
    size: int,
    validation_share: float = motor.VALIDATION_SHARE,
    seed: int = 0,
) -> MotorImages:
    """Images resized to ``size`` x ``size`` from any of the three layouts (module docstring).

    A folder without a train/validation split (a student's own ``defect/``, ``ok/``) is split
    stratified with ``validation_share``; DAGM 2007 uses its own Train/Test folders, every
    ``ClassN`` together (the kind of a defect is its class name). What the folder holds beside
    its layout, and images much smaller than ``size``, are named on stderr (one line each).
    """
    root = Path(root)
    layout = _layout(root)
    skipped: dict[str, int] = {}

    def add(counts: dict[str, int]) -> None:
        for reason, n in counts.items():
            skipped[reason] = skipped.get(reason, 0) + n

    if layout == "dagm":
        train, val = [], []
        for cls in sorted(p for p in root.glob("Class*") if (p / "Train").is_dir()):
            for part, into in (("Train", train), ("Test", val)):
                found, why = _samples_dagm(cls / part, cls.name)
                into.extend(found)
                add(why)
    elif layout == "split":
        train, scan = _samples_folder(root, root / SPLITS[0])
        add(scan.skipped_counts())
        val, scan = _samples_folder(root, root / SPLITS[1])
        add(scan.skipped_counts())
    else:
        samples, scan = _samples_folder(root, root)
        add(scan.skipped_counts())
        train, val = _split_off(samples, scan, validation_share, seed)
    for note in (_unread_note(root, layout), _small_note(train + val, size)):
        if note:
            print(note, file=sys.stderr)
    x_train, y_train, masks_train, kinds_train = _arrays(train, size)
    x_val, y_val, masks_val, kinds_val = _arrays(val, size)
    return MotorImages(x_train, y_train, x_val, y_val, masks_val, kinds_val, masks_train,
                       kinds_train, skipped)
