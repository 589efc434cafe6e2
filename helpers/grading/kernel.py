"""One submission run in a kernel process of its own: the notebook as graded (its checks
restored, a grading cell after each), the limits it runs under, and what its grading cells
recorded."""

from __future__ import annotations

import copy
import json
import os
import re
import resource
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helpers import runtime, weights
from helpers.grading.handout import Exercise, Spec, first_line
from helpers.grading.submission import check_cell

GIB = 2**30
_TIMEOUT = "CellTimeout"


@dataclass(frozen=True)
class Limits:
    """Per submission: seconds for the whole notebook and for one cell; GiB of address space
    for the kernel (TensorFlow alone reserves about 3 GiB of it); MiB of the submitted file."""

    notebook_seconds: float = 1800.0
    cell_seconds: float = 900.0
    memory_gib: float = 8.0
    file_mib: float = 64.0


@dataclass(frozen=True)
class Problem:
    """Why a submission lost points or needs a look: a reason (the summary counts these) and
    one line for the student's feedback."""

    reason: str
    message: str


@dataclass
class Grade:
    """One submission's scores per exercise, the result line behind each, and its problems."""

    student: str
    scores: dict[str, float]
    results: dict[str, str]
    problems: list[Problem] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def total(self) -> float:
        return round(sum(self.scores.values()), 3)



def _grading_source(ex: Exercise, token: str, exercises_file: Path, answers_dir: Path,
                    seed: int) -> str:
    """A cell the grader adds: a fresh ``helpers.exercises`` in grading mode, then the course
    notebook's check and grading tests of ``ex``; or, where ``ex`` has an answers cell, only
    that cell, which writes the answers as data under ``answers_dir`` (the grading tests run
    in the grading process, ``helpers.grading.judge``)."""
    begin = (f"exercises.begin_export({str(answers_dir)!r}, {seed})" if ex.answers
             else f"exercises.begin_grading({token!r})")
    what = ("answers, handed over as data to the grading tests" if ex.answers
            else "check and grading tests")
    return "\n".join([
        f"# Added by the grader: the course notebook's {what} of {ex.key}.",
        *fresh_exercises(exercises_file, "exercises"),
        begin,
        *([ex.answers] if ex.answers else [ex.check, ex.hidden]),
    ])


def fresh_exercises(exercises_file: Path, name: str) -> list[str]:
    """Lines that load a fresh ``helpers.exercises`` from ``exercises_file`` into the global
    ``name``, whatever the notebook did to the imported one."""
    return [
        "import importlib.util as _lab_util",
        "import sys as _lab_sys",
        f"_lab_spec = _lab_util.spec_from_file_location('helpers.exercises', "
        f"{str(exercises_file)!r})",
        f"{name} = _lab_sys.modules['helpers.exercises'] = _lab_util.module_from_spec(_lab_spec)",
        f"_lab_spec.loader.exec_module({name})",
        "if 'helpers' in _lab_sys.modules:",
        f"    _lab_sys.modules['helpers'].exercises = {name}",
    ]


@dataclass
class Prepared:
    """The notebook as it will run, a label per code cell, the grading cells' tokens by
    cell index, and what preparing it found (a check edited or deleted)."""

    nb: Any
    labels: dict[int, str]
    tokens: dict[int, tuple[str, str]]
    problems: list[Problem]


def prepare(nb: Any, spec: Spec, exercises_file: Path, answers_dir: Path = Path("answers"),
            seed: int = 0) -> Prepared:
    """The notebook to run (``nb`` as ``submission.read`` gives it): the submission, its checks
    restored to the originals, and a grading cell after each exercise's check (at the end
    where the check is gone); answers go to ``answers_dir``, drawn with ``seed``."""
    from nbformat.v4 import new_code_cell

    nb = copy.deepcopy(nb)
    labels: dict[int, str] = {}
    number = 0
    for cell in nb.cells:
        if cell.cell_type == "code":
            number += 1
            labels[id(cell)] = f"code cell {number} ({first_line(cell.source, 40) or 'empty'})"
    problems = []
    after: dict[str, Any] = {}
    for ex in spec.exercises:
        cell, restored = check_cell(nb.cells, ex)
        if cell is None:
            problems.append(Problem("check deleted", f"the check of {ex.key} was deleted; graded "
                                    "with the course notebook's check"))
        elif restored is not None:
            problems.append(Problem("check edited", f"the check of {ex.key} was edited; graded "
                                    "with the course notebook's check"))
            cell.source = restored
        after[ex.key] = cell
    grading = {}
    for ex in spec.exercises:
        token = secrets.token_hex(16)
        grading[ex.key] = new_code_cell(_grading_source(ex, token, exercises_file, answers_dir,
                                                        seed))
        grading[ex.key].id = "lab-grading-" + re.sub(r"[^\w-]", "-", ex.key)
        labels[id(grading[ex.key])] = (f"the answers of {ex.key}" if ex.answers
                                       else f"the grading tests of {ex.key}")
        grading[ex.key].metadata["lab_grading"] = {"key": ex.key, "token": token}
    cells = []
    for cell in nb.cells:
        cells.append(cell)
        cells += [grading[ex.key] for ex in spec.exercises if after[ex.key] is cell]
    cells += [grading[ex.key] for ex in spec.exercises if after[ex.key] is None]
    nb.cells = cells
    return Prepared(
        nb,
        {i: labels[id(c)] for i, c in enumerate(cells) if c.cell_type == "code"},
        {i: (c.metadata["lab_grading"]["key"], c.metadata["lab_grading"]["token"])
         for i, c in enumerate(cells) if "lab_grading" in c.metadata},
        problems,
    )


def _memory_limit(gib: float) -> Callable[[], None]:
    size = int(gib * GIB)

    def apply() -> None:  # runs in the kernel process, before it starts
        resource.setrlimit(resource.RLIMIT_AS, (size, size))

    return apply


def _log_tail(log: Path) -> str:
    lines = [line for line in log.read_text(errors="replace").splitlines()
             if line.strip() and "IPKernelApp" not in line] if log.exists() else []
    return f"; its last words: {first_line(lines[-1])}" if lines else ""


def execute(prepared: Prepared, work: Path, log: Path, env: dict[str, str],
            limits: Limits, manager: type | None = None) -> list[Problem]:
    """Run the prepared notebook cell by cell in a new kernel (started by ``manager``, a kernel
    manager class, where given: the sandbox's); the problems met."""
    from nbclient import NotebookClient

    deadline = time.monotonic() + limits.notebook_seconds
    errors: dict[int, dict[str, Any]] = {}
    client = NotebookClient(
        prepared.nb,
        **({"kernel_manager_class": manager} if manager is not None else {}),
        kernel_name="python3",
        allow_errors=True,
        coalesce_streams=True,  # one output per stream and cell, however the kernel flushed
        interrupt_on_timeout=True,
        error_on_timeout={"ename": _TIMEOUT, "evalue": "", "traceback": []},
        timeout_func=lambda cell: max(
            1, int(min(limits.cell_seconds, deadline - time.monotonic()))),
        iopub_timeout=2,
        startup_timeout=120,
        shutdown_kernel="immediate",
        on_cell_error=lambda cell, cell_index, execute_reply: errors.setdefault(
            cell_index, execute_reply["content"]),
    )
    client.reset_execution_trackers()
    with open(log, "w") as out:
        try:
            with client.setup_kernel(env=env, cwd=str(work), stdout=out, stderr=out,
                                     preexec_fn=_memory_limit(limits.memory_gib)):
                return _run_cells(client, prepared, deadline, errors, limits, log)
        except Exception as err:  # the kernel did not start, or the client failed
            return [Problem("kernel died", "the notebook could not be run: "
                            f"{type(err).__name__}: {first_line(str(err))}")]


def _run_cells(client: Any, prepared: Prepared, deadline: float,
               errors: dict[int, dict[str, Any]], limits: Limits, log: Path) -> list[Problem]:
    """Execute the code cells in order until the deadline, a dead kernel, or a kernel that a
    timed-out cell left busy (the next cell timed out too); what went wrong in each."""
    from nbclient.exceptions import DeadKernelError

    problems: list[Problem] = []
    timed_out = False
    for index, cell in enumerate(prepared.nb.cells):
        if cell.cell_type != "code":
            continue
        label = prepared.labels[index]
        if time.monotonic() >= deadline:
            problems.append(Problem("time limit", f"stopped at the {limits.notebook_seconds:g} s "
                                    f"limit for the whole notebook, before {label}"))
            break
        try:
            client.execute_cell(cell, index)
        except DeadKernelError:
            problems.append(Problem("kernel died", f"the kernel died in {label} (a crash, or over "
                                    f"the {limits.memory_gib:g} GiB memory limit){_log_tail(log)};"
                                    " the cells after it did not run"))
            break
        error = errors.get(index, {})
        name = error.get("ename")
        if name == _TIMEOUT and timed_out:
            problems.append(Problem("time limit", f"{label} could not start: the kernel stayed "
                                    "busy after the interrupt; the notebook was stopped there"))
            break
        timed_out = name == _TIMEOUT
        if timed_out:
            problems.append(Problem("time limit", f"{label} ran past the time limit "
                                    f"({limits.cell_seconds:g} s a cell, "
                                    f"{limits.notebook_seconds:g} s the notebook) and was "
                                    "interrupted"))
        elif name == "MemoryError":
            problems.append(Problem("memory limit", f"{label} ran out of memory (limit "
                                    f"{limits.memory_gib:g} GiB)"))
        elif error:
            problems.append(Problem("error", f"{label} raised {name}: "
                                    f"{first_line(error.get('evalue', ''))}"))
    return problems


def kernel_env(work: Path) -> dict[str, str]:
    """The kernel's environment: ``work`` is its home and project, quick mode, the shared
    data cache and Keras home."""
    env = dict(os.environ)
    env.update({
        "HOME": str(work),
        "TMPDIR": str(work / "tmp"),
        "LAB_HOME": str(work),
        "LAB_MODE": "quick",
        "LAB_BUILD": str(work / "build"),
        "LAB_RESULTS": str(work / "results"),
        "LAB_CACHE": str(runtime.cache_dir()),
        "KERAS_HOME": str(weights.keras_models_dir().parent),
    })
    return env


def recorded(prepared: Prepared) -> dict[str, dict[str, Any]]:
    """The results the grading cells printed after their tokens."""
    found: dict[str, dict[str, Any]] = {}
    for index, (key, token) in prepared.tokens.items():
        text = "".join(o.get("text", "") for o in prepared.nb.cells[index].get("outputs", [])
                       if o.get("output_type") == "stream" and o.get("name") == "stdout")
        for line in text.splitlines():
            if line.startswith(token + " ") and key not in found:
                try:
                    found[key] = json.loads(line[len(token) + 1:])
                except json.JSONDecodeError:
                    continue
    return found
