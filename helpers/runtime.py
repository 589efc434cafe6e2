"""Runtime facts: paths, mode, Keras backend, devices and distribution (docs/architecture.md).

The bottom of the import graph: of the course it imports only ``helpers.settings`` (where
every ``LAB_*`` variable is declared, standard library only), and Keras only inside the
functions that need it, so ``select_backend`` can set ``KERAS_BACKEND`` before Keras loads.

* ``LAB_MODE``: ``quick`` (small subsets, minutes on a 2-core CPU), ``full`` (the documents'
  experiments shaped to finish in one free Colab session, about 90 minutes per notebook on a T4)
  or ``paper`` (the documents' exact epochs, sizes and grids: an A100, a TPU or a long session).
  Unset, it is ``full`` on a GPU/TPU runtime and ``quick`` otherwise, and always ``quick`` when
  ``CI`` is set.
* ``LAB_DRYRUN=1``: run ``full`` or ``paper`` at its real shapes (image sizes, models,
  pipelines) but one step per fit, on stand-ins with random weights, recording nothing.
* ``LAB_DRIVE``: on Colab with Google Drive mounted, outputs (``storage_root``) and downloaded
  archives (``downloads_dir``) go to Drive; ``LAB_DRIVE=0`` keeps them on the session's disk.
* ``LAB_PROBE``: ``0`` or ``1`` to skip or force timing each fit before the long work
  (``config.probe_wanted``; by default in full and paper mode).
* ``LAB_BACKEND`` (or plain ``KERAS_BACKEND``): ``tensorflow`` or ``jax``. Unset, TensorFlow
  where it is installed (Colab's GPU runtime, laptops), JAX where it is not (Colab's TPU runtime).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import platform
import random
import re
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from helpers import settings

MODES = ("quick", "full", "paper")
BACKENDS = ("tensorflow", "jax")
DEFAULT_SEED = 42


class BackendError(RuntimeError):
    """The Keras backend asked for cannot be used; the message says what to do."""


class NotWritable(RuntimeError):
    """A folder the course must write to cannot be written; the message names the setting that
    moves it."""


def project_root() -> Path:
    """The course checkout (the folder holding ``notebooks/``), else the working directory.

    ``LAB_HOME`` overrides it. On Colab, where only the package is installed, it is the cwd.
    """
    if home := settings.path("LAB_HOME"):
        return home
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "notebooks").is_dir() and (folder / "helpers").is_dir():
            return folder
    return here


def cache_dir() -> Path:
    """Where downloads and generated stand-ins live: ``LAB_CACHE``, default ``data/cache``."""
    return settings.path("LAB_CACHE") or project_root() / "data" / "cache"


DRIVE_MOUNT = Path("/content/drive")
"""Where Colab mounts Google Drive (``drive.mount``); ``LAB_DRIVE_MOUNT`` overrides it (tests)."""
DRIVE_FOLDER = "cnn-transfer-course"


def drive_folder() -> Path | None:
    """The course's folder on a mounted Google Drive, or None (no mount, or ``LAB_DRIVE=0``).

    A Colab VM's disk vanishes with the session; Drive survives it, so checkpoints, fit backups,
    sweep rows and results kept there outlive a disconnect.
    """
    if settings.flag("LAB_DRIVE") is False:
        return None
    mount = settings.path("LAB_DRIVE_MOUNT") or DRIVE_MOUNT
    my_drive = mount / "MyDrive"
    return my_drive / DRIVE_FOLDER if my_drive.is_dir() else None


def writable(folder: Path) -> bool:
    """Whether this process can create files in ``folder`` (made if missing): tried, not read
    from its permissions, which do not bind root (Colab runs as root)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            return True
    except OSError:
        return False


def ensure_writable(folder: Path, setting: str = "LAB_CACHE") -> Path:
    """``folder``, made if missing, once a file can be created in it; else ``NotWritable``
    naming ``setting``."""
    if not writable(folder):
        raise NotWritable(f"cannot write to {folder}: make it writable for this user, or set "
                          f"{setting} to a folder this user can write")
    return folder


def own_cache_dir() -> Path:
    """Where the course caches what it computes itself (FLOP counts): ``cache_dir()``, or, when
    that is read-only (a classroom's shared data cache), ``cache/`` in ``build_dir()``."""
    return cache_dir() if writable(cache_dir()) else build_dir() / "cache"


def downloads_dir() -> Path:
    """Where downloaded archives live: ``downloads/`` in ``LAB_CACHE`` when it is set; else, with
    Google Drive mounted, in the course's folder on Drive, so a new Colab session unpacks them
    again instead of downloading them (Caltech-256 is 1.2 GB); else ``data/cache/downloads``.
    The unpacked sets stay in ``cache_dir()`` on the session's disk: Drive is slow to read
    thousands of small files."""
    if settings.path("LAB_CACHE"):
        return cache_dir() / "downloads"
    drive = drive_folder()
    return drive / "downloads" if drive else cache_dir() / "downloads"


def storage_root() -> Path:
    """Where a run's outputs live: the course folder on Drive when mounted, else the project."""
    return drive_folder() or project_root()


def build_dir() -> Path:
    """Executed notebooks and training artifacts: ``LAB_BUILD``, default ``build/`` under
    ``storage_root()`` (Drive on Colab when mounted).

    ``make test`` sets its own, so a test run and ``make run`` never share checkpoints or sweeps.
    """
    return settings.path("LAB_BUILD") or storage_root() / "build"


def dry_run() -> bool:
    """``LAB_DRYRUN=1``: full-shape dry run (module docstring)."""
    return bool(settings.flag("LAB_DRYRUN"))


def artifacts_root(notebook: str, mode: str) -> Path:
    """Where one notebook's runs in one mode keep their checkpoints, sweeps and caches (a dry
    run keeps its own, so it never resumes or replays a real run)."""
    return build_dir() / ("dryrun" if dry_run() else "artifacts") / notebook / mode


def offline() -> bool:
    """``LAB_OFFLINE=1`` forbids every download attempt (an offline classroom, the tests)."""
    return bool(settings.flag("LAB_OFFLINE"))


def has_tensorflow() -> bool:
    """Whether TensorFlow is installed (found, not imported)."""
    return importlib.util.find_spec("tensorflow") is not None


def select_backend() -> str:
    """Set ``KERAS_BACKEND`` before Keras is imported and return it (module docstring).

    Raises ``BackendError`` for an unknown backend, for TensorFlow asked where it is not
    installed, and when Keras was already imported with another backend.
    """
    try:
        asked = settings.choice("LAB_BACKEND")
    except settings.SettingError as err:
        raise BackendError(str(err)) from None
    chosen = (
        asked
        or os.environ.get("KERAS_BACKEND")
        or ("tensorflow" if has_tensorflow() else "jax")
    ).strip().lower()
    if chosen not in BACKENDS:
        raise BackendError(f"LAB_BACKEND must be one of {BACKENDS}, not {chosen!r}")
    if importlib.util.find_spec(chosen) is None:
        other = "jax" if chosen == "tensorflow" else "tensorflow"
        raise BackendError(
            f"the Keras backend {chosen!r} is not installed here; install it, or set "
            f"LAB_BACKEND={other} before starting the kernel"
        )
    if "keras" in sys.modules:
        loaded = sys.modules["keras"].backend.backend()
        if loaded != chosen:
            raise BackendError(
                f"Keras was imported with the {loaded!r} backend before helpers chose {chosen!r}:"
                " restart the kernel and import helpers before keras"
            )
    os.environ["KERAS_BACKEND"] = chosen
    if chosen == "tensorflow" and "tensorflow" not in sys.modules:
        _import_tensorflow_quietly()
    return chosen


# TensorFlow's C++ start-up notices on a machine without a GPU: not the course's output, and
# they look like failures (``E0000 ... failed call to cuInit``) in a notebook's first cell.
_STARTUP_NOISE = re.compile(
    r"absl::InitializeLog|cudart_stub|cuInit|cuda drivers|oneDNN custom operations|"
    r"TF_ENABLE_ONEDNN_OPTS|binary is optimized to use|rebuild TensorFlow with|"
    r"Unable to register cu(DNN|FFT|BLAS) factory|computation placer already registered|"
    r"kernel driver does not appear to be running|retrieving CUDA diagnostic"
)


@contextlib.contextmanager
def _startup_notices_dropped() -> Iterator[None]:
    """Within the block, TensorFlow's C++ start-up notices on the process's standard error are
    dropped (its first device query prints ``failed call to cuInit`` on a CPU); any other line
    (warnings, errors) is passed on unchanged."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            caught.seek(0)
            kept = [line for line in caught.read().decode(errors="replace").splitlines()
                    if line.strip() and not _STARTUP_NOISE.search(line)]
            if kept:
                print("\n".join(kept), file=sys.stderr)


def _import_tensorflow_quietly() -> None:
    """Import TensorFlow with its start-up notices dropped (``_startup_notices_dropped``)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if not _gpu_present():
        os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
    with _startup_notices_dropped():
        import tensorflow  # noqa: F401


def mend_backend() -> None:
    """Work around two faults of the JAX backend (Keras 3.13-3.15 with JAX 0.7); nothing changes
    on TensorFlow:

    * ``_evaluate_undonated``: a later ``evaluate`` after more training must use the current
      weights;
    * ``_compile_image_augmentation``: a model holding Keras's geometric augmentation layers
      must still be compiled.
    """
    if os.environ.get("KERAS_BACKEND") != "jax":
        return
    _evaluate_undonated()
    _compile_image_augmentation()


def _evaluate_undonated() -> None:
    """Once a compiled evaluation step has run (``evaluate``, or ``fit``'s validation), a later
    ``evaluate`` after more training computes with partly stale weights, while ``predict`` is
    right (tests/test_runtime.py shows it, on the CPU). The evaluation step is compiled without
    donating its input buffers, which it does not need: it updates no weights."""
    from keras.src.backend.jax import trainer

    original = trainer.JAXTrainer.make_test_function
    if getattr(original, "undonated", False):
        return

    def make_test_function(self: Any, force: bool = False) -> Any:
        jit = trainer.jit
        trainer.jit = lambda fn, donate_argnums=None, **kwargs: jit(fn, **kwargs)
        try:
            return original(self, force)
        finally:
            trainer.jit = jit

    make_test_function.undonated = True
    trainer.JAXTrainer.make_test_function = make_test_function


# Keras marks these layers as not compilable (``supports_jit = False``) because on TensorFlow
# they call ImageProjectiveTransformV3, which XLA lacks. On JAX they are jax.numpy code that
# compiles and draws the same images compiled as uncompiled (tests/test_runtime.py). RandomCrop
# stays out: it slices at drawn offsets, which jax.jit refuses.
COMPILABLE_ON_JAX = ("RandomRotation", "RandomZoom", "RandomTranslation", "RandomShear",
                     "RandomPerspective")


def _compile_image_augmentation() -> None:
    """Keras compiles no step of a model that holds a layer whose ``supports_jit`` is False
    (with ``jit_compile="auto"``; it refuses ``True``). On JAX, uncompiled means that each
    operation of every step is dispatched on its own, whatever the device: on a CPU, 05's
    MobileNetV2 with ``RandomRotation`` in front trained and evaluated many times slower
    (issue 24's closing note gives the measurements). Such a model is compiled when its only
    such layers are ``COMPILABLE_ON_JAX``."""
    from keras import layers
    from keras.src.trainers import trainer

    original = trainer.model_supports_jit
    if getattr(original, "augmentation_compiled", False):
        return
    compilable = tuple(getattr(layers, name) for name in COMPILABLE_ON_JAX)

    def model_supports_jit(model: Any) -> bool:
        return original(model) or all(layer.supports_jit or isinstance(layer, compilable)
                                      for layer in model._flatten_layers())

    model_supports_jit.augmentation_compiled = True
    trainer.model_supports_jit = model_supports_jit


def _gpu_present() -> bool:
    """An NVIDIA GPU is attached (its device files exist); checked without CUDA."""
    return any(Path("/dev").glob("nvidia[0-9]*"))


def tpu_host() -> bool:
    """This machine is a Cloud TPU VM (Colab's TPU runtime is one): its TPU chips appear as
    ``/dev/accel*`` or ``/dev/vfio`` devices, and the runtime names its accelerator type."""
    env = ("TPU_ACCELERATOR_TYPE", "TPU_NAME", "TPU_WORKER_ID")
    return any(os.environ.get(name) for name in env) or any(Path("/dev").glob("accel[0-9]*"))


def backend() -> str:
    """The Keras backend in use (imports Keras)."""
    import keras

    return keras.backend.backend()


def device_platforms() -> list[str]:
    """One lower-case platform name (``tpu``, ``gpu``, ``cpu``) per device the backend trains on."""
    if backend() == "jax":
        import jax

        return [device.platform for device in jax.devices()]
    import tensorflow as tf

    if tpu_host():
        return ["tpu"]  # the cores are counted when the TPU system is initialised
    with _startup_notices_dropped():  # the first query initialises CUDA, and says so
        gpus = tf.config.list_physical_devices("GPU")
    return ["gpu"] * len(gpus) if gpus else ["cpu"]


def accelerator(platforms: Sequence[str]) -> str:
    """``"TPU"``, ``"GPU"`` or ``"CPU"``: the best of ``platforms``."""
    found = {p.lower() for p in platforms}
    return next((name.upper() for name in ("tpu", "gpu") if name in found), "CPU")


def side_by_side() -> int:
    """How many processes train at once by default (pretraining's builds, ``make run``'s
    notebooks): two where the backend trains on the CPU and it has two cores or more, else one.
    Measured on 2 cores (issue 21's and issue 24's closing notes): two processes took less time
    than one after the other, because one's single-threaded work (drawing data, tracing a
    training step) overlaps the other's arithmetic; four took more. On an accelerator the
    processes would share its memory."""
    if accelerator(device_platforms()) != "CPU":
        return 1
    return max(1, min(2, os.cpu_count() or 1))


def resolve_mode(accel: str | None = None) -> str:
    """The mode from ``LAB_MODE``, or the default for this runtime (module docstring)."""
    mode = settings.choice("LAB_MODE")
    if mode:
        if dry_run() and mode == "quick":
            raise ValueError("LAB_DRYRUN runs full or paper at their real shapes: set LAB_MODE "
                             "to full or paper, or unset LAB_DRYRUN")
        return mode
    if dry_run():
        return "full"
    if os.environ.get("CI"):
        return "quick"
    accel = accel or accelerator(device_platforms())
    return "full" if accel in ("GPU", "TPU") else "quick"


def seed_everything(seed: int = DEFAULT_SEED, deterministic: bool = False) -> None:
    """Seed Python, NumPy and the Keras backend; ``deterministic`` also asks TensorFlow for
    bit-for-bit repeatable ops (JAX on one device is deterministic already)."""
    import keras

    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)
    np.random.seed(seed)
    keras.utils.set_random_seed(seed)
    if deterministic and backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()


def versions() -> dict[str, str]:
    """Python, NumPy, Keras and the backend's version."""
    import keras

    name = backend()
    module = __import__(name)
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "keras": keras.__version__,
        name: module.__version__,
    }
