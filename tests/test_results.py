"""helpers.results: recording with structured provenance, the document numbers, the report."""

from __future__ import annotations

import json

import numpy as np
import pytest

from helpers import config, lesson, results


@pytest.fixture
def cfg(lab_env, monkeypatch):
    monkeypatch.setenv("LAB_OFFLINE", "1")
    monkeypatch.setenv("LAB_HOME", str(lab_env))
    facts = lesson.named("01_mnist_cnn")
    return config.setup(facts, params=facts.params, datasets=["mnist"])


def test_record_writes_metrics_and_provenance(cfg, lab_env) -> None:
    table = cfg.record(
        test_accuracy=np.float32(0.97),
        epochs=np.int64(3),
        per_class=np.array([0.5, 1.0]),
    )
    saved = json.loads((lab_env / "results" / "quick" / "01_mnist_cnn.json").read_text())
    assert saved["metrics"] == {
        "test_accuracy": pytest.approx(0.97),
        "epochs": 3,
        "per_class": [0.5, 1.0],
    }
    prov = saved["provenance"]
    assert prov["mode"] == "quick" and prov["device"] == "CPU"
    assert prov["backend"] == cfg.backend and prov["replicas"] == 1
    assert prov["data"]["mnist"]["kind"] == "stand-in"
    assert prov["data"]["mnist"]["reason"] == "offline"
    assert prov["weights"] == {}
    assert set(prov["versions"]) >= {cfg.backend, "keras", "numpy", "python"}
    assert prov["wall_seconds"] >= 0 and prov["date"][:2] == "20" and prov["git_commit"]
    row = table.set_index("metric").loc["test_accuracy"]
    assert row["document"] == pytest.approx(0.992) and row["measured"] == pytest.approx(0.97)
    # the stand-in's number is not set beside MNIST's as if it reproduced it (issue 22)
    assert row["comparable"] == "no: mnist: stand-in data"
    assert table.set_index("metric").loc["epochs", "comparable"] == "-"


def test_a_run_on_the_real_data_and_imagenet_weights_is_comparable() -> None:
    real = {"data": {"cats_vs_dogs": {"kind": "real"}},
            "weights": {"VGG16": {"kind": "imagenet", "label": "ImageNet"}}}
    assert results.not_comparable(real) == ""
    random = {**real, "weights": {"VGG16": {"kind": "random", "label": "random init"}}}
    assert results.not_comparable(random) == "VGG16: random init weights"


def test_record_refuses_an_unknown_notebook() -> None:
    with pytest.raises(ValueError, match="unknown notebook"):
        results.record("99_nothing", "quick", {}, {})


def test_lookup_reaches_into_tables() -> None:
    metrics = {"cats_dogs": {"tl30_ft1": {"final_val_loss": 0.1}}}
    assert results.lookup(metrics, "cats_dogs.tl30_ft1.final_val_loss") == 0.1
    assert results.lookup(metrics, "cats_dogs.tl0_ft31.final_val_loss") is None


def test_document_numbers_belong_to_known_notebooks() -> None:
    lessons = [lesson.load(path) for path in lesson.course()]
    assert all(facts.headline and facts.title for facts in lessons)
    assert [facts.notebook for facts in lessons] == [path.stem for path in lesson.course()]
    cifar = lesson.named("06_efficientnet_cifar_ensemble").document["cifar100_accuracy"]
    assert cifar.value == 0.55
    assert lesson.named("04_little_data_cats_dogs").document["val_accuracy_level3"].value == 0.94


def test_report_reads_the_structured_fields(cfg) -> None:
    assert results.report().startswith("No results recorded yet")
    cfg.record(test_accuracy=0.975, test_loss=0.1)
    report = results.report()
    lines = report.splitlines()
    assert lines[0].startswith("| notebook | mode | metric | measured | document |")
    row = next(line for line in lines if "test_accuracy" in line)
    assert "| 0.9750 | 0.9920 | Keras example | mnist: stand-in | none |" in row
    assert f"CPU, {cfg.backend}," in row
    assert "test_loss" not in report  # only headline and document numbers are reported


def test_the_displayed_table_keeps_counts_whole_and_missing_numbers_none() -> None:
    table = results.shown([
        {"metric": "images", "measured": 1540, "document": None, "source": "", "note": ""},
        {"metric": "accuracy", "measured": 0.953333333, "document": 0.99, "source": "",
         "note": ""}])
    assert table["measured"].tolist() == [1540, 0.9533]
    assert table["document"].tolist() == [None, 0.99]
    assert "1540.0" not in table.to_string() and "NaN" not in table.to_string()
