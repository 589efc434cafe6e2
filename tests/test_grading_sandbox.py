"""The grading sandbox (``helpers.grading.sandbox``): hidden folders, kept paths, no way back
to what is hidden, a /proc of its own, everything killed with it, a Jupyter kernel inside."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from helpers.grading import sandbox

REASON = sandbox.available()
if REASON is not None:
    if os.environ.get("CI") == "true" and sys.platform == "linux":
        pytest.fail(f"CI runs on Linux, where the grading sandbox must work: {REASON}",
                    pytrace=False)
    pytest.skip(REASON, allow_module_level=True)


@pytest.fixture
def course(tmp_path: Path) -> Path:
    """A course folder: solutions in ``notebooks`` (a shared folder in it kept read-only, an
    output folder writable), hidden tests in ``build/grading`` (one file in it kept)."""
    root = tmp_path / "course"
    for name, text in {
        "notebooks/solution.ipynb": "solution",
        "notebooks/shared/data.txt": "data",
        "notebooks/out/old.txt": "old",
        "build/grading/hidden_tests.py": "hidden",
        "build/grading/spec.json": "spec",
        "README.md": "readme",
    }.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def hidden(root: Path) -> list[Path]:
    return [root / "notebooks", root / "build" / "grading"]


def kept(root: Path) -> list[Path]:
    return [root / "notebooks" / "shared", root / "build" / "grading" / "spec.json"]


def run(root: Path, code: str, *args: str, cwd: Path | None = None) -> Any:
    """Run ``code`` (Python; it prints one JSON line) in the course's sandbox: its result."""
    proc = subprocess.run(
        [*sandbox.command(hidden(root), kept(root), [root / "notebooks" / "out"]),
         sys.executable, "-I", "-c", textwrap.dedent(code), str(root), *args],
        capture_output=True, text=True, timeout=60, cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_hidden_folders_look_empty_but_for_the_kept_paths(course: Path) -> None:
    result = run(course, """
        import json, os, sys
        root = sys.argv[1]

        def attempt(action):
            try:
                return action()
            except OSError as err:
                return type(err).__name__

        def write(path):
            with open(path, "a") as file:
                file.write("written inside")
            return "written"

        print(json.dumps({
            "notebooks": sorted(os.listdir(root + "/notebooks")),
            "grading": sorted(os.listdir(root + "/build/grading")),
            "solution": attempt(lambda: open(root + "/notebooks/solution.ipynb").read()),
            "tests": attempt(lambda: open(root + "/build/grading/hidden_tests.py").read()),
            "data": attempt(lambda: open(root + "/notebooks/shared/data.txt").read()),
            "spec": attempt(lambda: open(root + "/build/grading/spec.json").read()),
            "readme": attempt(lambda: open(root + "/README.md").read()),
            "write data": attempt(lambda: write(root + "/notebooks/shared/data.txt")),
            "write new": attempt(lambda: write(root + "/notebooks/shared/new.txt")),
            "write spec": attempt(lambda: write(root + "/build/grading/spec.json")),
            "old out": attempt(lambda: open(root + "/notebooks/out/old.txt").read()),
            "write out": attempt(lambda: write(root + "/notebooks/out/new.txt")),
        }))
    """)
    assert result == {
        "notebooks": ["out", "shared"], "grading": ["spec.json"],
        "solution": "FileNotFoundError", "tests": "FileNotFoundError",
        "data": "data", "spec": "spec", "readme": "readme",
        "write data": "OSError", "write new": "OSError", "write spec": "OSError",  # EROFS
        "old out": "old", "write out": "written",
    }
    assert (course / "notebooks" / "out" / "new.txt").read_text() == "written inside"
    assert (course / "notebooks" / "solution.ipynb").read_text() == "solution"
    assert (course / "notebooks" / "shared" / "data.txt").read_text() == "data"
    assert not (course / "notebooks" / "shared" / "new.txt").exists()
    assert (course / "build" / "grading" / "spec.json").read_text() == "spec"


def test_the_sandboxed_code_cannot_reveal_a_hidden_folder(course: Path) -> None:
    result = run(course, """
        import ctypes, json, os, sys
        libc = ctypes.CDLL(None, use_errno=True)
        root = sys.argv[1].encode()
        MS_REMOUNT, MS_BIND, MS_REC = 0x20, 0x1000, 0x4000

        def call(function, *args):
            if function(*args) == 0:
                return "done"
            return os.strerror(ctypes.get_errno())

        peek = root + b"/peek"
        os.mkdir(peek)
        print(json.dumps({
            "umount": call(libc.umount2, root + b"/notebooks", 0),
            "umount detach": call(libc.umount2, root + b"/notebooks", 2),  # MNT_DETACH
            "umount kept": call(libc.umount2, root + b"/notebooks/shared", 0),
            "remount kept writable": call(libc.mount, None, root + b"/notebooks/shared", None,
                                          ctypes.c_ulong(MS_REMOUNT | MS_BIND), None),
            "bind parent": call(libc.mount, root, peek, None, ctypes.c_ulong(MS_BIND), None),
            "rbind parent": call(libc.mount, root, peek, None, ctypes.c_ulong(MS_BIND | MS_REC),
                                 None),
            "through rbind": sorted(os.listdir(peek + b"/notebooks")) if os.listdir(peek) else [],
            "solution": os.path.exists(root + b"/notebooks/solution.ipynb"),
        }, default=os.fsdecode))
    """)
    assert result["umount"] != "done" and result["umount detach"] != "done"
    assert result["umount kept"] != "done" and result["remount kept writable"] != "done"
    assert result["bind parent"] != "done"  # the kernel refuses: locked mounts under it
    assert result["through rbind"] in ([], ["out", "shared"])  # a copy of the tmpfs, if any
    assert result["solution"] is False


def test_a_working_directory_in_a_hidden_folder_is_entered_again(course: Path) -> None:
    code = "import json, os; print(json.dumps(sorted(os.listdir('.'))))"
    assert run(course, code, cwd=course / "notebooks") == ["out", "shared"]
    (course / "build" / "grading" / "answers").mkdir()
    proc = subprocess.run([*sandbox.command(hidden(course)), sys.executable, "-c", "pass"],
                          capture_output=True, text=True, timeout=60,
                          cwd=course / "build" / "grading" / "answers")
    assert proc.returncode != 0 and "working directory is hidden" in proc.stderr


def test_proc_shows_only_the_sandbox_processes(course: Path) -> None:
    result = run(course, """
        import json, os, sys
        try:
            os.kill(int(sys.argv[2]), 0)
            seen = True
        except ProcessLookupError:
            seen = False
        print(json.dumps({"pid": os.getpid(), "outside seen": seen,
                          "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit())}))
    """, str(os.getpid()))
    assert result == {"pid": 1, "outside seen": False, "pids": [1]}


def _processes(argv: list[str]) -> list[int]:
    """Pids of the processes (seen from here) whose command line is ``argv``."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if cmdline.split(b"\0")[:-1] == [os.fsencode(arg) for arg in argv]:
            found.append(int(pid))
    return found


def test_an_interrupt_reaches_the_inside_and_a_kill_leaves_nothing(course: Path) -> None:
    """SIGINT to the process group (as jupyter_client interrupts a kernel) reaches pid 1 inside
    and leaves ``unshare`` alive; SIGKILL of ``unshare`` ends a daemonised grandchild too."""
    daemon = ["sleep", f"3001{os.getpid()}"]
    code = f"""
        import os, signal, sys, time
        # os.write, not print: the signal may land while print("ready") still holds stdout's lock
        signal.signal(signal.SIGINT, lambda *_: os.write(1, b"interrupted\\n"))
        if os.fork() == 0:  # a daemon: its own session, its parent gone
            os.setsid()
            if os.fork() == 0:
                os.execvp("sleep", {daemon!r})
            os._exit(0)
        os.wait()
        print("ready", flush=True)
        while True:
            time.sleep(1)
    """
    proc = subprocess.Popen([*sandbox.command(hidden(course)), sys.executable, "-I", "-c",
                             textwrap.dedent(code)], stdout=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "ready\n"
        deadline = time.monotonic() + 10
        while not _processes(daemon) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _processes(daemon), "the daemon did not start"
        os.killpg(proc.pid, signal.SIGINT)
        assert proc.stdout.readline() == "interrupted\n"
        with pytest.raises(subprocess.TimeoutExpired):
            proc.wait(timeout=0.2)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        deadline = time.monotonic() + 10
        while _processes(daemon) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _processes(daemon) == []
    finally:
        proc.kill()
        proc.wait()
        for pid in _processes(daemon):
            os.kill(pid, signal.SIGKILL)


def _notebook(cells: list[str]) -> Any:
    from nbformat.v4 import new_code_cell, new_notebook

    return new_notebook(cells=[new_code_cell(source) for source in cells],
                        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                 "language": "python"}})


def _outputs(cell: Any) -> list[str]:
    return [output.get("text") or output.get("ename") for output in cell.outputs]


def _memory_limit() -> None:  # as the grader's preexec_fn: applies to unshare and what it runs
    resource.setrlimit(resource.RLIMIT_AS, (8 * 2**30, 8 * 2**30))


def test_a_kernel_runs_in_the_sandbox_and_is_interrupted_on_timeout(course: Path,
                                                                     tmp_path: Path) -> None:
    from nbclient import NotebookClient

    nb = _notebook([
        "import os\nx = 41\nprint(os.getpid())",
        f"open({str(course / 'notebooks' / 'solution.ipynb')!r}).read()",
        f"print(open({str(course / 'notebooks' / 'shared' / 'data.txt')!r}).read())",
        "while True:\n    pass",
        "print(x + 1)",
    ])
    km = sandbox.kernel_manager(hidden(course), kept(course), kernel_name="python3")
    client = NotebookClient(
        nb, km=km, allow_errors=True, interrupt_on_timeout=True, shutdown_kernel="immediate",
        timeout_func=lambda cell: 2 if "while True" in cell.source else 60)
    work = tmp_path / "work"
    work.mkdir()
    with open(tmp_path / "kernel.log", "w") as log:
        with client.setup_kernel(env=dict(os.environ, HOME=str(work)), cwd=str(work),
                                 stdout=log, stderr=log, preexec_fn=_memory_limit,
                                 cleanup_kc=True):
            process = km.provisioner.process
            assert Path(process.args[0]).name == "unshare"
            for index, cell in enumerate(nb.cells):
                client.execute_cell(cell, index)
    assert _outputs(nb.cells[0]) == ["1\n"]  # the kernel is pid 1 of its namespace
    assert _outputs(nb.cells[1]) == ["FileNotFoundError"]
    assert _outputs(nb.cells[2]) == ["data\n"]
    assert _outputs(nb.cells[3]) == ["KeyboardInterrupt"]
    assert _outputs(nb.cells[4]) == ["42\n"]  # the same kernel, still alive
    assert process.poll() is not None  # shut down with the client's kernel


def test_nbclient_owns_a_kernel_of_the_sandboxed_class(course: Path) -> None:
    from nbclient import NotebookClient

    notebooks = str(course / "notebooks")
    nb = _notebook([f"import os\nprint(os.getpid(), sorted(os.listdir({notebooks!r})))"])
    NotebookClient(nb, kernel_manager_class=sandbox.kernel_manager_class(hidden(course)),
                   shutdown_kernel="immediate").execute()
    assert _outputs(nb.cells[0]) == ["1 []\n"]
    left = [pid for pid in filter(str.isdigit, os.listdir("/proc"))
            if notebooks.encode() in _cmdline(pid)]
    assert left == []  # nbclient shut it down, as it does its default kernel manager's


def _cmdline(pid: str) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""
