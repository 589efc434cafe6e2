"""Issue 23 (B): results files. A truncated or empty file is named and skipped while the rest
is reported; two runs recording at once never collide; a run stopped between two records never
replaces an earlier complete record."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from helpers import __main__ as cli
from helpers import lesson, results

ROOT = Path(__file__).resolve().parents[1]
PROV = {"mode": "quick", "backend": "tensorflow", "device": "CPU", "data": {}, "weights": {}}
NB02 = "02_data_augmentation"


def _folder(lab_env: Path) -> Path:
    return lab_env / "results" / "quick"


def test_a_truncated_or_empty_file_is_named_and_the_rest_reported(lab_env, capsys) -> None:
    results.record("01_mnist_cnn", "quick", {"test_accuracy": 0.98}, PROV)
    folder = _folder(lab_env)
    (folder / f"{NB02}.json").write_text('{"metrics": {"accuracy_sens')
    (folder / "03_vgg16_horse_zebra.json").write_text("")
    (folder / "04_little_data_cats_dogs.json").write_text("[1, 2]")
    (folder / "05_mobilenetv2_tl_ft_ratio.json").write_text('{"metrics": {}, "provenance": {}}')
    report = results.report()
    assert "| 01_mnist_cnn | quick | test_accuracy | 0.9800 |" in report
    notes = report.split("\n\n")[1].splitlines()
    assert notes[0].startswith(f"not in the table: {folder / NB02}.json is truncated or not JSON")
    assert notes[0].endswith(f"; rerun {NB02} to record it again, or delete the file")
    assert notes[1] == (f"not in the table: {folder / '03_vgg16_horse_zebra.json'} is empty; "
                        "rerun 03_vgg16_horse_zebra to record it again, or delete the file")
    assert "04_little_data_cats_dogs.json holds no metrics and provenance;" in notes[2]
    assert "05_mobilenetv2_tl_ft_ratio.json lacks provenance data, weights, date," in notes[3]
    assert len(notes) == 4
    assert cli.main(["report"]) == 0
    out = capsys.readouterr().out
    assert "| 01_mnist_cnn |" in out and "Traceback" not in out and "03_vgg16" in out


def test_two_runs_recording_at_once_do_not_share_a_temporary_file(lab_env, monkeypatch) -> None:
    real_replace, interrupted = os.replace, []

    def another_run_records_first(src, dst) -> None:
        if not interrupted:  # a second process writes and moves its file in between
            interrupted.append(src)
            results.record("01_mnist_cnn", "quick", {"test_accuracy": 0.5}, PROV)
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", another_run_records_first)
    results.record("01_mnist_cnn", "quick", {"test_accuracy": 0.9}, PROV)
    assert interrupted
    assert results.load("01_mnist_cnn", "quick")["metrics"] == {"test_accuracy": 0.9}
    assert [p.name for p in _folder(lab_env).iterdir()] == ["01_mnist_cnn.json"]  # no temps


def test_a_run_stopped_between_two_records_keeps_the_earlier_complete_one(lab_env, capsys):
    first = {"throughput_ratio": 3.0}
    results.record(NB02, "quick", {**first, "accuracy_sensible": 0.91}, PROV)  # a complete run
    before = results.load(NB02, "quick")
    results.record(NB02, "quick", {"throughput_ratio": 4.0}, PROV)  # a rerun stops after this
    assert f"{NB02}.json is replaced once accuracy_sensible is recorded" in capsys.readouterr().out
    assert results.load(NB02, "quick") == before
    partial = _folder(lab_env) / f"{NB02}.partial.json"
    assert json.loads(partial.read_text())["metrics"] == {"throughput_ratio": 4.0}
    report = results.report()
    assert f"| {NB02} | quick | accuracy_sensible | 0.9100 |" in report
    assert report.endswith(
        f"\n\n{NB02} (quick): a run stopped before recording accuracy_sensible ({partial}) and "
        f"the table shows the earlier complete run; rerun {NB02} to finish it"
    )
    results.record(NB02, "quick", {"throughput_ratio": 4.0, "accuracy_sensible": 0.93}, PROV)
    assert results.load(NB02, "quick")["metrics"]["accuracy_sensible"] == 0.93
    assert not partial.exists() and "\n\n" not in results.report()


def test_an_unfinished_first_run_is_reported_as_such(lab_env) -> None:
    results.record(NB02, "quick", {"throughput_ratio": 4.0}, PROV)
    assert results.load(NB02, "quick") is None
    assert results.report().endswith("accuracy_sensible "
                                     f"({_folder(lab_env) / NB02}.partial.json) and no complete "
                                     f"run is recorded; rerun {NB02} to finish it")


@pytest.mark.parametrize("notebook", [path.stem for path in lesson.course()])
def test_each_notebook_records_its_headline_in_its_last_record(notebook) -> None:
    """What "complete" rests on: a run has recorded everything once its headline is in."""
    cells = json.loads((ROOT / "notebooks" / f"{notebook}.ipynb").read_text())
    calls = ["".join(c["source"]) for c in cells["cells"]
             if c["cell_type"] == "code" and "cfg.record(" in "".join(c["source"])]
    last = calls[-1][calls[-1].rindex("cfg.record("):]
    assert f"{lesson.named(notebook).headline.split('.')[0]}=" in last
