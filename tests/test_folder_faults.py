"""Issue 23 (A): a student's own image folders. 16-bit and float images are scaled, not clipped;
TIFF and WebP are images; what the loader passes over, and images it upscales a lot, are named in
one line each; a folder in the wrong layout is one line saying what is missing and what is
expected."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers.datasets import DatasetError, motor_cores
from helpers.datasets.folder import (
    IMAGE_SUFFIXES,
    READABLE_SUFFIXES,
    copy_valid,
    image_problem,
    scan_image_folder,
    to_8bit,
)

SIZE = 32
GRADIENT = np.linspace(0, 65535, SIZE * SIZE).reshape(SIZE, SIZE)  # 0..65535, mean 32767.5


def _grey(path: Path, value: int = 100, size: int = SIZE) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((size, size), value, np.uint8)).save(path)
    return path


def _png16_rgb(path: Path, rgb: np.ndarray) -> Path:
    """A 16-bit RGB PNG, written chunk by chunk: Pillow has no 16-bit RGB mode to save from."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    height, width, _ = rgb.shape
    rows = b"".join(b"\0" + row.astype(">u2").tobytes() for row in rgb)  # filter 0 per row
    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)  # 16 bits, colour type RGB
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                     + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
    return path


# (file name, writer, expected 8-bit grey values, Pillow's mode when read back)
WIDE = {
    "I;16 PNG": ("g.png", lambda p: Image.fromarray(GRADIENT.astype(np.uint16)).save(p),
                 GRADIENT * 255 / 65535, "I;16"),
    "I;16B TIFF": ("g.tif", lambda p: Image.fromarray(GRADIENT.astype(">u2")).save(p),
                   GRADIENT * 255 / 65535, "I;16B"),
    "I TIFF": ("g.tiff", lambda p: Image.fromarray(GRADIENT.astype(np.int32)).save(p),
               GRADIENT * 255 / 65535, "I"),
    "F in 0..1": ("g.tif", lambda p: Image.fromarray((GRADIENT / 65535).astype(np.float32)).save(p),
                  GRADIENT * 255 / 65535, "F"),
    "F in -1..3": ("g.tif",
                   lambda p: Image.fromarray((GRADIENT / 65535 * 4 - 1).astype(np.float32)).save(p),
                   GRADIENT * 255 / 65535, "F"),  # its own range, stretched to 0..255
    "16-bit RGB PNG": ("g.png",
                       lambda p: _png16_rgb(p, np.repeat(GRADIENT[..., None], 3, -1).astype(int)),
                       GRADIENT * 255 / 65535, "RGB"),
}


def _split_folder(root: Path, name: str, write: Callable[[Path], object]) -> Path:
    """train/ and validation/ with defect/ and ok/; train/defect/<name> is the image under test."""
    (root / "train" / "defect").mkdir(parents=True)
    write(root / "train" / "defect" / name)
    for split, cls in (("train", "ok"), ("validation", "defect"), ("validation", "ok")):
        _grey(root / split / cls / "plain.png")
    return root / "train" / "defect" / name


@pytest.mark.parametrize("case", list(WIDE))
def test_16_bit_and_float_images_are_scaled_not_clipped(tmp_path, case, capsys) -> None:
    name, write, expected, mode = WIDE[case]
    path = _split_folder(tmp_path / "mine", name, write)
    with Image.open(path) as img:
        assert img.mode == mode
    data = motor_cores.load_images(tmp_path / "mine", SIZE)
    grey = data.x_train[0].astype(float)  # train/defect's image comes first
    assert np.abs(grey - expected[..., None]).max() <= 1  # * 255 / 65535, rounded (or high byte)
    assert grey.mean() == pytest.approx(127.5, abs=1) and (grey == 255).mean() < 0.01
    assert capsys.readouterr().err == ""  # a clean folder: nothing to say


def test_to_8bit_stretches_integers_beyond_16_bits_and_keeps_8_bit_images() -> None:
    wide = Image.fromarray(np.array([[-1000, 0], [50000, 99000]], np.int32))
    assert np.asarray(to_8bit(wide)).tolist() == [[0, 3], [130, 255]]  # (v + 1000) * 255 / 1e5
    rgb = Image.fromarray(np.zeros((2, 2, 3), np.uint8))
    assert to_8bit(rgb) is rgb
    nan = Image.fromarray(np.array([[np.nan, 0.0], [0.5, 1.0]], np.float32))
    assert np.asarray(to_8bit(nan)).tolist() == [[0, 0], [128, 255]]


def test_tiff_webp_and_bmp_are_images_and_copied_so_keras_reads_them(tmp_path) -> None:
    root = tmp_path / "photos"
    pixels = np.full((8, 8, 3), 90, np.uint8)
    for suffix in (".tif", ".tiff", ".webp", ".bmp", ".TIF"):
        (root / "a").mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(root / "a" / f"x{suffix}", lossless=True)
        assert image_problem(root / "a" / f"x{suffix}") is None
    Image.fromarray(GRADIENT.astype(np.uint16)).save(root / "a" / "deep.png")
    scan = scan_image_folder(root)
    assert scan.counts() == {"a": 6} and not scan.skipped
    assert {".tif", ".tiff", ".webp", ".bmp"} <= READABLE_SUFFIXES
    copy_valid(scan, tmp_path / "clean")
    copied = sorted(p.name for p in (tmp_path / "clean" / "a").iterdir())
    assert copied == ["deep.png", "x.TIF.png", "x.bmp", "x.tif.png", "x.tiff.png", "x.webp.png"]
    for name in copied:
        assert Path(name).suffix.lower() in IMAGE_SUFFIXES
        with Image.open(tmp_path / "clean" / "a" / name) as img:
            assert img.mode in ("L", "RGB")
            mean = np.asarray(img).mean()
        assert mean == pytest.approx(127.5 if name == "deep.png" else 90, abs=1)


def test_a_class_folder_beside_the_expected_ones_is_named_in_one_line(tmp_path, capsys) -> None:
    root = tmp_path / "mine"
    for i in range(5):
        _grey(root / "defect" / f"d{i}.png", 200)
        _grey(root / "ok" / f"o{i}.png", 50)
    _grey(root / "scratch" / "s0.png")
    _grey(root / "loose.png")
    _grey(root / "masks" / "defect" / "d0.png", 255)
    data = motor_cores.load_images(root, SIZE, validation_share=0.4)
    assert len(data.y_train) + len(data.y_val) == 10  # scratch/ and loose.png are not read
    err = capsys.readouterr().err
    assert err == (
        f"ignored loose.png, scratch/ in {root}: only defect/, ok/ and masks/ are read; move "
        "images into a class folder to use them, or out of this folder to silence this\n"
    )


def test_a_folder_beside_a_split_is_named(tmp_path, capsys) -> None:
    root = tmp_path / "mine"
    for split in ("train", "validation"):
        for cls in ("defect", "ok", "scratch"):
            _grey(root / split / cls / "x.png")
    motor_cores.load_images(root, SIZE)
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "ignored train/scratch/, validation/scratch/ in" in err[0]


def test_suspiciously_small_images_are_summarised_in_one_line(tmp_path, capsys) -> None:
    root = tmp_path / "mine"
    for i in range(5):
        _grey(root / "defect" / f"d{i}.png", 200)
        _grey(root / "ok" / f"o{i}.png", 50)
    _grey(root / "defect" / "d0.png", 200, size=5)
    _grey(root / "ok" / "o3.png", 50, size=7)
    data = motor_cores.load_images(root, SIZE, validation_share=0.4)
    assert data.x_train.shape[1:] == (SIZE, SIZE, 3)  # still used, upscaled
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(
        f"2 of 10 images are under 8 px on a side, upscaled more than 4x to {SIZE}x{SIZE}, e.g. "
    )
    assert str(root / "defect" / "d0.png") in err and "(5x5)" in err


def test_a_folder_with_only_train_says_what_is_missing_and_what_is_expected(tmp_path) -> None:
    root = tmp_path / "mine"
    _grey(root / "train" / "defect" / "d0.png")
    _grey(root / "train" / "ok" / "o0.png")
    with pytest.raises(DatasetError) as err:
        motor_cores.load_images(root, SIZE)
    assert str(err.value) == (
        f"{root} has train/ but no validation/: expected defect/ and ok/ (split automatically), "
        "train/ and validation/ each holding defect/ and ok/, or DAGM 2007's ClassN/Train and "
        "ClassN/Test"
    )


@pytest.mark.parametrize("folders, says", [
    (["defect"], "has defect/ but no ok/: expected defect/ and ok/"),
    (["cats", "dogs"], "has no defect/, ok/, train/ or validation/ folder (it holds cats/, dogs/)"),
])
def test_a_folder_in_no_known_layout_is_one_line(tmp_path, folders, says) -> None:
    for name in folders:
        _grey(tmp_path / "mine" / name / "x.png")
    with pytest.raises(DatasetError) as err:
        motor_cores.load_images(tmp_path / "mine", SIZE)
    assert says in str(err.value) and "\n" not in str(err.value)


def test_a_missing_class_folder_in_a_split_says_what_is_there(tmp_path) -> None:
    root = tmp_path / "mine"
    for split in ("train", "validation"):
        _grey(root / split / "ok" / "x.png")
    _grey(root / "validation" / "defect" / "x.png")
    _grey(root / "train" / "defects" / "x.png")
    with pytest.raises(DatasetError) as err:
        motor_cores.load_images(root, SIZE)
    assert str(err.value) == (
        f"class folder {root / 'train' / 'defect'} does not exist ({root / 'train'} holds "
        "defects/, ok/); expected one subfolder per class: defect/, ok/"
    )
