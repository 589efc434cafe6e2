"""Image folders with one subfolder per class: scan, skip what cannot be read, copy the rest.

Corrupt or non-image files are skipped and counted, never fatal; a wrong path or a class folder
with too few readable images is one clear error (the folder, the count found, the files skipped
and why, the minimum); nothing writes into a source data folder.
"""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

# What both tf.keras ImageDataGenerator and keras.utils.image_dataset_from_directory read.
IMAGE_SUFFIXES = frozenset({".bmp", ".gif", ".jpeg", ".jpg", ".png"})


class DatasetError(ValueError):
    """A folder that cannot serve as an image dataset; the message says what to fix."""


@dataclass
class FolderScan:
    """Readable images per class, and every skipped file with its reason."""

    root: Path
    images: dict[str, list[Path]]
    skipped: list[tuple[Path, str]] = field(default_factory=list)

    @property
    def classes(self) -> list[str]:
        return list(self.images)

    def counts(self) -> dict[str, int]:
        return {name: len(files) for name, files in self.images.items()}

    def skipped_counts(self, cls: str | None = None) -> dict[str, int]:
        """Reason -> number of files skipped (in class folder ``cls`` only, if given)."""
        inside = self.root / cls if cls else self.root
        return dict(Counter(why for path, why in self.skipped if path.is_relative_to(inside)))

    def summary(self) -> str:
        kept = ", ".join(f"{name} {n}" for name, n in self.counts().items())
        line = f"{self.root}: {kept} images"
        if self.skipped:
            line += f"; {skipped_text(self.skipped_counts())}"
        return line


def _breakdown(skipped: Mapping[str, int]) -> str:
    parts = sorted(skipped.items(), key=lambda item: (-item[1], item[0]))
    return ", ".join(f"{n} {why}" for why, n in parts)


def skipped_text(skipped: Mapping[str, int]) -> str:
    """``skipped 3 (2 truncated, 1 not an image)``: the total, then each reason, most first."""
    return f"skipped {sum(skipped.values())} ({_breakdown(skipped)})"


def too_few(
    folder: Path | str, found: int, skipped: Mapping[str, int], needed: int, purpose: str = ""
) -> DatasetError:
    """The error for a class folder with fewer than ``needed`` readable images: the folder,
    the count found, how many files were skipped as unreadable and why, and the minimum."""
    have = "no readable images" if not found else f"only {found} readable image" + "s" * (found > 1)
    total = sum(skipped.values())
    why = f"{total} skipped as unreadable: {_breakdown(skipped)}" if total else "none skipped"
    return DatasetError(
        f"class folder {folder} has {have} ({why}); at least {needed} needed{purpose}"
    )


def image_problem(path: Path) -> str | None:
    """Why ``path`` cannot be used as a training image, or ``None`` if it decodes fully."""
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        return "not an image"
    if path.stat().st_size == 0:
        return "empty"
    try:
        with Image.open(path) as img:
            img.verify()
        with Image.open(path) as img:  # verify() does not decode pixels; load() finds truncation
            img.load()
    except OSError as err:
        return "truncated" if "truncated" in str(err).lower() else "corrupt"
    except (ValueError, SyntaxError, Image.DecompressionBombError):
        return "corrupt"
    return None


def scan_image_folder(root: Path | str, classes: list[str] | None = None) -> FolderScan:
    """Scan ``root/<class>/*`` (hidden files ignored); ``classes`` picks subfolders, in order."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"no folder at {root}: expected one subfolder per class")
    if classes is None:
        classes = sorted(
            p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")
        )
    if not classes:
        raise DatasetError(f"{root} has no class subfolders: expected e.g. {root}/<class>/<image>")
    scan = FolderScan(root=root, images={})
    for name in classes:
        folder = root / name
        if not folder.is_dir():
            raise DatasetError(f"class folder {folder} does not exist")
        kept = []
        for path in sorted(folder.rglob("*")):
            if not path.is_file() or path.name.startswith("."):
                continue
            problem = image_problem(path)
            if problem:
                scan.skipped.append((path, problem))
            else:
                kept.append(path)
        if not kept:
            raise too_few(folder, 0, scan.skipped_counts(name), 1)
        scan.images[name] = kept
    return scan


def copy_valid(scan: FolderScan, dest: Path, names: dict[str, str] | None = None) -> None:
    """Copy the readable images of ``scan`` to ``dest/<class>/`` (``names`` renames classes)."""
    for cls, files in scan.images.items():
        target = dest / (names or {}).get(cls, cls)
        target.mkdir(parents=True, exist_ok=True)
        for path in files:
            out = target / path.relative_to(scan.root / cls)
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, out)
