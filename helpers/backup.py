"""Fit backups: ``Resume``, the ``keras.callbacks.BackupAndRestore`` every fit of the course gets
(``cfg.callbacks``), and the per-process locks it and ``helpers.sweeps.sweep`` take.

A backup restores only into the model that wrote it (``fingerprint``) and only into a fit that
has not already ended before it; any other backup is moved aside (``<dir>.stale-<n>``, kept)
and the fit starts afresh, said in one line. A resumed fit's history holds every epoch, the ones
before the interruption included. One process at a time may use a backup or run a sweep
(``hold``): another gets ``InUse``, naming the folder and the holder's pid.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import itertools
import json
import os
import re
import shutil
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import keras

try:
    import fcntl
except ImportError:  # native Windows has no flock: fits and sweeps run there unlocked
    fcntl = None

BACKUP_EVERY_SECONDS = 60.0
"""How much training an interrupted fit may lose: ``Resume`` backs up at the end of the first
epoch that ends this long after its last backup (or the fit's start). A long epoch (full mode
on a T4) is backed up every epoch; quick mode's epochs of a few seconds are not each written
to disk (01's 8.3M-parameter CNN wrote about 100 MB every epoch)."""


# --- locks ------------------------------------------------------------------------------------

class InUse(RuntimeError):
    """Another process holds the lock of a backup or a sweep; the message names both."""


_HELD: dict[Path, int] = {}
"""The lock files this process holds, and their open descriptors."""


def hold(lock: Path, what: str) -> bool:
    """Take the lock file ``lock`` (an ``flock``, which the system releases when this process
    ends, however it ends) or raise ``InUse`` naming ``what`` and the holder's pid. A lock this
    process already holds is kept; returns whether it was taken now."""
    lock = lock.absolute()
    if lock in _HELD:
        return False
    lock.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        pid = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise InUse(f"Another run (pid {pid}) is using {what}: wait for it to finish or stop "
                    "it, then run this again") from None
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    _HELD[lock] = fd
    return True


def release(lock: Path) -> None:
    """Give up the lock file ``lock`` if this process holds it."""
    fd = _HELD.pop(lock.absolute(), None)
    if fd is not None:
        os.close(fd)  # closing the descriptor releases the flock


@contextlib.contextmanager
def held(lock: Path, what: str) -> Iterator[None]:
    """``hold`` for the ``with`` block: released at its end, an exception's included."""
    taken = hold(lock, what)
    try:
        yield
    finally:
        if taken:
            release(lock)


# --- which model a backup belongs to ----------------------------------------------------------

def _without_numbers(config: Any) -> Any:
    """``config`` with each string's ``_<n>`` suffix dropped: Keras numbers the names it makes
    per kernel (``dense`` in a fresh one, ``dense_7`` when the cell runs again)."""
    if isinstance(config, dict):
        return {key: _without_numbers(value) for key, value in config.items()}
    if isinstance(config, (list, tuple)):
        return [_without_numbers(value) for value in config]
    return re.sub(r"_\d+$", "", config) if isinstance(config, str) else config


def fingerprint(model: keras.Model) -> str:
    """A digest of ``model``'s architecture: its config (layer names without Keras's numbers,
    so the same cell gives the same digest in any kernel), its optimizer's class and the shapes
    of its variables. Weights and compile settings are left out."""
    try:
        config = model.get_config()
    except NotImplementedError:  # a subclassed model without get_config: its class
        config = type(model).__name__
    described = {"config": _without_numbers(config),
                 "optimizer": type(model.optimizer).__name__ if model.optimizer else None,
                 "shapes": [list(v.shape) for v in model.weights]}
    text = json.dumps(described, sort_keys=True, default=lambda value: type(value).__name__)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# --- the callback -----------------------------------------------------------------------------

class Resume(keras.callbacks.BackupAndRestore):
    """``keras.callbacks.BackupAndRestore`` that says when it resumes an interrupted fit and
    backs up at an epoch's end once ``every_seconds`` have passed since its last backup
    (``BACKUP_EVERY_SECONDS``; 0: every epoch). Its batch hook does nothing, so Keras may call
    it without waiting for the device (``async_safe``).

    Beside Keras's files it writes ``resume.json``: the model's ``fingerprint`` and the logs of
    the finished epochs, which a resumed fit puts back in front of its ``History``. While the fit
    runs it holds ``<dir>.lock``: a second process fitting with the same backup gets ``InUse``
    (a fit cut off by an exception, a KeyboardInterrupt, keeps it until this process's next fit
    with the backup ends, or the process does).

    A backup is moved aside (``<dir>.stale-<n>``) and the fit starts afresh when it was written
    by another model (its fingerprint differs, or it has none, or its weights do not load), when
    it was cut off while being written, or when it is past the fit's end (the fit was rerun with
    fewer epochs than the backup holds). That last case could instead raise, but then every rerun
    would fail until someone deletes the folder by hand; restoring it would return a model
    trained past the fit's end with an empty history. Set aside, the backup is kept and the cell
    does what it says.
    """

    async_safe = True

    def __init__(self, backup_dir: str, every_seconds: float = BACKUP_EVERY_SECONDS) -> None:
        super().__init__(backup_dir)
        self.every_seconds = every_seconds
        self._last_backup = 0.0
        self._lock = Path(f"{backup_dir}.lock")
        self._state_path = Path(backup_dir) / "resume.json"
        self._fingerprint = ""
        self._restored: dict[str, Any] = {"epoch": [], "history": {}}
        self._record: dict[str, Any] = {"epoch": [], "history": {}}

    def on_train_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        hold(self._lock, f"the backup {self.backup_dir}")
        # Keras never resets it: the model's next fit would start at the last resumed epoch
        self.model._initial_epoch = None
        self._fingerprint = fingerprint(self.model)
        self._restored = {"epoch": [], "history": {}}
        if os.path.isdir(self.backup_dir) and os.listdir(self.backup_dir):
            reason = self._unusable()
            if reason:
                self._set_aside(reason)
            else:
                self._restore(logs)
        self._record = copy.deepcopy(self._restored)
        self._last_backup = time.monotonic()

    def _unusable(self) -> str | None:
        """Why the backup cannot continue this fit, or None."""
        try:
            state = json.loads(self._state_path.read_text())
            written, at = state["fingerprint"], state["at"]
            epoch = json.loads(Path(self._training_metadata_path).read_text())["epoch"]
        except (OSError, ValueError, KeyError):
            return "has no architecture fingerprint or epoch (an older or unfinished backup)"
        if written != self._fingerprint:
            return "was written by a different model (its architecture fingerprint differs)"
        if at != epoch:
            return "is incomplete (cut off while being written)"
        if epoch > self.params["epochs"]:
            return (f"is at epoch {epoch}, past this fit's end (epochs={self.params['epochs']}; "
                    f"to finish that run instead, move it back and rerun with epochs={epoch})")
        return None

    def _set_aside(self, reason: str) -> None:
        aside = next(path for n in itertools.count(1)
                     if not os.path.exists(path := f"{self.backup_dir}.stale-{n}"))
        shutil.move(self.backup_dir, aside)
        print(f"The backup in {self.backup_dir} {reason}: moved it to {aside}, and this fit "
              "starts afresh")

    def _restore(self, logs: Mapping[str, Any] | None) -> None:
        """Keras's restore, undone (and the backup set aside) if its weights do not load."""
        optimizer = self.model.optimizer
        if optimizer is not None and not optimizer.built:
            optimizer.build(self.model.trainable_variables)
        variables = [*self.model.weights, *(optimizer.variables if optimizer else [])]
        before = [keras.ops.convert_to_numpy(v) for v in variables]
        try:
            super().on_train_begin(logs)
        except (OSError, ValueError) as error:  # a load fails after loading what it could
            for variable, value in zip(variables, before, strict=True):
                variable.assign(value)
            self.model._initial_epoch = None
            self._set_aside(f"does not load into this model ({type(error).__name__})")
            return
        state = json.loads(self._state_path.read_text())
        self._restored = {"epoch": state["epoch"], "history": state["history"]}
        print(f"Resuming from the backup in {self.backup_dir}: the fit continues at epoch "
              f"{self.model._initial_epoch + 1} (its history includes the epochs before it, "
              "from the backup)")
        self.model.history = keras.callbacks.History()  # returned if no epoch is left to run
        self.model.history.set_model(self.model)
        self.model.history.epoch = []

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        self._current_epoch = epoch + 1
        self._last_batch_seen = 0
        self._record["epoch"].append(epoch)
        for key, value in (logs or {}).items():
            self._record["history"].setdefault(key, []).append(value)
        if time.monotonic() - self._last_backup >= self.every_seconds:
            self._save_model()
            self._last_backup = time.monotonic()

    def _save_model(self) -> None:
        super()._save_model()
        state = {"fingerprint": self._fingerprint, "at": self._current_epoch, **self._record}
        partial = self._state_path.with_suffix(".partial")
        partial.write_text(json.dumps(state, default=float))
        os.replace(partial, self._state_path)

    def on_train_end(self, logs: Mapping[str, Any] | None = None) -> None:
        super().on_train_end(logs)
        self.model._initial_epoch = None
        if self._restored["epoch"]:
            history = self.model.history
            history.epoch[:0] = self._restored["epoch"]
            for key, values in self._restored["history"].items():
                history.history[key] = values + history.history.get(key, [])
        release(self._lock)
