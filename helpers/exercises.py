"""Exercise checks (演習): the one line a student's check cell prints, and the grading tests.

A **check cell** (tagged ``check``, kept in the student version) names the exercise and its
tests. Each test is a short label of what must hold and a function of no arguments that reads
the notebook's variables when the check runs::

    exercises.check(
        "03.1",
        ("vertical flips", lambda: augment.vertical_flip),
        ("eight images in augmented", lambda: len(augmented) == 8),
    )

It prints ``✓ 03.1 right: vertical flips; eight images in augmented`` or
``✗ 03.1: 1 of 2 right (vertical flips); wrong: eight images in augmented``,
and never raises, so a student's "Run all" goes on past an unfinished exercise.

A **hidden-tests cell** (tagged ``hidden-tests``, left out of the student version) follows it::

    exercises.hidden("03.1", ("eight different draws", lambda: ...), points=2,
                     essential=("eight different draws",))

It runs the exercise's check tests again together with its own. Its ``essential`` tests are
the work itself (a function run by hand on unseen inputs, a model that took its steps): when
one fails, the exercise scores no points, whatever else passes. In the course notebook it
raises when one fails, so CI, which runs the solutions, catches a wrong test or solution. At
grading (``helpers.grading``) it records the result for the grader and raises nothing; nor in a
dry run (``LAB_DRYRUN=1``), whose fits stop after one step.

**Answers as data** (issue 26). Where an exercise has an **answers cell** (tagged ``answers``,
left out of the student version), its grading tests do not read the notebook's objects: the
answers cell names what the student's notebook must hand over, each a function of no
arguments, and runs them::

    probe = exercises.probe_rng("01.1").integers(0, 10, (2, 300))
    exercises.answers("01.1", my_matrix=lambda: my_matrix,
                      counts=lambda: my_confusion_matrix(*probe))

Their values are written as data (JSON, ``.npz`` without pickles, Keras models as ``.keras``
files loaded in safe mode), never code, and ``hidden``'s tests are functions of those answers
(``lambda a: np.array_equal(a["my_matrix"], ...)``). At grading the answers cell runs in the
student's kernel and the grading tests in a separate process that holds the references
(``helpers.grading.judge``); in the course notebook both run in the notebook, through the same
files. ``probe_rng`` draws the inputs a function is called on: fixed in the course notebook,
drawn afresh for each grading, the same in the kernel and in the grading process.

A solution cell starts with ``solution(KEY)`` (the check then says it checked the solution);
grading tests run a student's function ``without`` the library function it must not call, and
``refers_to`` sees one imported by name; ``refuses`` shows in CI that a gamed answer fails
(docs/grading.md, "One source").

This module imports only the standard library: the grader loads a fresh copy of it into each
student's kernel, whatever that student's code did to the imported one. Outside grading, a
failing ``hidden`` reads ``LAB_DRYRUN`` with the course's parser: ``settings.py`` beside this
file, loaded by path (standard library only too), so the course package need not import.
"""

from __future__ import annotations

import inspect
import json
import logging
import tempfile
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from types import ModuleType
from typing import Any

Test = tuple[str, Callable[[], object]]
"""A label saying what must hold, and a function that is truthy when it does."""

_CHECK_TESTS: dict[str, tuple[Test, ...]] = {}
_HIDDEN_TESTS: dict[str, tuple[Test, ...]] = {}
_ESSENTIAL: dict[str, tuple[str, ...]] = {}
_SOLVED: set[str] = set()
_ANSWER_THUNKS: dict[str, dict[str, Callable[[], object]]] = {}
_ANSWERS: dict[str, Answers] = {}
_grading_token: str | None = None
_export_to: Path | None = None  # grading, in the student's kernel: where answers are written
_judging: Path | None = None  # grading, in the grading process: where answers are read
_seed: int = 0  # probe_rng's seed: 0 in the course notebook, drawn for each grading
_scratch: tempfile.TemporaryDirectory[str] | None = None
SOLVED_NOTE = ("(course version: this checked the solution cell above, which the student version "
               "does not have)")


@dataclass(frozen=True)
class Result:
    """The outcome of one exercise's tests: labels of the tests that hold and of those that
    do not, the first notebook name a test needed that is not defined (or ""), and the labels
    of the essential tests that do not hold (``hidden``'s ``essential``)."""

    key: str
    right: tuple[str, ...]
    wrong: tuple[str, ...]
    undefined: str = ""
    unmet: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return bool(self.right) and not self.wrong

    def line(self) -> str:
        """What the student reads: what is right, what is wrong, in one line."""
        total = len(self.right) + len(self.wrong)
        if self.passed:
            return f"✓ {self.key} right: {'; '.join(self.right)}"
        if not total:
            return f"✗ {self.key}: no tests ran"
        if self.undefined and not self.right:
            return (f"✗ {self.key}: {self.undefined} is not defined yet: write it in your answer "
                    "cell above and run that cell")
        right = f" ({'; '.join(self.right)})" if self.right else ""
        unmet = (f"; no points, because the work itself is missing: {'; '.join(self.unmet)}"
                 if self.unmet else "")
        return f"✗ {self.key}: {len(self.right)} of {total} right{right}; wrong: " + "; ".join(
            self.wrong
        ) + unmet


@contextmanager
def _machinery_quiet() -> Iterator[None]:
    """The grading machinery's own noise, kept out of the cells while it runs answers and
    tests: Keras's warning that a model answer's optimizer was not restored (a model compiled
    but trained through another, as 07's, saves an unbuilt one: its ``optimizer.iterations``
    then reads 0, which the tests see) and TensorFlow's advice on retracing, which predictions
    on several models and batch shapes in a row trigger. Other warnings still show."""
    tensorflow_log = logging.getLogger("tensorflow")
    level = tensorflow_log.level
    tensorflow_log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
            yield
    finally:
        tensorflow_log.setLevel(level)


def _short(err: Exception) -> str:
    text = str(err).strip().splitlines()
    detail = f"{type(err).__name__}: {text[0]}" if text else type(err).__name__
    return detail if len(detail) <= 80 else detail[:77] + "..."


def evaluate(key: str, tests: tuple[Test, ...], answers: Answers | None = None) -> Result:
    """Run ``tests`` now (each given ``answers`` where there are answers); a test that raises
    counts as wrong, with the error named."""
    right: list[str] = []
    wrong: list[str] = []
    undefined = ""
    for label, test in tests:
        try:
            with _machinery_quiet():
                holds = bool(test() if answers is None else test(answers))
        except Unanswered as err:
            wrong.append(f"{label} ({err})")
            continue
        except NameError as err:
            undefined = undefined or (err.name or "a name")
            wrong.append(f"{label} ({err.name or 'a name'} is not defined)")
            continue
        except Exception as err:  # a student's object may raise anything
            wrong.append(f"{label} ({_short(err)})")
            continue
        (right if holds else wrong).append(label)
    return Result(key, tuple(right), tuple(wrong), undefined)


def _validate(key: str, tests: tuple[Test, ...]) -> None:
    for test in tests:
        if not (isinstance(test, tuple) and len(test) == 2 and isinstance(test[0], str)
                and callable(test[1])):
            raise TypeError(f"{key}: each test is a (label, function) pair, not {test!r}")


class Unanswered(Exception):  # noqa: N818 (what the student reads: "x could not be computed")
    """An answer the notebook could not hand over: a test that reads it is wrong, with why."""


@dataclass
class Answers(Mapping[str, Any]):
    """One exercise's answers as the grading tests read them, from the files ``answers`` wrote:
    ``a["name"]`` is the value, or raises ``NameError`` (a name the notebook never defined) or
    ``Unanswered`` (the answer could not be computed, or is not data)."""

    folder: Path
    values: dict[str, Any]
    missing: dict[str, tuple[str, str]] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Any:
        if name in self.missing:
            reason, undefined = self.missing[name]
            if undefined:
                raise NameError(f"{undefined} is not defined", name=undefined)
            raise Unanswered(reason)
        value = self.values[name]
        if isinstance(value, _Model):  # loaded when a test first reads it, in safe mode
            import keras

            value = self.values[name] = keras.saving.load_model(
                self.folder / value.file, safe_mode=True)
        return value

    def __iter__(self) -> Iterator[str]:
        return iter([*self.values, *self.missing])

    def __len__(self) -> int:
        return len(self.values) + len(self.missing)


@dataclass(frozen=True)
class _Model:
    file: str


def _as_data(value: object) -> tuple[str, object]:
    """``("json", v)``, ``("array", a)`` or ``("model", m)``; ``TypeError`` for anything else
    (code, or an object the grading process could not read without running code)."""
    import numpy as np

    if value is None or isinstance(value, bool | int | float | str):
        return "json", value
    if isinstance(value, np.generic) and value.dtype != object:
        return "json", value.item()
    if isinstance(value, list | tuple | dict):
        items = value.values() if isinstance(value, dict) else value
        parts = [_as_data(v) for v in items]
        if all(kind == "json" for kind, _ in parts) and (
                not isinstance(value, dict) or all(isinstance(k, str) for k in value)):
            data = [v for _, v in parts]
            return "json", dict(zip(value, data, strict=True)) if isinstance(value, dict) else data
    import sys

    keras = sys.modules.get("keras")  # a model is only a Keras model where Keras is loaded
    if keras is not None and isinstance(value, keras.Model):
        return "model", value
    if hasattr(value, "__array__") and not isinstance(value, list | tuple | dict):
        array = np.asarray(value)
        if array.dtype != object:
            return "array", array
    raise TypeError(f"a {type(value).__name__}, not data the grading tests can read")


def _write(folder: Path, thunks: dict[str, Callable[[], object]]) -> None:
    """Run each of ``thunks`` and write its value as data into ``folder`` (``answers.json``,
    ``arrays.npz``, ``<name>.keras``); what raised or is not data is written as missing, with
    why."""
    import numpy as np

    folder.mkdir(parents=True, exist_ok=True)
    record: dict[str, Any] = {"json": {}, "arrays": [], "models": [], "missing": {}}
    arrays = {}
    for name, thunk in thunks.items():
        try:
            with _machinery_quiet():
                computed = thunk()
        except NameError as err:
            record["missing"][name] = [f"{err.name or 'a name'} is not defined", err.name or ""]
            continue
        except Exception as err:  # a student's function may raise anything
            record["missing"][name] = [f"{name} could not be computed: {_short(err)}", ""]
            continue
        try:
            kind, value = _as_data(computed)
        except TypeError as err:
            record["missing"][name] = [f"{name} is {err}", ""]
            continue
        if kind == "json":
            record["json"][name] = value
        elif kind == "array":
            arrays[name] = value
            record["arrays"].append(name)
        else:
            value.save(folder / f"{name}.keras")
            record["models"].append(name)
    np.savez(folder / "arrays.npz", **arrays)
    (folder / "answers.json").write_text(json.dumps(record), encoding="utf-8")


def read_answers(folder: Path) -> Answers:
    """The answers ``_write`` left in ``folder``, read as data only: JSON, arrays without
    pickles, models by file name (loaded in safe mode when a test reads them). Names that are
    not identifiers, links, and files outside ``folder`` are never read."""
    import numpy as np

    def plain(name: str) -> Path | None:
        path = folder / name
        return path if path.is_file() and not path.is_symlink() else None

    def named(names: object) -> list[str]:
        return [n for n in (names if isinstance(names, list) else [])
                if isinstance(n, str) and n.isidentifier()]

    record = json.loads(plain("answers.json").read_text(encoding="utf-8"))  # type: ignore[union-attr]
    values: dict[str, Any] = {k: v for k, v in dict(record.get("json", {})).items()
                              if isinstance(k, str) and k.isidentifier()}
    missing = {k: (str(v[0]), str(v[1]) if str(v[1]).isidentifier() else "")
               for k, v in dict(record.get("missing", {})).items()
               if isinstance(k, str) and isinstance(v, list) and len(v) == 2}
    if (npz := plain("arrays.npz")) is not None:
        with np.load(npz, allow_pickle=False) as arrays:
            for name in named(record.get("arrays")):
                try:
                    values[name] = arrays[name]
                except (KeyError, ValueError) as err:  # absent, or pickled objects
                    missing[name] = (f"{name} is not data the grading tests can read "
                                     f"({_short(err)})", "")
    values |= {k: _Model(f"{k}.keras") for k in named(record.get("models"))
               if plain(f"{k}.keras") is not None}
    return Answers(folder, values, missing)


def probe_rng(key: str) -> Any:
    """The random inputs a student's function of exercise ``key`` is called on, as a NumPy
    generator: the same draws in the course notebook every time, new draws for each grading,
    and the same ones in the student's kernel and the grading process."""
    import numpy as np

    return np.random.default_rng([_seed, *key.encode()])


def answers(key: str, **thunks: Callable[[], object]) -> None:
    """The answers cell of exercise ``key``: each keyword names an answer, and its function of
    no arguments computes it from the notebook. Their values are written as data for the
    grading tests (``hidden``); prints how many could be handed over. Never raises."""
    global _scratch
    if bad := [name for name, thunk in thunks.items() if not callable(thunk)]:
        raise TypeError(f"{key}: each answer is a function of no arguments: {bad}")
    _ANSWER_THUNKS[key] = thunks
    if _export_to is not None:
        folder = _export_to / key
    else:
        if _scratch is None:
            _scratch = tempfile.TemporaryDirectory(prefix="lab-answers-")
        folder = Path(_scratch.name) / key
    _write(folder, thunks)
    _ANSWERS[key] = read_answers(folder)
    missing = _ANSWERS[key].missing
    print(f"{key}: {len(thunks) - len(missing)} of {len(thunks)} answers handed over as data"
          + (f"; missing: {'; '.join(reason for reason, _ in missing.values())}"
             if missing else ""))


def check(key: str, *tests: Test) -> None:
    """The student's check: run ``tests`` and print one line of what is right or wrong.

    Never raises for a wrong or missing answer. The tests are kept for ``hidden(key)``.
    """
    _validate(key, tests)
    _CHECK_TESTS[key] = tests
    line = evaluate(key, tests).line()
    print(f"{line} {SOLVED_NOTE}" if key in _SOLVED else line)


def solution(key: str) -> None:
    """The first line of each course-notebook cell tagged ``solution`` (the student version has
    none): the check of ``key`` then says that it checked the course's solution, so a Run All of
    the course notebook is not read as a check of an empty answer cell."""
    _SOLVED.add(key)


@contextmanager
def without(module: ModuleType, *names: str) -> Iterator[None]:
    """Within the block, ``module.<name>`` raises when called, for each of ``names``: a grading
    test runs a student's function inside it to see that the work is the student's own, not a
    call of the library function the exercise asks them to write (restored afterwards)."""
    saved = {name: getattr(module, name) for name in names}

    def refuse(name: str) -> Callable[..., object]:
        def refused(*args: object, **kwargs: object) -> object:
            raise RuntimeError(f"{module.__name__}.{name} is what this exercise asks you to "
                               "write yourself")
        return refused

    try:
        for name in names:
            setattr(module, name, refuse(name))
        yield
    finally:
        for name, value in saved.items():
            setattr(module, name, value)


def refers_to(function: Callable[..., object], *objects: object) -> bool:
    """Whether ``function`` names any of ``objects`` directly (a global, a closure variable or a
    default): ``from helpers.explain import cam`` then ``cam(...)`` slips past ``without``."""
    if any(function is obj for obj in objects):
        return True
    if not inspect.isfunction(function):
        return False
    found = inspect.getclosurevars(function)
    values = [*found.globals.values(), *found.nonlocals.values(), *(function.__defaults__ or ())]
    return any(value is obj for value in values for obj in objects)


def _failed(label: str, wrong: tuple[str, ...]) -> bool:
    """Whether the test labelled ``label`` is among ``wrong`` (which may add the error)."""
    return any(w == label or w.startswith(f"{label} (") for w in wrong)


def hidden(key: str, *tests: Test, points: float = 1.0, essential: tuple[str, ...] = ()) -> None:
    """The grading tests of exercise ``key``; ``essential`` names those that are the work
    itself: when one fails, the exercise scores 0.

    Where the exercise has an answers cell, ``tests`` are functions of its answers (``lambda
    a: ...``) and are all there is; otherwise they read the notebook and run after the check's
    tests. Prints one line. In the course notebook a failure raises ``AssertionError`` (CI runs
    the solutions); while grading, the result is printed for the grader and nothing raises.
    """
    _validate(key, tests)
    if not points > 0:
        raise ValueError(f"{key}: points must be positive, not {points!r}")
    given = _given(key)
    every = tests if given is not None or _judging is not None else (
        *_CHECK_TESTS.get(key, ()), *tests)
    if unknown := [label for label in essential if label not in {t[0] for t in every}]:
        raise ValueError(f"{key}: essential names no test of the exercise: {unknown}")
    _HIDDEN_TESTS[key] = tests
    _ESSENTIAL[key] = essential
    if _judging is not None and given is None:
        print(f"{key}: no answers were handed over; not graded")
        return
    result = evaluate(key, every, given)
    result = replace(result, unmet=tuple(e for e in essential if _failed(e, result.wrong)))
    total = len(result.right) + len(result.wrong)
    line = f"{key} grading tests: {len(result.right)} of {total} pass" + (
        "" if result.passed else f"; wrong: {'; '.join(result.wrong) or 'no tests ran'}"
    ) + (f"; essential, so no points: {'; '.join(result.unmet)}" if result.unmet else "")
    print(("✓ " if result.passed else "✗ ") + line)
    if _grading_token is not None:
        # one write: the kernel may flush its buffer between two, and the grader reads
        # this line whole
        print(f"{_grading_token} {json.dumps({**asdict(result), 'points': points})}")
    elif not result.passed and not _dry_run():
        raise AssertionError(line)


def _given(key: str) -> Answers | None:
    """Exercise ``key``'s answers: from the answers cell that ran in this notebook, or, in the
    grading process, from the files the student's kernel wrote (None when there are none)."""
    if _judging is not None:
        folder = _judging / key
        if not (folder / "answers.json").is_file() or (folder / "answers.json").is_symlink():
            return None
        return read_answers(folder)
    return _ANSWERS.get(key)


def _dry_run() -> bool:
    """``LAB_DRYRUN`` as the course reads it (only asked outside grading)."""
    import importlib.util
    import sys
    from pathlib import Path

    if (settings := sys.modules.get("_lab_settings")) is None:
        spec = importlib.util.spec_from_file_location(
            "_lab_settings", Path(__file__).with_name("settings.py"))
        settings = sys.modules["_lab_settings"] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(settings)
    return bool(settings.flag("LAB_DRYRUN"))


UNDEFINED = object()
"""In ``refuses``: the name is left undefined (the student did not write it)."""


def refuses(key: str, namespace: dict[str, object], why: str,
            answers: dict[str, object] | Callable[[], dict[str, object]]) -> None:
    """CI's test that exercise ``key`` cannot be gamed (course notebook, after ``hidden``): with
    ``answers`` (a trivial or copied answer, ``why`` in words; a dict of names, or a function
    that makes it) in place of those names in ``namespace`` (the notebook's ``globals()``), the
    check's and grading tests must not all pass, and where ``hidden`` named essential tests,
    one of those must fail (the gamed answer scores no points); raises ``AssertionError`` when
    it would score. The names are put back. Does nothing while grading (``answers`` is not
    even made: it would test the student's kernel, not the exercise) and only prints in a dry
    run."""
    if _grading_token is not None:
        return
    if callable(answers):
        answers = answers()
    saved = {name: namespace[name] for name in answers if name in namespace}
    try:
        for name, value in answers.items():
            if value is UNDEFINED:
                namespace.pop(name, None)
            else:
                namespace[name] = value
        if key in _ANSWER_THUNKS:  # what grading would read: the answers cell's data
            folder = Path(tempfile.mkdtemp(prefix="lab-refused-"))
            try:
                _write(folder, _ANSWER_THUNKS[key])
                result = evaluate(key, _HIDDEN_TESTS.get(key, ()), read_answers(folder))
            finally:
                import shutil

                shutil.rmtree(folder, ignore_errors=True)
        else:
            result = evaluate(key, (*_CHECK_TESTS.get(key, ()), *_HIDDEN_TESTS.get(key, ())))
    finally:
        for name in answers:
            namespace.pop(name, None)
        namespace.update(saved)
    essential = _ESSENTIAL.get(key, ())
    unmet = [label for label in essential if _failed(label, result.wrong)]
    if not result.wrong or (essential and not unmet):
        line = (f"✗ {key} gives {'points' if result.wrong else 'full marks'} to a gamed answer "
                f"({why})")
        print(line)
        if not _dry_run():
            raise AssertionError(line)
        return
    print(f"✓ {key} refuses a gamed answer ({why}): "
          + (f"no points, essential: {unmet[0]}" if unmet else f"wrong: {result.wrong[0]}"))


def begin_grading(token: str) -> None:
    """Grading mode (the grader calls this in the cells it adds): ``hidden`` prints its result
    as JSON after ``token`` and raises nothing."""
    global _grading_token
    _grading_token = token


def begin_export(folder: str | Path, seed: int) -> None:
    """Grading, in the student's kernel (the grader's cell before each answers cell): answers
    are written under ``folder``, and ``probe_rng`` draws from ``seed``."""
    global _export_to, _seed
    _export_to, _seed = Path(folder), int(seed)


def begin_judging(folder: str | Path, seed: int, token: str) -> None:
    """Grading, in the grading process: ``hidden`` reads the answers under ``folder``,
    ``probe_rng`` draws from ``seed`` (as the kernel did) and results are printed after
    ``token``."""
    global _judging, _seed
    _judging, _seed = Path(folder), int(seed)
    begin_grading(token)
