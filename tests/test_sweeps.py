"""helpers.sweeps: a sweep killed midway resumes with nothing finished lost or duplicated."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from helpers import backup, sweeps

GRID = [{"tl": tl, "ft": 3 - tl} for tl in (3, 2, 1, 0)]

# A sweep in a child process; the run for tl == KILL_AT kills the process mid-run (os._exit,
# as a power cut or a closed Colab tab would) after the earlier runs have finished.
CHILD = textwrap.dedent(
    """
    import os, sys, json
    from pathlib import Path
    from helpers import sweeps

    path, kill_at, log = Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
    grid = [{"tl": tl, "ft": 3 - tl} for tl in (3, 2, 1, 0)]

    def run(config):
        with open(log, "a") as fh:
            fh.write(json.dumps(config) + "\\n")
        if config["tl"] == kill_at:
            os._exit(9)
        history = [1.0, 0.5, 0.25][: config["ft"]]
        return {"val_accuracy": 0.5 + 0.1 * config["ft"], "history": history}

    sweeps.sweep(path, grid, run)
    """
)


def _child(tmp_path: Path, kill_at: int) -> int:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    return subprocess.run(
        [
            sys.executable,
            str(script),
            str(tmp_path / "sweep.csv"),
            str(kill_at),
            str(tmp_path / "started.log"),
        ],
        capture_output=True,
    ).returncode


def _started(tmp_path: Path) -> list[str]:
    return (tmp_path / "started.log").read_text().splitlines()


def test_killed_sweep_resumes_without_loss_or_duplicates(tmp_path: Path) -> None:
    assert _child(tmp_path, kill_at=1) == 9  # killed during the third run
    finished = sweeps.read_rows(tmp_path / "sweep.csv")
    assert [(r["tl"], r["ft"]) for r in finished] == [(3, 0), (2, 1)]

    assert _child(tmp_path, kill_at=-1) == 0  # the rerun
    rows = sweeps.read_rows(tmp_path / "sweep.csv")
    assert [(r["tl"], r["ft"]) for r in rows] == [(3, 0), (2, 1), (1, 2), (0, 3)]
    # finished runs were not redone; only the cut-off run (tl=1) ran twice
    assert _started(tmp_path).count('{"tl": 1, "ft": 2}') == 2
    assert _started(tmp_path).count('{"tl": 3, "ft": 0}') == 1
    assert rows[3]["history"] == [1.0, 0.5, 0.25] and rows[3]["val_accuracy"] == pytest.approx(0.8)


@pytest.mark.parametrize(
    "torn",
    [
        "1,2,2",  # a row cut off while being written: no newline
        "1,2,2\n",  # short, ending in a newline: the TypeError of issue 13
        '1,2,"[1.0, 0.5\n',  # a quoted value cut off (a history)
        "1,2,2,0.1,extra\n",  # too many fields
        "1,2\n",
    ],
)
def test_torn_or_malformed_last_row_is_dropped_and_redone(tmp_path: Path, torn: str) -> None:
    path = tmp_path / "sweep.csv"
    calls = []

    def run(config):
        calls.append(config["tl"])
        return {"score": config["tl"] * 2}

    sweeps.sweep(path, GRID[:2], run)
    finished = path.read_text()
    with open(path, "a") as fh:
        fh.write(torn)
    assert len(sweeps.read_rows(path)) == 2
    assert path.read_text() == finished  # the torn row is gone from the file
    table = sweeps.sweep(path, GRID, run)
    assert calls == [3, 2, 1, 0]
    assert list(table["score"]) == [6, 4, 2, 0]
    assert path.read_text().count("\n") == 5


def test_torn_header_starts_the_file_again(tmp_path: Path) -> None:
    path = tmp_path / "sweep.csv"
    path.write_text("tl,f")
    table = sweeps.sweep(path, GRID[:1], lambda c: {"score": 1})
    assert list(table["score"]) == [1]
    assert path.read_text().splitlines()[0] == "tl,ft,score,seconds"


def test_malformed_row_before_the_last_is_an_error_naming_its_line(tmp_path: Path) -> None:
    path = tmp_path / "sweep.csv"
    sweeps.sweep(path, GRID[:2], lambda c: {"score": 1})
    lines = path.read_text().splitlines(keepends=True)
    path.write_text(lines[0] + "3,0\n" + lines[2])
    with pytest.raises(ValueError, match="line 2 has 2 fields, the header 4"):
        sweeps.read_rows(path)


def test_table_follows_grid_order_and_reports_seconds(tmp_path: Path) -> None:
    table = sweeps.sweep(tmp_path / "s.csv", GRID, lambda c: {"score": c["ft"]})
    again = sweeps.sweep(tmp_path / "s.csv", list(reversed(GRID)), lambda c: 1 / 0)
    assert list(again["tl"]) == [0, 1, 2, 3]  # all reused: the failing run() is never called
    assert (table[sweeps.SECONDS] >= 0).all()


def test_bad_grids_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="empty"):
        sweeps.sweep(tmp_path / "s.csv", [], lambda c: {})
    with pytest.raises(ValueError, match="keys"):
        sweeps.sweep(tmp_path / "s.csv", [{"a": 1}, {"b": 2}], lambda c: {})


# A sweep in a child process whose first run waits, so that the sweep stays live (issue 23).
LIVE = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from helpers import sweeps

    def run(config):
        print("running", flush=True)
        time.sleep(300)

    sweeps.sweep(Path(sys.argv[1]), [{"tl": 3, "ft": 0}], run)
    """
)


def test_a_sweep_another_process_is_running_is_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "sweep.csv"
    live = subprocess.Popen([sys.executable, "-c", LIVE, str(path)], stdout=subprocess.PIPE)
    try:
        assert live.stdout is not None and live.stdout.readline() == b"running\n"
        with pytest.raises(backup.InUse) as refused:
            sweeps.sweep(path, GRID, lambda c: {"score": 1})
        message = str(refused.value)
        assert f"pid {live.pid}" in message and str(path) in message and "\n" not in message
    finally:
        live.kill()  # the system releases a dead process's lock
        live.wait()
    table = sweeps.sweep(path, GRID, lambda c: {"score": c["tl"]})
    assert list(table["score"]) == [3, 2, 1, 0] and len(sweeps.read_rows(path)) == 4
