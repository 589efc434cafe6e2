"""``python -m helpers``: datasets, fetch (the offline line), run's summary, report, grade's
``--jobs``."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import pytest

from helpers import __main__ as cli
from helpers import course_run, datasets
from helpers.datasets import Remote, motor_cores
from tests.conftest import dead_url


def test_fetch_offline_exits_nonzero_with_one_line_and_no_traceback(lab_env) -> None:
    """The real command, in a child process, with downloads disabled as in an offline room."""
    env = {
        "PATH": "/usr/bin:/bin",
        "LAB_CACHE": str(lab_env / "cache"),
        "LAB_OFFLINE": "1",
        "HOME": str(lab_env),
    }
    done = subprocess.run(
        [sys.executable, "-m", "helpers", "fetch", "mnist"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 1
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr
    assert "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz" in lines[0]
    assert str(lab_env / "cache" / "downloads" / "mnist.npz") in lines[0]


def test_fetch_with_unreachable_mirrors(lab_env, monkeypatch, capsys) -> None:
    entry = datasets.get("mnist")
    remote = Remote("mnist.npz", (dead_url("mnist.npz"),), None)
    monkeypatch.setitem(datasets._REGISTRY, "mnist", dataclasses.replace(entry, remotes=(remote,)))
    assert cli.main(["fetch", "mnist"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and dead_url("mnist.npz") in err


def test_fetch_prints_the_summary_line(lab_env, monkeypatch, capsys) -> None:
    entry = datasets.get("motor_cores_small")
    tiny = {"size": 16, "n_defect": 3, "n_ok": 3, "scale": 2.5}
    monkeypatch.setitem(datasets._REGISTRY, "motor_cores_small", dataclasses.replace(
        entry, build_real=lambda files, out: motor_cores._build(tiny)(out)))
    assert cli.main(["fetch", "motor_cores_small"]) == 0
    root = lab_env / "cache" / "motor_cores_small" / "real"
    assert capsys.readouterr().out == (
        "motor_cores_small: synthetic; train: defect 2, ok 2; validation: defect 1, ok 1; "
        f"ready at {root}\n"
    )


def test_fetch_unknown_name(lab_env, capsys) -> None:
    assert cli.main(["fetch", "imagenet"]) == 1
    assert "unknown dataset" in capsys.readouterr().err


def test_datasets_lists_sources_and_cache(lab_env, capsys) -> None:
    assert cli.main(["datasets"]) == 0
    out = capsys.readouterr().out
    assert "mnist  [LECTURE]" in out and "tf-keras-datasets/mnist.npz" in out
    assert "cache: not cached" in out and "weights VGG16" in out


def test_report_command(lab_env, capsys) -> None:
    assert cli.main(["report"]) == 0
    assert "No results recorded yet" in capsys.readouterr().out


def test_run_summary_table(lab_env) -> None:
    folder = lab_env / "results" / "quick"
    folder.mkdir(parents=True)
    (folder / "01_mnist_cnn.json").write_text(
        json.dumps(
            {
                "metrics": {"test_accuracy": 0.98},
                "provenance": {"data": {"mnist": {"kind": "stand-in"}}, "weights": {}},
            }
        )
    )
    table = course_run.summary(
        [
            course_run.RunOutcome("01_mnist_cnn", True, 61.2),
            course_run.RunOutcome("02_data_augmentation", False, 3.0, "ValueError: x"),
        ],
        "quick",
    )
    lines = table.splitlines()
    assert lines[0].split() == [
        "notebook",
        "mode",
        "data",
        "source",
        "weights",
        "source",
        "headline",
        "metric",
        "seconds",
    ]
    assert "test_accuracy = 0.9800" in lines[2] and lines[2].rstrip().endswith("61")
    assert "FAILED: ValueError: x" in lines[3]


def test_notebook_selection(monkeypatch, tmp_path) -> None:
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "helpers").mkdir()
    for stem in ("01_mnist_cnn", "02_data_augmentation"):
        (tmp_path / "notebooks" / f"{stem}.ipynb").write_text("{}")
    monkeypatch.setenv("LAB_HOME", str(tmp_path))
    assert [p.stem for p in course_run.notebook_paths(["2"])] == ["02_data_augmentation"]
    assert len(course_run.notebook_paths()) == 2
    try:
        course_run.notebook_paths(["09"])
    except SystemExit as err:
        assert "01_mnist_cnn" in str(err)
    else:
        raise AssertionError("an unknown notebook must be refused")


@pytest.mark.parametrize("jobs", ["0", "-1", "x", "1.5"])
def test_grade_refuses_a_bad_jobs_value_with_one_line(lab_env, capsys, jobs) -> None:
    assert cli.main(["grade", "01", str(lab_env), "--jobs", jobs]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == ("--jobs wants a whole number of submissions at once, 1 or more; "
                            f"not {jobs!r}\n")
