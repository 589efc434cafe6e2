"""helpers.lesson: each notebook's facts live in the notebook (its ``lesson`` and ``parameters``
cells); the one loader reads them and says what is missing; ``cfg.callbacks`` refuses a fit the
plan does not name (issue 25)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import budget, config, lesson

LESSON_CELL = '''
from helpers.lesson import Fit, Lesson, Reported


def plan(P, images):
    return [Fit("only", "dense_head", 8, images("mnist", "train"), P.epochs)]


LESSON = Lesson("99_scratch", title="A scratch lesson", headline="accuracy",
                document={"accuracy": Reported(0.5, "LECTURE", "about")}, plan=plan,
                dry_run={"epochs": 2})
'''
PARAMETERS_CELL = 'PARAMS = {"epochs": (3, 10, 10), "sizes": (list(range(2)), [1], [1])}\n' \
                  'cfg = helpers.setup(LESSON, params=PARAMS)\n'


def _notebook(folder: Path, stem: str, cells: list[tuple[str, list[str]]]) -> Path:
    path = folder / f"{stem}.ipynb"
    path.write_text(json.dumps({"cells": [
        {"cell_type": "code", "source": source, "metadata": {"tags": tags}, "outputs": []}
        for source, tags in cells]}))
    return path


def test_a_notebook_declares_its_lesson_and_parameters(tmp_path: Path) -> None:
    path = _notebook(tmp_path, "99_scratch", [("import helpers", []),
                                              (LESSON_CELL, ["lesson"]),
                                              (PARAMETERS_CELL, ["parameters"])])
    facts = lesson.load(path)
    assert (facts.title, facts.headline, facts.document["accuracy"].value) == (
        "A scratch lesson", "accuracy", 0.5)
    assert facts.params == {"epochs": (3, 10, 10), "sizes": ([0, 1], [1], [1])}
    fits = facts.fits(config.pick_params(facts.params, "full"), lambda *_: 100)
    assert [(f.name, f.images, f.epochs) for f in fits] == [("only", 100, 10)]
    assert facts.as_record()["document"] == {
        "accuracy": {"value": 0.5, "source": "LECTURE", "note": "about"}}
    assert lesson.Lesson.from_record("99_scratch", facts.as_record()).document == facts.document


@pytest.mark.parametrize(("cells", "message"), [
    ([(PARAMETERS_CELL, ["parameters"])], "0 code cells tagged 'lesson'"),
    ([(LESSON_CELL, ["lesson"])], "0 code cells tagged 'parameters'"),
    ([(LESSON_CELL, ["lesson"]), ("cfg = helpers.setup(LESSON)", ["parameters"])],
     "assigns no PARAMS"),
    ([("LESSON = 3", ["lesson"]), (PARAMETERS_CELL, ["parameters"])],
     r"must define LESSON = Lesson\('99_scratch'"),
])
def test_a_notebook_without_its_facts_is_named(tmp_path: Path, cells, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        lesson.load(_notebook(tmp_path, "99_scratch", cells))


def test_an_unknown_notebook_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown notebook '99_nothing'; known: 01_mnist_cnn"):
        lesson.named("99_nothing")


def test_every_course_notebook_declares_its_facts() -> None:
    for path in lesson.course():
        facts = lesson.load(path)
        assert facts.notebook == path.stem and facts.title and facts.headline and facts.plan
        for mode in ("quick", "full", "paper"):  # the plan reads only what the block has
            assert facts.fits(config.pick_params(facts.params, mode), budget.document_images)
        assert set(facts.dry_run) <= set(facts.params), path.stem


def test_a_fit_the_plan_does_not_name_is_refused(lab_env, monkeypatch) -> None:
    monkeypatch.setenv("LAB_OFFLINE", "1")
    monkeypatch.setenv("LAB_HOME", str(lab_env))
    facts = lesson.named("01_mnist_cnn")
    cfg = config.setup(facts, params=facts.params, datasets=["mnist"])
    assert [type(c).__name__ for c in cfg.callbacks("cnn")] == [
        "OptimizerBuilt", "Resume", "Projection", "EpochBar"]
    with pytest.raises(KeyError, match="fit 'cnn2' is not in 01_mnist_cnn's plan"):
        cfg.callbacks("cnn2")
    bare = config.setup("01_mnist_cnn", datasets=["mnist"])  # a name alone: no plan to check
    assert len(bare.callbacks("anything")) == 4
