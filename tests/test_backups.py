"""helpers.backup (issue 23): a backup restores only into the model and fit it belongs to, a
resumed fit's history is whole, and one process at a time uses a backup."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import keras
import numpy as np
import pytest

from helpers import backup, sweeps

X, Y = np.linspace(0, 1, 64).reshape(16, 4), np.arange(16) % 2


class Disconnected(Exception):
    """What ends a fit midway in these tests (a closed tab, a KeyboardInterrupt)."""


class Interrupt(keras.callbacks.Callback):
    """Ends the fit right after epoch ``at`` (1-based) is backed up; records each epoch's logs."""

    def __init__(self, at: int | None = None) -> None:
        super().__init__()
        self.at = at
        self.ran: list[int] = []
        self.logs: list[dict[str, float]] = []

    def on_epoch_begin(self, epoch: int, logs: object = None) -> None:
        self.ran.append(epoch)

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        self.logs.append(dict(logs or {}))
        if epoch + 1 == self.at:
            raise Disconnected


def _model(activation: str = "relu", units: int = 3) -> keras.Model:
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(units, activation=activation),
                              keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _fit(model: keras.Model, folder: Path, epochs: int = 5, at: int | None = None,
         **fit: object) -> tuple[keras.callbacks.History, Interrupt]:
    interrupt = Interrupt(at)
    history = model.fit(X, Y, epochs=epochs, verbose=0, validation_data=(X, Y),
                        callbacks=[backup.Resume(str(folder), every_seconds=0), interrupt], **fit)
    return history, interrupt


def _interrupted(folder: Path, model: keras.Model, at: int = 3) -> Interrupt:
    interrupt = Interrupt(at)
    with pytest.raises(Disconnected):
        model.fit(X, Y, epochs=5, verbose=0, validation_data=(X, Y),
                  callbacks=[backup.Resume(str(folder), every_seconds=0), interrupt])
    return interrupt


def _one_line(capsys: pytest.CaptureFixture[str]) -> str:
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_the_same_cell_gives_the_same_fingerprint_in_any_kernel() -> None:
    first = backup.fingerprint(_model())
    _ = keras.layers.Dense(1), keras.Sequential()  # Keras numbers the next names differently
    assert backup.fingerprint(_model()) == first
    assert backup.fingerprint(_model("tanh")) != first
    assert backup.fingerprint(_model(units=5)) != first
    adam = _model()
    adam.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    assert backup.fingerprint(adam) != first


def test_a_backup_of_a_model_with_another_activation_is_set_aside(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "backup"
    _interrupted(folder, _model("relu"))
    capsys.readouterr()
    history, run = _fit(_model("tanh"), folder)
    line = _one_line(capsys)
    assert "written by a different model" in line and f"{folder}.stale-1" in line
    assert run.ran == [0, 1, 2, 3, 4] and history.epoch == [0, 1, 2, 3, 4]
    assert (tmp_path / "backup.stale-1" / "latest.weights.h5").exists()  # kept, not lost


def test_a_backup_of_a_model_with_other_shapes_is_set_aside_and_reruns_work(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "backup"
    _interrupted(folder, _model(units=3))
    _interrupted(folder, _model(units=5))  # set aside once, then backed up anew
    capsys.readouterr()
    history, run = _fit(_model(units=5), folder)
    assert "continues at epoch 4" in _one_line(capsys)
    assert run.ran == [3, 4] and len(history.history["val_loss"]) == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["backup.lock", "backup.stale-1"]


def test_weights_that_do_not_load_are_undone_and_set_aside(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "backup"
    _interrupted(folder, _model(units=3))
    wider = _model(units=5)
    state = json.loads((folder / "resume.json").read_text())
    state["fingerprint"] = backup.fingerprint(wider)  # so that only the load can tell
    (folder / "resume.json").write_text(json.dumps(state))
    before = [keras.ops.convert_to_numpy(w) for w in wider.weights]
    seen: list[list[np.ndarray]] = []
    look = keras.callbacks.LambdaCallback(on_train_begin=lambda logs: seen.append(
        [keras.ops.convert_to_numpy(w) for w in wider.weights]))
    capsys.readouterr()
    wider.fit(X, Y, epochs=5, verbose=0, callbacks=[backup.Resume(str(folder)), look])
    assert "does not load into this model (ValueError)" in _one_line(capsys)
    assert all(np.array_equal(a, b) for a, b in zip(before, seen[0], strict=True))
    assert (tmp_path / "backup.stale-1").is_dir()


def test_a_fit_rerun_with_fewer_epochs_than_its_backup_starts_afresh(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "backup"
    _interrupted(folder, _model(), at=3)
    capsys.readouterr()
    history, run = _fit(_model(), folder, epochs=2)
    line = _one_line(capsys)
    assert "is at epoch 3, past this fit's end (epochs=2" in line and "rerun with epochs=3" in line
    assert run.ran == [0, 1] and len(history.history["val_loss"]) == 2
    assert (tmp_path / "backup.stale-1" / "latest.weights.h5").exists()


def test_a_resumed_fit_returns_every_epochs_history(tmp_path: Path) -> None:
    folder = tmp_path / "backup"
    before = _interrupted(folder, _model(), at=3)
    history, run = _fit(_model(), folder)
    assert run.ran == [3, 4] and history.epoch == [0, 1, 2, 3, 4]
    assert history.history["loss"][:3] == pytest.approx([logs["loss"] for logs in before.logs])
    assert all(len(values) == 5 for values in history.history.values())


def test_a_fit_cut_off_twice_resumes_twice_with_every_epochs_history(tmp_path: Path) -> None:
    folder = tmp_path / "backup"
    first = _interrupted(folder, _model(), at=2)
    second = Interrupt(at=4)
    with pytest.raises(Disconnected):
        _model().fit(X, Y, epochs=5, verbose=0, validation_data=(X, Y),
                     callbacks=[backup.Resume(str(folder), every_seconds=0), second])
    history, run = _fit(_model(), folder)
    assert second.ran == [2, 3] and run.ran == [4] and history.epoch == [0, 1, 2, 3, 4]
    logged = [logs["loss"] for logs in first.logs + second.logs]
    assert history.history["loss"][:4] == pytest.approx(logged)


def test_a_fit_resumed_at_its_end_still_returns_its_history(tmp_path: Path) -> None:
    folder = tmp_path / "backup"
    _interrupted(folder, _model(), at=3)
    history, run = _fit(_model(), folder, epochs=3)
    assert run.ran == [] and history.epoch == [0, 1, 2]
    assert len(history.history["val_loss"]) == 3


def test_the_fit_after_a_resumed_one_starts_where_it_is_told(tmp_path: Path) -> None:
    """Keras leaves the resumed epoch on the model: the next fit (05's fine-tuning phase, from
    ``initial_epoch``) would start there and run an epoch too many."""
    model = _model()
    _interrupted(tmp_path / "tl", model, at=2)
    _fit(model, tmp_path / "tl", epochs=3)
    history, run = _fit(model, tmp_path / "ft", epochs=5, initial_epoch=3)
    assert run.ran == [3, 4] and history.epoch == [3, 4]


_KILLED_SWEEP = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    import numpy as np
    import helpers
    import keras
    from helpers import backup, sweeps

    folder, kill = Path(sys.argv[1]), sys.argv[2] == "kill"


    class Kill(keras.callbacks.Callback):
        def __init__(self, n):
            super().__init__()
            self.n = n

        def on_epoch_end(self, epoch, logs=None):
            if kill and self.n == 2 and epoch == 2:  # the second run, after its third epoch
                os.kill(os.getpid(), signal.SIGKILL)


    def run(config):
        with open(folder / "started.log", "a") as fh:
            fh.write(f"{config['n']}\\n")
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
        resume = backup.Resume(str(folder / f"backup_{config['n']}"), every_seconds=0)
        history = model.fit(np.ones((8, 4)), np.zeros(8), epochs=5, verbose=0,
                            callbacks=[resume, Kill(config["n"])])
        return {"epochs": history.epoch, "loss": history.history["loss"]}


    sweeps.sweep(folder / "sweep.csv", [{"n": 1}, {"n": 2}], run)
    """
)


def _sweep_child(folder: Path, kill: bool) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-c", _KILLED_SWEEP, str(folder),
                           "kill" if kill else "rerun"], capture_output=True, timeout=300)


def test_a_sweep_row_redone_after_a_kill_mid_fit_holds_every_epoch(tmp_path: Path) -> None:
    killed = _sweep_child(tmp_path, kill=True)
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()[-2000:]
    rerun = _sweep_child(tmp_path, kill=False)
    assert rerun.returncode == 0, rerun.stderr.decode()[-2000:]
    assert b"continues at epoch 4" in rerun.stdout
    rows = sweeps.read_rows(tmp_path / "sweep.csv")
    assert [r["n"] for r in rows] == [1, 2]
    assert all(r["epochs"] == [0, 1, 2, 3, 4] and len(r["loss"]) == 5 for r in rows)
    assert (tmp_path / "started.log").read_text().split() == ["1", "2", "2"]


_HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from helpers import backup

    backup.hold(Path(sys.argv[1]), "a test's lock")
    print("held", flush=True)
    time.sleep(300)
    """
)


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[tuple[Path, subprocess.Popen[bytes]]]:
    """Another process holding the lock of the backup ``tmp_path / "backup"``."""
    folder = tmp_path / "backup"
    child = subprocess.Popen([sys.executable, "-c", _HOLDER, f"{folder}.lock"],
                             stdout=subprocess.PIPE, env={**os.environ})
    assert child.stdout is not None and child.stdout.readline() == b"held\n"
    yield folder, child
    if child.poll() is None:
        child.kill()
        child.wait()


def test_a_backup_another_process_is_using_is_refused_in_one_line(
        holder: tuple[Path, subprocess.Popen[bytes]]) -> None:
    folder, child = holder
    model = _model()
    with pytest.raises(backup.InUse) as refused:
        _fit(model, folder)
    message = str(refused.value)
    assert f"pid {child.pid}" in message and str(folder) in message and "\n" not in message
    child.kill()  # the system releases a dead process's lock
    child.wait()
    history, _ = _fit(model, folder)
    assert history.epoch == [0, 1, 2, 3, 4]
