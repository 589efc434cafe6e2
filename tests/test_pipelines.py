"""helpers.pipelines and %%tensorflow_only: the same batches and cells on either backend."""

from __future__ import annotations

import os
import subprocess
import sys

import keras
import numpy as np
from PIL import Image

from helpers import pipelines


def _folder(root, per_class=5):
    for label, name in enumerate(("cats", "dogs")):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = np.full((20, 30, 3), 40 + 150 * label, np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i}.png")
    (root / "cats" / "notes.txt").write_text("not an image")
    return root


def test_image_folder_gives_resized_labelled_batches(tmp_path) -> None:
    batches, names = pipelines.image_folder(_folder(tmp_path / "f"), 16, batch_size=4,
                                            shuffle=True, seed=1)
    assert names == ["cats", "dogs"]
    xs, ys = zip(*[(np.asarray(x), np.asarray(y)) for x, y in batches], strict=True)
    x, y = np.concatenate(xs), np.concatenate(ys)
    assert x.shape == (10, 16, 16, 3) and y.shape == (10, 1) and x.dtype == np.float32
    np.testing.assert_array_equal(np.sort(y[:, 0]), [0] * 5 + [1] * 5)
    # the label matches the image: cats are dark, dogs bright
    np.testing.assert_array_equal(x.mean(axis=(1, 2, 3)) > 100, y[:, 0] == 1)


def test_image_folder_limit_and_int_labels(tmp_path) -> None:
    batches, _ = pipelines.image_folder(_folder(tmp_path / "f"), 8, batch_size=3, limit=4,
                                        label_mode="int")
    ys = np.concatenate([np.asarray(y) for _, y in batches])
    assert ys.shape == (4,) and set(ys) <= {0, 1}


def test_batches_transform_and_reshuffle(tmp_path) -> None:
    x = np.arange(10, dtype=np.uint8)[:, None, None, None] * np.ones((1, 4, 4, 3), np.uint8)
    y = np.arange(10)
    data = pipelines.batches(x, y, 4, shuffle=True, seed=0,
                             transform=lambda b: keras.ops.image.resize(b, (2, 2)) / 255.0)
    epochs = []
    for _ in range(2):
        epochs.append([(np.asarray(a), np.asarray(b)) for a, b in data])
        getattr(data, "on_epoch_end", lambda: None)()  # what fit calls after each epoch
    for epoch in epochs:
        images = np.concatenate([a for a, _ in epoch])
        labels = np.concatenate([b for _, b in epoch])
        assert images.shape == (10, 2, 2, 3)
        np.testing.assert_allclose(images[:, 0, 0, 0], labels / 255.0, atol=1e-6)
        assert sorted(labels) == list(range(10))
    assert [b for _, b in epochs[0]][0].tolist() != [b for _, b in epochs[1]][0].tolist()


def test_tensorflow_only_cells(capsys) -> None:
    from IPython.core.interactiveshell import InteractiveShell

    from helpers import magics

    shell = InteractiveShell.instance()
    magics.register()
    shell.run_cell("%%tensorflow_only tf.data\nran = 'yes'\n").raise_error()
    ran = shell.user_ns.get("ran")
    if keras.backend.backend() == "tensorflow":
        assert ran == "yes"
    else:
        assert ran is None
        assert "Skipped: this cell needs TensorFlow (tf.data)" in capsys.readouterr().out


_HOST_MEMORY = """
import numpy as np
from helpers import pipelines

def peak_growth(n):
    x = np.full((n, 128, 128, 3), 7, np.uint8)
    open("/proc/self/clear_refs", "w").write("5")  # the peak (VmHWM) from here on
    rss = lambda key: next(int(line.split()[1]) for line in open("/proc/self/status")
                           if line.startswith(key))
    before = rss("VmRSS")
    for _ in pipelines.batches(x, np.zeros(n, "int32"), 64, shuffle=True,
                               transform=lambda b: b / 255.0):
        pass
    return (rss("VmHWM") - before) * 1024, x.nbytes

small, big = peak_growth(2_048), peak_growth(10_240)  # 96 MiB, then 480 MiB of images
print(small[0], big[0], big[1] - small[1])
"""


def test_batches_add_no_copy_of_the_array_to_host_memory() -> None:
    """Peak host memory (RSS) during an epoch does not grow with the array: batches are
    gathered from it (a ``tf.constant`` copy added twice the array's size). The first run
    pays the runtime's own start-up (threads, buffers), so the second is compared with it."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run([sys.executable, "-c", _HOST_MEMORY], env=env, check=True,
                         capture_output=True, text=True, timeout=120).stdout.split()
    small, big, more_images = map(int, out[-3:])
    assert big - small < 0.5 * more_images, (small, big, more_images)
