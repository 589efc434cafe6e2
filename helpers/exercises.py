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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from types import ModuleType

Test = tuple[str, Callable[[], object]]
"""A label saying what must hold, and a function that is truthy when it does."""

_CHECK_TESTS: dict[str, tuple[Test, ...]] = {}
_HIDDEN_TESTS: dict[str, tuple[Test, ...]] = {}
_ESSENTIAL: dict[str, tuple[str, ...]] = {}
_SOLVED: set[str] = set()
_grading_token: str | None = None
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


def _short(err: Exception) -> str:
    text = str(err).strip().splitlines()
    detail = f"{type(err).__name__}: {text[0]}" if text else type(err).__name__
    return detail if len(detail) <= 80 else detail[:77] + "..."


def evaluate(key: str, tests: tuple[Test, ...]) -> Result:
    """Run ``tests`` now; a test that raises counts as wrong, with the error named."""
    right: list[str] = []
    wrong: list[str] = []
    undefined = ""
    for label, test in tests:
        try:
            holds = bool(test())
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
    """The grading tests of exercise ``key``: its check's tests, then ``tests``; ``essential``
    names those (of either) that are the work itself: when one fails, the exercise scores 0.

    Prints one line. In the course notebook a failure raises ``AssertionError`` (CI runs the
    solutions); while grading, the result is printed for the grader and nothing raises.
    """
    _validate(key, tests)
    if not points > 0:
        raise ValueError(f"{key}: points must be positive, not {points!r}")
    every = (*_CHECK_TESTS.get(key, ()), *tests)
    if unknown := [label for label in essential if label not in {t[0] for t in every}]:
        raise ValueError(f"{key}: essential names no test of the exercise: {unknown}")
    _HIDDEN_TESTS[key] = tests
    _ESSENTIAL[key] = essential
    result = evaluate(key, every)
    result = replace(result, unmet=tuple(e for e in essential if _failed(e, result.wrong)))
    total = len(result.right) + len(result.wrong)
    line = f"{key} grading tests: {len(result.right)} of {total} pass" + (
        "" if result.passed else f"; wrong: {'; '.join(result.wrong) or 'no tests ran'}"
    ) + (f"; essential, so no points: {'; '.join(result.unmet)}" if result.unmet else "")
    print(("✓ " if result.passed else "✗ ") + line)
    if _grading_token is not None:
        print(_grading_token, json.dumps({**asdict(result), "points": points}))
    elif not result.passed and not _dry_run():
        raise AssertionError(line)


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
