"""Image folders with one subfolder per class: scan, skip what cannot be read, copy the rest.

Corrupt or non-image files are skipped and counted, never fatal; a wrong path or a class folder
with too few readable images is one clear error (the folder, the count found, the files skipped
and why, the minimum); nothing writes into a source data folder. ``to_8bit`` scales 16-bit and
float images to 8 bits (Pillow's ``convert`` clips them).
"""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, features

# What both tf.keras ImageDataGenerator and keras.utils.image_dataset_from_directory read.
IMAGE_SUFFIXES = frozenset({".bmp", ".gif", ".jpeg", ".jpg", ".png"})
# What the scan accepts: those, and what Pillow also decodes that cameras and microscopes write
# (TIFF; WebP where this Pillow has it). ``copy_valid`` writes these as PNG for Keras's readers.
READABLE_SUFFIXES = IMAGE_SUFFIXES | {".tif", ".tiff"} | (
    {".webp"} if features.check("webp") else set()
)
# The modes a PNG holds.
PNG_MODES = frozenset({"1", "L", "LA", "P", "RGB", "RGBA"})


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
    if path.suffix.lower() not in READABLE_SUFFIXES:
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


def _value_range(mode: str, values: np.ndarray) -> tuple[float, float]:
    """The values that become 0 and 255 (``to_8bit``)."""
    if mode.startswith("I;16"):
        return 0.0, 65535.0
    finite = values[np.isfinite(values)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    full = (0.0, 1.0) if mode == "F" else (0.0, 65535.0)
    return full if full[0] <= low and high <= full[1] else (low, high)


def to_8bit(img: Image.Image) -> Image.Image:
    """``img`` with 8 bits per channel, scaled, never clipped (Pillow's ``convert`` clips: a
    16-bit gradient comes out almost all white). Pillow's 8-bit modes are returned unchanged
    (it already reads 16-bit RGB as 8-bit RGB, keeping the high byte); one-channel images of
    the wider modes become ``L``:

    * ``I;16`` (16-bit grey): ``value * 255 / 65535``;
    * ``I`` (32-bit integers; older Pillow opens 16-bit PNGs so): the same when every value lies
      in 0..65535, else the image's own minimum..maximum is stretched to 0..255;
    * ``F`` (float): ``value * 255`` when every value lies in 0..1 (the usual convention for
      float images), else the image's own minimum..maximum is stretched to 0..255; NaN is 0.
    """
    if img.mode not in ("I", "F") and not img.mode.startswith("I;16"):
        return img
    values = np.asarray(img, dtype=np.float64)
    low, high = _value_range(img.mode, values)
    scaled = np.nan_to_num((values - low) * 255 / (high - low or 1.0), nan=0.0)
    return Image.fromarray(np.round(np.clip(scaled, 0, 255)).astype(np.uint8), "L")


def listing(paths: list[Path], root: Path, limit: int = 3) -> str:
    """``a/, b.png and 4 more``: the first ``limit`` of ``paths``, relative to ``root``."""
    shown = [p.relative_to(root).as_posix() + "/" * p.is_dir() for p in paths[:limit]]
    more = f" and {len(paths) - limit} more" if len(paths) > limit else ""
    return ", ".join(shown) + more


def unread_entries(folder: Path, expected: tuple[str, ...]) -> list[Path]:
    """What a scan of ``folder`` for the subfolders ``expected`` would pass over without a word:
    other subfolders and images lying directly in ``folder`` (hidden ones aside)."""
    return sorted(
        p for p in folder.iterdir()
        if not p.name.startswith(".") and p.name not in expected
        and (p.is_dir() or p.suffix.lower() in READABLE_SUFFIXES)
    )


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
            here = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
            holds = f"holds {listing(here, root, 8)}" if here else "has no subfolders"
            raise DatasetError(f"class folder {folder} does not exist ({root} {holds}); expected "
                               f"one subfolder per class: {', '.join(c + '/' for c in classes)}")
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


def _copy_image(path: Path, out: Path) -> None:
    """Copy ``path`` to ``out``; one that Keras's folder readers would skip (TIFF, WebP) or
    misread (16-bit, float) is written as an 8-bit PNG instead (``.png`` added to its name
    unless it has it)."""
    with Image.open(path) as img:
        converted = to_8bit(img)
        if path.suffix.lower() in IMAGE_SUFFIXES and converted is img:
            shutil.copy2(path, out)
            return
        if converted.mode not in PNG_MODES:
            converted = converted.convert("RGB")
        converted.save(out if out.suffix.lower() == ".png" else out.with_name(out.name + ".png"))


def copy_valid(scan: FolderScan, dest: Path, names: dict[str, str] | None = None) -> None:
    """Copy the readable images of ``scan`` to ``dest/<class>/`` (``names`` renames classes)."""
    for cls, files in scan.images.items():
        target = dest / (names or {}).get(cls, cls)
        target.mkdir(parents=True, exist_ok=True)
        for path in files:
            out = target / path.relative_to(scan.root / cls)
            out.parent.mkdir(parents=True, exist_ok=True)
            _copy_image(path, out)
