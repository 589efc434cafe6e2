"""helpers.exercises: the one line a check prints, the grading tests, and grading mode.

Each test loads a fresh copy of the module from its file, as the grader does in a kernel.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import logging
import sys
import warnings
from types import ModuleType

import numpy as np
import pytest

from helpers import exercises as installed


@pytest.fixture
def ex(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    spec = importlib.util.spec_from_file_location("fresh_exercises", installed.__file__)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    return module


def undefined() -> object:
    raise NameError("name 'squares' is not defined", name="squares")


def lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return capsys.readouterr().out.splitlines()


def test_right_answer_says_what_is_right(ex, capsys) -> None:
    assert ex.check("91.1", ("ten values", lambda: True), ("sorted", lambda: 1)) is None
    assert lines(capsys) == ["✓ 91.1 right: ten values; sorted"]


def test_wrong_answer_says_what_is_right_and_what_is_wrong(ex, capsys) -> None:
    ex.check("91.1", ("ten values", lambda: True), ("the squares", lambda: False),
             ("sorted", lambda: [] == [0]))
    assert lines(capsys) == ["✗ 91.1: 1 of 3 right (ten values); wrong: the squares; sorted"]


def test_missing_answer_names_the_variable(ex, capsys) -> None:
    ex.check("91.1", ("ten values", undefined), ("the squares", undefined))
    assert lines(capsys) == [
        "✗ 91.1: squares is not defined yet: write it in your answer cell above and run that cell"
    ]


def test_a_test_that_raises_is_wrong_with_the_error_named(ex, capsys) -> None:
    ex.check("91.1", ("ten values", lambda: True), ("the mean", lambda: 1 / 0),
             ("an array", lambda: bool([1, 2]) and {}["x"]), ("defined", undefined))
    assert lines(capsys) == [
        "✗ 91.1: 1 of 4 right (ten values); wrong: the mean (ZeroDivisionError: division by "
        "zero); an array (KeyError: 'x'); defined (squares is not defined)"
    ]


def test_hidden_reruns_the_check_and_raises_in_the_course_notebook(ex, capsys) -> None:
    calls = []
    ex.check("91.1", ("ten values", lambda: calls.append("check") or True))
    ex.hidden("91.1", ("an array", lambda: True), points=2)
    assert calls == ["check", "check"]
    assert lines(capsys)[-1] == "✓ 91.1 grading tests: 2 of 2 pass"
    with pytest.raises(AssertionError, match=r"91.1 grading tests: 1 of 2 pass; wrong: a list"):
        ex.hidden("91.1", ("a list", lambda: False))
    assert lines(capsys) == ["✗ 91.1 grading tests: 1 of 2 pass; wrong: a list"]


def test_hidden_with_no_tests_of_its_own_uses_the_check(ex, capsys) -> None:
    ex.check("92.1", ("ascending", lambda: True))
    ex.hidden("92.1")
    assert lines(capsys)[-1] == "✓ 92.1 grading tests: 1 of 1 pass"
    with pytest.raises(AssertionError, match="no tests ran"):
        ex.hidden("92.9")


def test_grading_mode_prints_the_result_after_the_token_and_never_raises(ex, capsys) -> None:
    ex.begin_grading("tok3n")
    ex.check("91.1", ("ten values", lambda: True), ("the squares", undefined))
    ex.hidden("91.1", ("an array", lambda: False), points=2)
    check, graded, record = lines(capsys)
    assert check.startswith("✗ 91.1: 1 of 2 right") and graded.startswith("✗ 91.1 grading")
    token, payload = record.split(" ", 1)
    assert token == "tok3n"
    assert json.loads(payload) == {
        "key": "91.1", "right": ["ten values"], "undefined": "squares", "points": 2,
        "wrong": ["the squares (squares is not defined)", "an array"], "unmet": [],
    }


def test_an_essential_test_that_fails_is_recorded_and_named(ex, capsys) -> None:
    ex.begin_grading("tok3n")
    ex.check("91.9", ("counted by hand", undefined), ("ten values", lambda: True))
    ex.hidden("91.9", ("an array", lambda: True), ("trained", lambda: False), points=2,
              essential=("counted by hand", "an array", "trained"))
    _, graded, record = lines(capsys)
    payload = json.loads(record.split(" ", 1)[1])
    assert payload["unmet"] == ["counted by hand", "trained"]  # the error suffix still matches
    assert graded.endswith("essential, so no points: counted by hand; trained")
    result = ex.Result("91.9", tuple(payload["right"]), tuple(payload["wrong"]),
                       payload["undefined"], tuple(payload["unmet"]))
    assert "no points, because the work itself is missing: counted by hand; trained" in (
        result.line())


def test_essential_must_name_a_test_of_the_exercise(ex) -> None:
    ex.check("91.10", ("ten values", lambda: True))
    with pytest.raises(ValueError, match=r"91.10: essential names no test.*'trained'"):
        ex.hidden("91.10", ("an array", lambda: True), essential=("ten values", "trained"))


def test_refuses_fails_when_a_gamed_answer_meets_every_essential_test(ex, monkeypatch,
                                                                      capsys) -> None:
    monkeypatch.delenv("LAB_DRYRUN", raising=False)
    space = {"answer": 42, "steps": 10}
    ex.check("91.11", ("answer is 42", lambda: space["answer"] == 42),
             ("trained ten steps", lambda: space["steps"] == 10))
    ex.hidden("91.11", essential=("trained ten steps",))
    with pytest.raises(AssertionError, match="91.11 gives points to a gamed answer"):
        ex.refuses("91.11", space, "a wrong answer, trained", {"answer": 7})
    capsys.readouterr()
    ex.refuses("91.11", space, "one step", {"steps": 1})
    assert lines(capsys) == ["✓ 91.11 refuses a gamed answer (one step): no points, "
                             "essential: trained ten steps"]


def test_malformed_tests_and_points_are_refused(ex) -> None:
    with pytest.raises(TypeError, match="91.1: each test is a"):
        ex.check("91.1", lambda: True)
    with pytest.raises(ValueError, match="points must be positive"):
        ex.hidden("91.1", points=0)


def test_the_module_imports_only_the_standard_library() -> None:
    """The grader execs it alone in a student's kernel, where the course may not import; only
    the functions that handle answers as data import NumPy (and Keras, to load a model)."""
    tree = ast.parse(open(installed.__file__, encoding="utf-8").read())

    def imported(nodes) -> set[str]:
        names = {alias.name.split(".")[0] for node in nodes if isinstance(node, ast.Import)
                 for alias in node.names}
        return names | {node.module.split(".")[0] for node in nodes
                        if isinstance(node, ast.ImportFrom) and node.module}

    assert imported(tree.body) <= set(sys.stdlib_module_names) | {"__future__"}
    assert imported(ast.walk(tree)) <= set(sys.stdlib_module_names) | {
        "__future__", "numpy", "keras"}


@pytest.mark.parametrize(("value", "raises"), [("", AssertionError), ("0", AssertionError),
                                               ("on", None), ("TRUE", None)])
def test_a_dry_run_is_read_as_the_course_reads_it(ex, monkeypatch, value, raises) -> None:
    """A failing ``hidden`` raises except in a dry run, and ``LAB_DRYRUN`` means what it means
    everywhere else (helpers.settings: on and TRUE are dry runs too)."""
    monkeypatch.setenv("LAB_DRYRUN", value)
    if raises:
        with pytest.raises(raises, match="0 of 1 pass"):
            ex.hidden("91.4", ("wrong", lambda: False))
    else:
        ex.hidden("91.4", ("wrong", lambda: False))


def test_a_dry_run_flag_the_course_refuses_is_refused_here_too(ex, monkeypatch) -> None:
    monkeypatch.setenv("LAB_DRYRUN", "maybe")
    with pytest.raises(ValueError, match="LAB_DRYRUN='maybe' cannot be used"):
        ex.hidden("91.4", ("wrong", lambda: False))


def test_the_course_versions_check_says_it_checked_the_solution(ex, capsys) -> None:
    """Run All of the course notebook runs the solution between the empty answer cell and the
    check: the check's line says so (issue 22); without the solution mark it does not."""
    ex.check("91.5", ("ten values", lambda: True))
    assert lines(capsys) == ["✓ 91.5 right: ten values"]
    ex.solution("91.5")
    ex.check("91.5", ("ten values", lambda: True))
    assert lines(capsys) == [f"✓ 91.5 right: ten values {ex.SOLVED_NOTE}"]


def test_without_makes_a_library_function_refuse_and_puts_it_back(ex) -> None:
    import statistics

    def own_mean(values):
        return sum(values) / len(values)

    def borrowed_mean(values):
        return statistics.mean(values)

    with ex.without(statistics, "mean"):
        assert own_mean([1, 2, 3]) == 2
        with pytest.raises(RuntimeError, match="statistics.mean is what this exercise asks"):
            borrowed_mean([1, 2, 3])
    assert borrowed_mean([1, 2, 3]) == 2  # restored


def test_refers_to_sees_a_function_imported_by_name(ex) -> None:
    from statistics import mean

    def imported(values):
        return mean(values)

    def own(values):
        return sum(values) / len(values)

    assert ex.refers_to(imported, mean) and not ex.refers_to(own, mean)
    assert ex.refers_to(mean, mean)  # the library function itself, handed in as the answer
    assert not ex.refers_to(lambda v, f=len: f(v), mean) and ex.refers_to(lambda v, f=mean: f(v),
                                                                          mean)


def test_refuses_passes_when_a_gamed_answer_fails_and_puts_the_names_back(ex, capsys) -> None:
    space = {"answer": 42, "helper": "kept"}
    ex.check("91.6", ("answer is 42", lambda: space["answer"] == 42),
             ("helper exists", lambda: "helper" in space))
    ex.hidden("91.6", ("answer is an int", lambda: isinstance(space["answer"], int)))
    capsys.readouterr()
    ex.refuses("91.6", space, "the answer copied as text", {"answer": "42"})
    assert lines(capsys) == ["✓ 91.6 refuses a gamed answer (the answer copied as text): "
                             "wrong: answer is 42"]
    ex.refuses("91.6", space, "no helper", lambda: {"helper": ex.UNDEFINED})
    assert space == {"answer": 42, "helper": "kept"}  # restored, the deleted name too


def test_refuses_fails_when_a_gamed_answer_gets_full_marks(ex, monkeypatch) -> None:
    monkeypatch.delenv("LAB_DRYRUN", raising=False)
    space = {"answer": 42}
    ex.check("91.7", ("answer is a number", lambda: isinstance(space["answer"], int)))
    ex.hidden("91.7")
    with pytest.raises(AssertionError, match="91.7 gives full marks to a gamed answer"):
        ex.refuses("91.7", space, "any other number", {"answer": 7})
    assert space == {"answer": 42}


def test_refuses_does_nothing_while_grading(ex, capsys) -> None:
    space = {"answer": 42}
    ex.check("91.8", ("answer is a number", lambda: isinstance(space["answer"], int)))
    ex.begin_grading("t0k3n")
    capsys.readouterr()
    made = []
    ex.refuses("91.8", space, "any other number", lambda: made.append(1) or {"answer": 7})
    assert lines(capsys) == [] and space == {"answer": 42} and made == []  # not even made


def test_answers_cross_over_as_data_and_the_tests_read_them(ex, capsys) -> None:
    """The course notebook: the answers cell writes what the notebook computed (numbers,
    arrays, a tuple as a list; a name never defined, a function that raised, an object that is
    not data are missing, with why) and ``hidden``'s tests read them, not the check's."""
    import numpy as np

    def fails() -> object:
        raise ZeroDivisionError("division by zero")

    ex.check("94.1", ("never run by hidden", lambda: 1 / 0))
    capsys.readouterr()
    ex.answers("94.1", n=lambda: np.int64(3), xs=lambda: np.arange(4), pair=lambda: (1, 2),
               gone=undefined, broke=fails, code=lambda: print)
    assert lines(capsys) == [
        "94.1: 3 of 6 answers handed over as data; missing: squares is not defined; broke could "
        "not be computed: ZeroDivisionError: division by zero; code is a builtin_function_or_"
        "method, not data the grading tests can read"]
    ex.hidden("94.1", ("three", lambda a: a["n"] == 3 and isinstance(a["n"], int)),
              ("an array", lambda a: list(a["xs"]) == [0, 1, 2, 3]),
              ("a pair", lambda a: a["pair"] == [1, 2]))
    assert lines(capsys) == ["✓ 94.1 grading tests: 3 of 3 pass"]
    with pytest.raises(AssertionError, match="missing: squares is not defined|squares is not"):
        ex.hidden("94.1", ("gone", lambda a: a["gone"]), ("broke", lambda a: a["broke"]))
    out = lines(capsys)[-1]
    assert "gone (squares is not defined)" in out
    assert "broke (broke could not be computed: ZeroDivisionError: division by zero)" in out


def test_a_model_crosses_over_as_a_file_loaded_in_safe_mode(ex, capsys) -> None:
    import keras

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(np.ones((4, 3)), np.ones((4, 2)), epochs=2, verbose=0)
    lambda_model = keras.Sequential([keras.Input((3,)), keras.layers.Lambda(lambda x: x * 2)])
    ex.answers("94.2", model=lambda: model, lambda_model=lambda: lambda_model)
    ex.hidden("94.2", ("same weights, its optimizer's steps", lambda a: int(
        a["model"].optimizer.iterations) == 2 and all(
        np.array_equal(w, v) for w, v in zip(a["model"].get_weights(), model.get_weights(),
                                             strict=True))))
    with pytest.raises(AssertionError, match="Lambda"):  # code in a model is never loaded
        ex.hidden("94.2", ("loads", lambda a: a["lambda_model"] is not None))
    capsys.readouterr()


def test_the_machinery_s_own_warnings_stay_out_of_the_cells_and_a_student_s_show(
        ex, capsys, caplog) -> None:
    """A model trained through another (07's ``on_device``) saves an optimizer that was never
    built: loading the answer warns that it was not restored, and predictions on several
    models make TensorFlow advise on retracing. Neither is the student's business; a warning
    of the student's own code still shows."""
    import keras

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    outer = keras.Sequential([keras.Input((3,)), model])
    outer.compile(optimizer="adam", loss="mse")
    outer.fit(np.ones((4, 3)), np.ones((4, 2)), epochs=1, verbose=0)

    def advice() -> int:
        logging.getLogger("tensorflow").warning("5 out of the last 5 calls triggered retracing")
        warnings.warn("the student's own warning", UserWarning, stacklevel=1)
        return 1

    level = logging.getLogger("tensorflow").level
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        ex.answers("94.4", model=lambda: model, advice=advice)
        ex.hidden("94.4", ("never trained itself", lambda a: int(
            a["model"].optimizer.iterations) == 0 and a["advice"] == 1))
    said = [str(w.message) for w in seen]
    assert not [m for m in said if "Skipping variable loading" in m], said
    assert "the student's own warning" in said
    assert not [r for r in caplog.records if "retracing" in r.getMessage()]
    assert logging.getLogger("tensorflow").level == level  # put back
    capsys.readouterr()


def test_refuses_reruns_the_answers_cell_with_the_gamed_answer(ex, capsys) -> None:
    namespace = {"value": 2}
    ex.answers("94.3", value=lambda: namespace["value"])
    ex.hidden("94.3", ("two", lambda a: a["value"] == 2), essential=("two",))
    ex.refuses("94.3", namespace, "one instead", {"value": 1})
    assert lines(capsys)[-1] == ("✓ 94.3 refuses a gamed answer (one instead): no points, "
                                 "essential: two")
    assert namespace == {"value": 2}
    with pytest.raises(AssertionError, match="gives full marks"):
        ex.refuses("94.3", namespace, "the same", {"value": 2})


def test_probes_are_fixed_in_the_course_and_drawn_for_each_grading(ex, tmp_path) -> None:
    first = ex.probe_rng("94.4").random(3)
    assert np.array_equal(first, ex.probe_rng("94.4").random(3))
    assert not np.array_equal(first, ex.probe_rng("94.5").random(3))
    ex.begin_export(tmp_path, 12345)
    drawn = ex.probe_rng("94.4").random(3)
    assert not np.array_equal(first, drawn)
    ex.begin_judging(tmp_path, 12345, "token")
    assert np.array_equal(drawn, ex.probe_rng("94.4").random(3))


def test_the_grading_process_reads_the_files_the_kernel_wrote(ex, tmp_path, capsys) -> None:
    ex.begin_export(tmp_path, 7)
    ex.answers("94.6", value=lambda: 2)
    assert (tmp_path / "94.6" / "answers.json").is_file()
    ex.begin_judging(tmp_path, 7, "tok")
    ex.hidden("94.6", ("two", lambda a: a["value"] == 2))
    ex.hidden("94.7", ("never handed over", lambda a: True))
    out = lines(capsys)
    assert out[-3] == "✓ 94.6 grading tests: 1 of 1 pass"
    assert json.loads(out[-2].removeprefix("tok "))["right"] == ["two"]
    assert out[-1] == "94.7: no answers were handed over; not graded"
