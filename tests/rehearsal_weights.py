"""Random no-top weight files in Keras's legacy h5 layout, for ``tests/rehearsal.py``.

``KERAS_BACKEND=numpy python -m tests.rehearsal_weights FOLDER APPLICATION:SIZE:FILENAME ...``
builds each ``keras.applications`` model with ``weights=None, include_top=False`` at SIZE and
saves its weights as the published files hold them (``layer_names``, one group per layer),
the layout ``keras.applications`` loads. It runs in its own process on Keras's NumPy backend:
there the four backbones' initialisers take seconds, on JAX over a minute; and ``helpers``,
which admits only TensorFlow or JAX, is never imported here.
"""

from __future__ import annotations

import sys
from pathlib import Path


def write(folder: Path, application: str, size: int, filename: str) -> Path:
    """``folder/filename``: the no-top ``application`` at ``size`` x ``size``, random values."""
    import h5py
    import keras
    from keras.src.legacy.saving import legacy_h5_format  # the writer of Keras's own h5 files

    model = getattr(keras.applications, application)(
        weights=None, include_top=False, input_shape=(size, size, 3))
    path = folder / filename
    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, model)
    return path


if __name__ == "__main__":
    for spec in sys.argv[2:]:
        application, size, filename = spec.split(":", 2)
        write(Path(sys.argv[1]), application, int(size), filename)
