"""Student versions of the course notebooks, and the grading of submissions (docs/grading.md).

One source: a course notebook holds, per exercise, the student's answer cell, the solution
(cells tagged ``solution``), the check a student runs (tagged ``check``) and the grading tests
(tagged ``hidden-tests``); ``helpers.exercises`` says how the last two are written.

* ``write_student`` makes the version handed out (solutions and grading tests removed, checks
  kept, no outputs) and the grading spec: each exercise's check and grading tests as handed out.
* ``grade`` runs each submission in its own kernel process, in a temporary folder that is its
  home and working directory, under a time limit per cell and per notebook and a memory limit.
  After each exercise's check cell it adds the course notebook's check and grading tests (the
  original check, whatever the submission did to its own) and scores what the notebook computed.
  A submission that crashes, loops, runs out of memory, edits or deletes a check, or writes
  outside its folder gets the points of what did run and the reason; what it changed in the
  course folder or the submissions folder is put back. The CSV, one feedback file per student,
  the executed notebooks and a histogram of the totals are written as it goes.
"""

from __future__ import annotations

import ast
import copy
import csv
import hashlib
import json
import os
import re
import resource
import secrets
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from helpers import exercises, runtime, weights

SOLUTION, CHECK, HIDDEN = "solution", "check", "hidden-tests"
GIB = 2**30
BACKUP_MAX_BYTES = 32 * 2**20
"""Larger files in a watched folder are watched but cannot be put back."""
_SKIPPED_NAMES = {".git", "build", "__pycache__", ".ipynb_checkpoints", ".ruff_cache",
                  ".pytest_cache"}
_TIMEOUT = "CellTimeout"


class GradingError(ValueError):
    """A notebook's exercise cells, or the grading's inputs, are not as this module expects."""


# --- the exercises of a course notebook -------------------------------------------------------


@dataclass(frozen=True)
class Exercise:
    """One exercise as handed out: its key, points, and the sources of its check cell and of
    its grading-tests cell."""

    key: str
    points: float
    check: str
    hidden: str


@dataclass(frozen=True)
class Spec:
    """What a notebook's grading runs: its exercises, and the course notebook they came from."""

    notebook: str
    master_sha256: str
    created: str
    exercises: tuple[Exercise, ...]

    @property
    def max_points(self) -> float:
        return sum(ex.points for ex in self.exercises)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=1) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Spec:
        data = json.loads(text)
        return cls(**{**data, "exercises": tuple(Exercise(**ex) for ex in data["exercises"])})


def _tags(cell: Any) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", []))


def _calls(source: str, function: str, where: str) -> list[tuple[str, float]]:
    """The ``<anything>.function("KEY", ..., points=N)`` calls in ``source``: (key, points)."""
    try:
        tree = ast.parse(source)
    except SyntaxError as err:
        raise GradingError(f"{where}: not valid Python ({err.msg}, line {err.lineno})") from None
    found = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == function and node.args
                and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            points = [kw.value.value for kw in node.keywords
                      if kw.arg == "points" and isinstance(kw.value, ast.Constant)]
            found.append((node.args[0].value, float(points[0]) if points else 1.0))
    return found


def spec_from_notebook(nb: Any, name: str, sha256: str) -> Spec:
    """The exercises of course notebook ``nb``: one ``check`` cell and one ``hidden-tests`` cell
    per exercise, each with exactly one ``exercises.check`` / ``exercises.hidden`` call."""
    found: dict[str, dict[str, tuple[str, float]]] = {CHECK: {}, HIDDEN: {}}
    for index, cell in enumerate(nb.cells):
        for tag, function in ((CHECK, "check"), (HIDDEN, "hidden")):
            if tag not in _tags(cell):
                continue
            where = f"{name}, cell {index + 1} (tagged {tag})"
            if cell.cell_type != "code":
                raise GradingError(f"{where}: must be a code cell")
            calls = _calls(cell.source, function, where)
            if len(calls) != 1:
                raise GradingError(f'{where}: needs exactly one exercises.{function}("KEY", ...) '
                                   f"call, found {len(calls)}")
            key, points = calls[0]
            if key in found[tag]:
                raise GradingError(f"{where}: a second {tag} cell for exercise {key}")
            found[tag][key] = (cell.source, points)
    checks, hidden = found[CHECK], found[HIDDEN]
    if unmatched := sorted(set(checks) ^ set(hidden)):
        raise GradingError(
            f"{name}: every exercise needs a check cell and a hidden-tests cell; "
            f"{', '.join(unmatched)} has only one (exercises.hidden(\"KEY\") with no tests of "
            "its own re-runs the check's tests at grading, and in CI)"
        )
    return Spec(
        notebook=name,
        master_sha256=sha256,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        exercises=tuple(Exercise(key, hidden[key][1], checks[key][0], hidden[key][0])
                        for key in checks),
    )


def has_exercises(path: Path) -> bool:
    """Whether the notebook at ``path`` has a cell tagged ``check``."""
    import nbformat

    return any(CHECK in _tags(cell) for cell in nbformat.read(path, as_version=4).cells)


def student_version(nb: Any) -> Any:
    """``nb`` without its solution and grading-test cells, and without outputs."""
    out = copy.deepcopy(nb)
    out.cells = [cell for cell in out.cells if not _tags(cell) & {SOLUTION, HIDDEN}]
    for cell in out.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return out


def _code_lines(cell: Any) -> set[str]:
    return {line.split("#", 1)[0].strip() for line in cell.source.splitlines()}


def solution_leaks(student: Any, master: Any) -> list[str]:
    """The master's solution and grading-test cells whose code (its lines of 20 characters or
    more) is all still in one cell of the student version: copies that lost their tag."""
    kept = [_code_lines(cell) for cell in student.cells]
    leaks = []
    for cell in master.cells:
        lines = {line for line in _code_lines(cell) if len(line) >= 20}
        if _tags(cell) & {SOLUTION, HIDDEN} and lines and any(lines <= k for k in kept):
            leaks.append(_first_line(cell.source, 60))
    return leaks


def spec_path(name: str) -> Path:
    """Where ``write_student`` keeps a notebook's grading spec (instructors only)."""
    return runtime.build_dir() / "grading" / f"{name}.json"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_student(master: Path, out_dir: Path) -> tuple[Path, Spec]:
    """Write the student version of ``master`` into ``out_dir`` and its grading spec to
    ``spec_path``; raises ``GradingError`` when it has no exercises or would leak a solution."""
    import nbformat

    nb = nbformat.read(master, as_version=4)
    spec = spec_from_notebook(nb, master.stem, _sha256(master))
    if not spec.exercises:
        raise GradingError(f"{master.stem} has no exercises (no cell tagged {CHECK})")
    student = student_version(nb)
    if leaks := solution_leaks(student, nb):
        raise GradingError(f"{master.stem}: the student version would still contain the "
                           f"solution starting {leaks[0]!r}; tag the cell copy {SOLUTION}")
    out_dir.mkdir(parents=True, exist_ok=True)
    nbformat.write(student, out_dir / master.name)
    spec_path(master.stem).parent.mkdir(parents=True, exist_ok=True)
    spec_path(master.stem).write_text(spec.to_json(), encoding="utf-8")
    return out_dir / master.name, spec


def spec_for(master: Path) -> tuple[Spec, str]:
    """The spec written with the student versions (the tests handed out), else one made from
    the course notebook now; and one line saying which."""
    import nbformat

    saved = spec_path(master.stem)
    if saved.exists():
        spec = Spec.from_json(saved.read_text(encoding="utf-8"))
        note = f"grading with the tests handed out on {spec.created} ({saved})"
        if spec.master_sha256 != _sha256(master):
            note += f"; {master.name} has changed since"
        return spec, note
    spec = spec_from_notebook(nbformat.read(master, as_version=4), master.stem, _sha256(master))
    return spec, f"no {saved}: grading with the tests of {master} as it is now"


# --- one submission ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    """Per submission: seconds for the whole notebook and for one cell; GiB of address space
    for the kernel (TensorFlow alone reserves about 3 GiB of it)."""

    notebook_seconds: float = 1800.0
    cell_seconds: float = 900.0
    memory_gib: float = 8.0


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


def _first_line(text: str, limit: int = 100) -> str:
    lines = [line for line in str(text).strip().splitlines() if line.strip()]
    line = lines[0].strip() if lines else ""
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _grading_source(ex: Exercise, token: str, exercises_file: Path) -> str:
    """A cell the grader adds: a fresh ``helpers.exercises`` in grading mode, then the course
    notebook's check and grading tests of ``ex``."""
    return "\n".join([
        f"# Added by the grader: the course notebook's check and grading tests of {ex.key}.",
        "import importlib.util as _lab_util",
        "import sys as _lab_sys",
        f"_lab_spec = _lab_util.spec_from_file_location('helpers.exercises', "
        f"{str(exercises_file)!r})",
        "exercises = _lab_sys.modules['helpers.exercises'] = _lab_util.module_from_spec(_lab_spec)",
        "_lab_spec.loader.exec_module(exercises)",
        "if 'helpers' in _lab_sys.modules:",
        "    _lab_sys.modules['helpers'].exercises = exercises",
        f"exercises.begin_grading({token!r})",
        ex.check,
        ex.hidden,
    ])


def _normal(source: str) -> str:
    return "\n".join(line.rstrip() for line in source.strip().splitlines())


@dataclass
class _Prepared:
    nb: Any
    labels: dict[int, str]
    tokens: dict[int, tuple[str, str]]
    problems: list[Problem]


def _prepare(nb: Any, spec: Spec, exercises_file: Path) -> _Prepared:
    """The notebook to run: the submission, its checks restored to the originals, and a grading
    cell after each exercise's check (at the end where the check is gone)."""
    from nbformat.v4 import new_code_cell, upgrade

    nb = upgrade(copy.deepcopy(nb), from_version=4, from_minor=nb.nbformat_minor)  # cell ids
    labels: dict[int, str] = {}
    number = 0
    for cell in nb.cells:
        if cell.cell_type == "code":
            number += 1
            labels[id(cell)] = f"code cell {number} ({_first_line(cell.source, 40) or 'empty'})"
    problems = []
    after: dict[str, Any] = {}
    for ex in spec.exercises:
        call = re.compile(r"\bcheck\(\s*[\"']" + re.escape(ex.key) + r"[\"']")
        cell = next((c for c in nb.cells if c.cell_type == "code" and call.search(c.source)), None)
        if cell is None:
            problems.append(Problem("check deleted", f"the check of {ex.key} was deleted; graded "
                                    "with the course notebook's check"))
        elif _normal(cell.source) != _normal(ex.check):
            problems.append(Problem("check edited", f"the check of {ex.key} was edited; graded "
                                    "with the course notebook's check"))
            cell.source = ex.check
        after[ex.key] = cell
    grading = {}
    for ex in spec.exercises:
        token = secrets.token_hex(16)
        grading[ex.key] = new_code_cell(_grading_source(ex, token, exercises_file))
        labels[id(grading[ex.key])] = f"the grading tests of {ex.key}"
        grading[ex.key].metadata["lab_grading"] = {"key": ex.key, "token": token}
    cells = []
    for cell in nb.cells:
        cells.append(cell)
        cells += [grading[ex.key] for ex in spec.exercises if after[ex.key] is cell]
    cells += [grading[ex.key] for ex in spec.exercises if after[ex.key] is None]
    nb.cells = cells
    return _Prepared(
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
    return f"; its last words: {_first_line(lines[-1])}" if lines else ""


def _execute(prepared: _Prepared, work: Path, log: Path, env: dict[str, str],
             limits: Limits) -> list[Problem]:
    """Run the prepared notebook cell by cell in a new kernel; the problems met."""
    from nbclient import NotebookClient

    deadline = time.monotonic() + limits.notebook_seconds
    errors: dict[int, dict[str, Any]] = {}
    client = NotebookClient(
        prepared.nb,
        kernel_name="python3",
        allow_errors=True,
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
                            f"{type(err).__name__}: {_first_line(str(err))}")]


def _run_cells(client: Any, prepared: _Prepared, deadline: float,
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
                                    f"{_first_line(error.get('evalue', ''))}"))
    return problems


def _kernel_env(work: Path) -> dict[str, str]:
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


def _recorded(prepared: _Prepared) -> dict[str, dict[str, Any]]:
    """The results the grading cells printed after their tokens."""
    found: dict[str, dict[str, Any]] = {}
    for index, (key, token) in prepared.tokens.items():
        streams = [o for o in prepared.nb.cells[index].get("outputs", [])
                   if o.get("output_type") == "stream"]
        for output in streams:
            for line in output.get("text", "").splitlines():
                if line.startswith(token + " ") and key not in found:
                    try:
                        found[key] = json.loads(line[len(token) + 1:])
                    except json.JSONDecodeError:
                        continue
    return found


# --- folders a submission must leave alone ----------------------------------------------------


@dataclass
class _Watch:
    """A folder a submission must not change: what it changed is put back from ``backup``
    (moving what it wrote to the quarantine when ``quarantine``), or only reported; with
    ``new_allowed`` it may add files (a shared data cache filling on first use)."""

    root: Path
    skip: frozenset[Path]
    backup: dict[str, bytes] | None
    new_allowed: bool = False
    quarantine: bool = True

    def scan(self) -> dict[str, tuple[int, int]]:
        state: dict[str, tuple[int, int]] = {}
        for folder, dirs, files in os.walk(self.root):
            here = Path(folder)
            dirs[:] = [d for d in dirs if not _skipped(d) and here / d not in self.skip]
            for name in dirs + files:
                path = here / name
                if path in self.skip:
                    continue
                try:
                    info = path.lstat()
                except OSError:
                    continue
                size = -1 if name in dirs else info.st_size
                state[path.relative_to(self.root).as_posix()] = (size, info.st_mtime_ns)
        return state

    def settle(self, before: dict[str, tuple[int, int]], quarantine: Path) -> list[Problem]:
        """Compare with ``before``, put back what can be, report what changed."""
        after = self.scan()
        changed = sorted(r for r in before.keys() & after.keys()
                         if before[r] != after[r] and before[r][0] >= 0)
        removed = sorted(r for r in before.keys() - after.keys() if before[r][0] >= 0)
        added = [] if self.new_allowed else sorted(after.keys() - before.keys())
        if not (changed or removed or added):
            return []
        seen = [f"changed {self.root / r}" for r in changed]
        seen += [f"deleted {self.root / r}" for r in removed]
        seen += [f"created {self.root / r}" for r in added]
        lost = []
        for rel in reversed(added):  # files before their folders
            self._move_aside(rel, quarantine)
        for rel in changed + removed:
            if self.backup is None or rel not in self.backup:
                lost.append(rel)
                continue
            self._move_aside(rel, quarantine)
            target = self.root / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(self.backup[rel])
        more = f" and {len(seen) - 3} more" if len(seen) > 3 else ""
        undo = ["put back"] if len(lost) < len(changed) + len(removed) else []
        undo += [f"not put back: {', '.join(lost[:3])}"] if lost else []
        if self.quarantine and (changed or added):
            undo.append(f"what it wrote moved to {quarantine}")
        elif added:
            undo.append("what it created removed")
        return [Problem("outside its folder", f"wrote outside its folder: {', '.join(seen[:3])}"
                        f"{more}; {', '.join(undo)}")]

    def _move_aside(self, rel: str, quarantine: Path) -> None:
        path = self.root / rel
        if not path.exists() and not path.is_symlink():
            return
        if path.is_dir() and not path.is_symlink() and not any(path.iterdir()):
            path.rmdir()  # a folder it made, whose files are moved already
            return
        if not self.quarantine:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            return
        dest = quarantine / self.root.name / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(path), str(dest))


def _skipped(name: str) -> bool:
    return name in _SKIPPED_NAMES or name.startswith(".venv") or name.endswith(".egg-info")


def _inside(path: Path, roots: Sequence[Path]) -> bool:
    return any(path == root or root in path.parents for root in roots)


def _backup(root: Path, skip: frozenset[Path]) -> dict[str, bytes]:
    watch = _Watch(root, skip, None)
    return {rel: (root / rel).read_bytes() for rel, (size, _) in watch.scan().items()
            if 0 <= size <= BACKUP_MAX_BYTES and (root / rel).is_file()}


def _watches(tmp_root: Path, fixed: dict[str, bytes], course: Path, submissions: Path,
             ours: Sequence[Path]) -> list[_Watch]:
    """The grading's own temporary folder (outside each submission's), the course folder and
    the submissions (put back), and the shared data cache and Keras home (may only grow)."""
    shared = [p.resolve() for p in (runtime.cache_dir(), weights.keras_models_dir().parent)
              if p.is_dir()]
    run = tmp_root / "run"
    watches = [_Watch(tmp_root, frozenset({run / "work", run / "kernel.log"}), fixed,
                      quarantine=False)]
    skip = frozenset([*ours, tmp_root, *shared])
    for root in dict.fromkeys((course, submissions)):
        if root.is_dir() and not _inside(root, [w.root for w in watches[1:]]):
            watches.append(_Watch(root, skip, _backup(root, skip)))
    for root in shared:
        if not _inside(root, [tmp_root]):
            watches.append(_Watch(root, frozenset([*ours, tmp_root]), None, new_allowed=True,
                                  quarantine=False))
    return watches


# --- the grading run --------------------------------------------------------------------------


def _safe(name: str) -> str:
    return re.sub(r"[^\w.-]", "_", name.replace("/", "__"))


def _grade_one(name: str, path: Path, spec: Spec, limits: Limits, tmp_root: Path,
               watches: list[_Watch], folder: Path) -> Grade:
    import nbformat

    start = time.monotonic()
    grade = Grade(name, {ex.key: 0.0 for ex in spec.exercises},
                  {ex.key: "not graded: its grading tests did not run" for ex in spec.exercises})
    try:
        nb = nbformat.reads(path.read_text(encoding="utf-8"), as_version=4)
    except Exception as err:  # not JSON, not a notebook, not UTF-8
        grade.problems.append(Problem("unreadable", "not a readable notebook: "
                                      f"{type(err).__name__}: {_first_line(str(err))}"))
        grade.results = dict.fromkeys(grade.results, "not graded: the file is not a notebook")
        return grade
    prepared = _prepare(nb, spec, tmp_root / "exercises.py")
    grade.problems += prepared.problems
    run = tmp_root / "run"
    shutil.rmtree(run, ignore_errors=True)
    work = run / "work"
    (work / "tmp").mkdir(parents=True)
    nbformat.write(nb, work / path.name)
    before = [watch.scan() for watch in watches]
    grade.problems += _execute(prepared, work, run / "kernel.log", _kernel_env(work), limits)
    for watch, state in zip(watches, before, strict=True):
        grade.problems += watch.settle(state, folder / "quarantine" / _safe(name))
    (folder / "executed").mkdir(parents=True, exist_ok=True)
    nbformat.write(prepared.nb, folder / "executed" / f"{_safe(name)}.ipynb")
    shutil.rmtree(run, ignore_errors=True)
    recorded = _recorded(prepared)
    for ex in spec.exercises:
        if (record := recorded.get(ex.key)) is None:
            continue
        result = exercises.Result(ex.key, tuple(record["right"]), tuple(record["wrong"]),
                                  record["undefined"])
        total = len(result.right) + len(result.wrong)
        grade.scores[ex.key] = round(ex.points * len(result.right) / total, 3) if total else 0.0
        grade.results[ex.key] = result.line()
    grade.seconds = time.monotonic() - start
    return grade


def feedback(grade: Grade, spec: Spec) -> str:
    """The short markdown file a student gets."""
    lines = [f"# {spec.notebook}: {grade.student}", "",
             f"Total: {grade.total:g} of {spec.max_points:g} points.", "",
             "| exercise | points | result |", "|---|---|---|"]
    for ex in spec.exercises:
        result = grade.results[ex.key].replace("|", "\\|")
        lines.append(f"| {ex.key} | {grade.scores[ex.key]:g} of {ex.points:g} | {result} |")
    if grade.problems:
        lines += ["", "Problems:", *(f"- {p.message}" for p in grade.problems)]
    return "\n".join(lines) + "\n"


def _write_csv(path: Path, grades: Sequence[Grade], spec: Spec) -> None:
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["student", *(ex.key for ex in spec.exercises), "total", "max",
                         "seconds", "errors"])
        for g in grades:
            writer.writerow([g.student, *(f"{g.scores[ex.key]:g}" for ex in spec.exercises),
                             f"{g.total:g}", f"{spec.max_points:g}", f"{g.seconds:.0f}",
                             " | ".join(p.message for p in g.problems)])


def _histogram(path: Path, grades: Sequence[Grade], spec: Spec) -> None:
    import numpy as np
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    totals = [g.total for g in grades]
    fig = Figure(figsize=(6, 3.5))
    ax = fig.subplots()
    ax.hist(totals, bins=np.linspace(0, spec.max_points, 11), color="tab:blue", edgecolor="white")
    ax.set_xlim(0, spec.max_points)
    ax.set_xlabel(f"total points (of {spec.max_points:g})")
    ax.set_ylabel("submissions")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(f"{spec.notebook}: {len(totals)} submissions, mean {np.mean(totals):.2f}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def summary(grades: Sequence[Grade], spec: Spec) -> str:
    """The table printed at the end: mean per exercise, and failures by reason."""
    n = len(grades)
    rows = [("exercise", "mean", "points", "full marks")]
    for ex in spec.exercises:
        full = sum(g.scores[ex.key] >= ex.points for g in grades)
        mean = sum(g.scores[ex.key] for g in grades) / n
        rows.append((ex.key, f"{mean:.2f}", f"{ex.points:g}", f"{full} of {n}"))
    full = sum(g.total >= spec.max_points for g in grades)
    rows.append(("total", f"{sum(g.total for g in grades) / n:.2f}", f"{spec.max_points:g}",
                 f"{full} of {n}"))
    reasons = Counter(reason for g in grades for reason in {p.reason for p in g.problems})
    lines = [f"{spec.notebook}: {n} submissions graded", *_table(rows), ""]
    if reasons:
        lines += _table([("failure", "submissions"),
                         *((reason, str(count)) for reason, count in reasons.most_common())])
    else:
        lines.append("no failures")
    return "\n".join(lines)


def _table(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
             for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return lines


def submissions_in(folder: Path) -> list[tuple[str, Path]]:
    """The notebooks in ``folder`` (and its subfolders), each named by its path without the
    suffix: ``alice.ipynb`` is alice, ``alice/03.ipynb`` is alice/03."""
    if not folder.is_dir():
        raise GradingError(f"{folder} is not a folder")
    paths = sorted(p for p in folder.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    if not paths:
        raise GradingError(f"no notebooks (*.ipynb) in {folder}")
    return [(p.relative_to(folder).with_suffix("").as_posix(), p) for p in paths]


def grade(spec: Spec, submissions: Path, out: Path, *, limits: Limits = Limits(),
          course: Path | None = None, progress: bool = True) -> list[Grade]:
    """Grade every notebook in ``submissions``; write ``out`` (CSV), beside it ``<out>.png``
    (histogram of the totals) and the folder ``<out>/`` (``feedback/``, ``executed/``, and
    ``quarantine/`` for what a submission wrote into watched folders)."""
    from tqdm import tqdm

    out = out.resolve()
    folder = out.with_suffix("")
    files = [(name, path) for name, path in submissions_in(submissions.resolve())
             if folder not in path.parents]
    (folder / "feedback").mkdir(parents=True, exist_ok=True)
    course = (course or runtime.project_root()).resolve()
    grades: list[Grade] = []
    with tempfile.TemporaryDirectory(prefix="lab-grading-") as tmp:
        tmp_root = Path(tmp).resolve()
        fixed = {"exercises.py": Path(exercises.__file__).read_bytes(),
                 "canary.txt": b"a submission that changes this wrote outside its folder\n"}
        for rel, data in fixed.items():
            (tmp_root / rel).write_bytes(data)
        ours = [out, out.with_suffix(".png"), folder]
        watches = _watches(tmp_root, fixed, course, submissions.resolve(), ours)
        bar = tqdm(files, desc=f"grading {spec.notebook}", unit="notebook", disable=not progress)
        for name, path in bar:
            bar.set_postfix_str(name)
            try:
                result = _grade_one(name, path, spec, limits, tmp_root, watches, folder)
            except Exception as err:  # the grader's own failure: say so, go on with the others
                result = Grade(name, {ex.key: 0.0 for ex in spec.exercises},
                               dict.fromkeys((ex.key for ex in spec.exercises), "not graded"),
                               [Problem("grader", f"the grader failed on this submission: "
                                        f"{type(err).__name__}: {_first_line(str(err))}")])
            grades.append(result)
            (folder / "feedback" / f"{_safe(name)}.md").write_text(feedback(result, spec),
                                                                   encoding="utf-8")
            _write_csv(out, grades, spec)
    _histogram(out.with_suffix(".png"), grades, spec)
    return grades
