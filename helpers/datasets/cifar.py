"""CIFAR-10 and CIFAR-100 (CIFAR, "データセット"): 32x32 colour images, 50,000 train / 10,000 test.

Real: the python-pickle archives ``keras.datasets.cifar10`` / ``cifar100`` download (same URL and
SHA-256 as Keras 3.15's ``keras/src/datasets/cifar10.py`` and ``cifar100.py``; Keras names no
other mirror), extracted and converted to one ``.npz`` of arrays; the class names come from the
archive's ``meta`` file (``Prepared.class_names``). The batches are unpickled allowing plain data
only (NumPy arrays, dtypes and scalars, lists, dicts, strings, numbers); anything else is
refused. Stand-in: ``helpers.synth.cifar`` images with the same shapes, dtypes, class count and
class names, written to the same ``.npz`` layout.
"""

from __future__ import annotations

import pickle
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import BinaryIO

import numpy as np

from helpers.datasets import UNPACKED, Dataset, DatasetError, Manifest, Remote, register
from helpers.datasets.unpack import extract
from helpers.synth.cifar import cifar_like

_KRIZ = "https://www.cs.toronto.edu/~kriz/"

CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)  # fmt: skip
CIFAR100_CLASSES = tuple(
    """apple aquarium_fish baby bear beaver bed bee beetle bicycle bottle bowl boy bridge bus
    butterfly camel can castle caterpillar cattle chair chimpanzee clock cloud cockroach couch
    crab crocodile cup dinosaur dolphin elephant flatfish forest fox girl hamster house kangaroo
    keyboard lamp lawn_mower leopard lion lizard lobster man maple_tree motorcycle mountain mouse
    mushroom oak_tree orange orchid otter palm_tree pear pickup_truck pine_tree plain plate poppy
    porcupine possum rabbit raccoon ray road rocket rose sea seal shark shrew skunk skyscraper
    snail snake spider squirrel streetcar sunflower sweet_pepper table tank telephone television
    tiger tractor train trout tulip turtle wardrobe whale willow_tree wolf woman worm""".split()
)

# Stand-in sizes per class (train, test): a fraction of CIFAR's 5,000/1,000 and 500/100.
STANDIN_PER_CLASS = {"cifar10": (500, 100), "cifar100": (60, 20)}


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles only plain data: NumPy arrays, dtypes and scalars (e.g. labels saved as
    ``np.int64``), besides the lists, dicts, strings and numbers pickle builds without help."""

    ALLOWED = {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        *((core, name) for core in ("numpy.core.multiarray", "numpy._core.multiarray")
          for name in ("_reconstruct", "scalar")),
        ("numpy.core.numeric", "_frombuffer"),  # protocol 5
        ("numpy._core.numeric", "_frombuffer"),
        ("_codecs", "encode"),  # bytes in protocol 2 pickles written by Python 3
    }

    def __init__(self, fh: BinaryIO, member: str) -> None:
        super().__init__(fh, encoding="bytes")
        self.member = member

    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(
                f"{self.member} refers to {module}.{name}, which is not plain data; refused"
            )
        return super().find_class(module, name)


def _unpickle(path: Path, keys: tuple[str, ...]) -> dict[str, object]:
    """The dict pickled at ``path``, with str keys; it must hold ``keys``."""
    with open(path, "rb") as fh:
        raw = _ArrayUnpickler(fh, path.name).load()
    if not isinstance(raw, dict):
        raise DatasetError(f"{path.name} holds a {type(raw).__name__}, not a CIFAR batch dict")
    d = {(k.decode() if isinstance(k, bytes) else k): v for k, v in raw.items()}
    missing = [k for k in keys if k not in d]
    if missing:
        raise DatasetError(
            f"{path.name} has no {', '.join(missing)}: is it the CIFAR python version?"
        )
    return d


def _batch(path: Path, label_key: str) -> tuple[np.ndarray, np.ndarray]:
    """One pickled batch as keras.datasets gives it: NHWC uint8 images, ``(N, 1)`` labels."""
    d = _unpickle(path, ("data", label_key))
    data = np.asarray(d["data"], dtype=np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    labels = np.asarray(d[label_key], dtype=np.uint8).reshape(-1, 1)
    if len(labels) != len(data):
        raise DatasetError(f"{path.name} has {len(data)} images but {len(labels)} labels")
    return data, labels


def _names(meta: Path, key: str) -> list[str]:
    return [n.decode() if isinstance(n, bytes) else str(n) for n in _unpickle(meta, (key,))[key]]


def _member_folder(root: Path, name: str) -> Path:
    found = [p for p in root.rglob(name) if p.is_dir()]
    if not found:
        raise DatasetError(f"the archive has no folder {name!r}; is it the CIFAR python version?")
    return found[0]


def _save(out: Path, name: str, train: tuple, test: tuple, class_names: Sequence[str]) -> Manifest:
    np.savez_compressed(
        out / f"{name}.npz",
        x_train=train[0], y_train=train[1], x_test=test[0], y_test=test[1],
    )  # fmt: skip
    return Manifest.of_labels(class_names, {"train": train[1], "test": test[1]})


def _member(folder: Path, name: str) -> Path:
    path = folder / name
    if not path.is_file():
        raise DatasetError(f"the archive has no {folder.name}/{name}")
    return path


def _real10(files: list[Path], out: Path) -> Manifest:
    tmp = extract(files[0], out / UNPACKED)
    folder = _member_folder(tmp, "cifar-10-batches-py")
    parts = [_batch(_member(folder, f"data_batch_{i}"), "labels") for i in range(1, 6)]
    train = (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))
    test = _batch(_member(folder, "test_batch"), "labels")
    names = _names(_member(folder, "batches.meta"), "label_names")
    shutil.rmtree(tmp)
    return _save(out, "cifar10", train, test, names)


def _real100(files: list[Path], out: Path) -> Manifest:
    tmp = extract(files[0], out / UNPACKED)
    folder = _member_folder(tmp, "cifar-100-python")
    train = _batch(_member(folder, "train"), "fine_labels")
    test = _batch(_member(folder, "test"), "fine_labels")
    names = _names(_member(folder, "meta"), "fine_label_names")
    shutil.rmtree(tmp)
    return _save(out, "cifar100", train, test, names)


def _standin(name: str, class_names: tuple[str, ...]) -> Callable[[Path, int], Manifest]:
    def build(out: Path, seed: int) -> Manifest:
        n_train, n_test = STANDIN_PER_CLASS[name]
        train = cifar_like(n_train, len(class_names), seed)
        test = cifar_like(n_test, len(class_names), seed + 1)
        return _save(out, name, train, test, class_names)

    return build


def _loader(name: str) -> Callable[[Path], tuple]:
    def load(root: Path) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
        """``(x_train, y_train), (x_test, y_test)`` as ``keras.datasets.<name>.load_data()``."""
        with np.load(root / f"{name}.npz", allow_pickle=False) as f:
            return (f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])

    return load


for _name, _title, _classes, _remote, _build in (
    (
        "cifar10",
        "CIFAR-10 (10 classes)",
        CIFAR10_CLASSES,
        Remote(
            "cifar-10-python.tar.gz",
            (_KRIZ + "cifar-10-python.tar.gz",),
            "sha256:6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
        ),
        _real10,
    ),
    (
        "cifar100",
        "CIFAR-100 (100 fine classes)",
        CIFAR100_CLASSES,
        Remote(
            "cifar-100-python.tar.gz",
            (_KRIZ + "cifar-100-python.tar.gz",),
            "sha256:85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7",
        ),
        _real100,
    ),
):
    register(
        Dataset(
            name=_name,
            title=_title,
            document="CIFAR",
            remotes=(_remote,),
            build_real=_build,
            build_standin=_standin(_name, _classes),
            load=_loader(_name),
            quick_download=False,  # about 160 MB each
            standin_label="stand-in (synthetic 32x32 colour patterns, one per class)",
        )
    )
