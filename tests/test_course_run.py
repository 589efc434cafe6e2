"""helpers.course_run: a finished run's artifacts are cleared before the next run; an interrupted
run's are kept so its sweeps resume (``make run`` trains what its executed notebooks show)."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import course_run, runtime


def _course(tmp_path: Path, monkeypatch) -> Path:
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "helpers").mkdir()
    (tmp_path / "notebooks" / "01_mnist_cnn.ipynb").write_text("{}")
    monkeypatch.setenv("LAB_HOME", str(tmp_path))
    monkeypatch.setenv("LAB_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("LAB_MODE", "quick")
    monkeypatch.delenv("LAB_BUILD", raising=False)
    return runtime.artifacts_root("01_mnist_cnn", "quick")


def test_a_finished_run_is_not_replayed_but_an_interrupted_one_resumes(tmp_path, monkeypatch):
    artifacts = _course(tmp_path, monkeypatch)
    seen = []

    def execute(path, out_dir, ok=True):
        seen.append((artifacts / "sweep.csv").exists())
        artifacts.mkdir(parents=True, exist_ok=True)
        (artifacts / "sweep.csv").write_text("n\n1\n")
        return course_run.RunOutcome(path.stem, ok, 1.0, "" if ok else "killed")

    monkeypatch.setattr(course_run, "execute", lambda p, o: execute(p, o, ok=False))
    assert course_run.run() == 1  # interrupted: its rows stay for the next run
    monkeypatch.setattr(course_run, "execute", execute)
    course_run.run()  # resumes from them, then finishes
    course_run.run()  # the last run finished: starts from nothing
    assert seen == [False, True, False]
    assert (artifacts / course_run.FINISHED).exists()


def test_outputs_a_student_should_not_see_are_listed() -> None:
    """A warning, a traceback or a CUDA line in an executed cell's output is named with its
    cell (``make run`` prints them; issue 22)."""
    import nbformat

    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("UserWarning in prose is fine"),
        nbformat.v4.new_code_cell("a", outputs=[nbformat.v4.new_output(
            "stream", name="stdout", text="accuracy 0.9\n")]),
        nbformat.v4.new_code_cell("b", outputs=[nbformat.v4.new_output(
            "stream", name="stderr",
            text="x.py:3: UserWarning: shuffle=True was passed\n  warnings.warn(\n")]),
        nbformat.v4.new_code_cell("c", outputs=[nbformat.v4.new_output(
            "stream", name="stderr", text="E0000 00:00 cuda_platform.cc:52] failed call to "
                                          "cuInit: INTERNAL\n")]),
        nbformat.v4.new_code_cell("d", outputs=[nbformat.v4.new_output(
            "error", ename="ValueError", evalue="bad", traceback=[])]),
    ])
    found = course_run.noisy_outputs(nb)
    assert found[0] == "cell 3: x.py:3: UserWarning: shuffle=True was passed"
    assert found[1].startswith("cell 4: E0000 00:00 cuda_platform.cc:52]")
    assert len(found) == 2  # an error is the run's failure, said once, not noise here


def test_notebooks_run_side_by_side_and_the_summary_keeps_their_order(tmp_path, monkeypatch,
                                                                     capsys):
    import threading

    _course(tmp_path, monkeypatch)
    for name in ("02_data_augmentation", "03_vgg16_horse_zebra"):
        (tmp_path / "notebooks" / f"{name}.ipynb").write_text("{}")
    both_running = threading.Barrier(2, timeout=10)  # two kernels at once, or a timeout
    running, most = set(), [0]

    def execute(path, out_dir):
        running.add(path.stem)
        most[0] = max(most[0], len(running))
        if path.stem != "03_vgg16_horse_zebra":
            both_running.wait()  # 01 and 02 start together
        running.discard(path.stem)
        return course_run.RunOutcome(path.stem, path.stem != "02_data_augmentation", 1.0, "x")

    monkeypatch.setattr(course_run, "execute", execute)
    assert course_run.run(jobs=2) == 1  # one failed
    assert most[0] == 2
    out = capsys.readouterr().out
    table = out.splitlines()
    header = next(i for i, line in enumerate(table) if line.startswith("notebook "))
    rows = [line.split()[0] for line in table[header + 2:header + 5]]  # below the dashes
    assert rows == ["01_mnist_cnn", "02_data_augmentation", "03_vgg16_horse_zebra"]
    assert "3 notebooks in" in out and "2 at a time" in out
    with pytest.raises(ValueError, match="jobs"):
        course_run.run(jobs=0)


def test_ctrl_c_stops_a_parallel_run_at_once(tmp_path):
    """The kernels are out of Ctrl-C's reach (their own sessions): the run must not wait for
    them, nor hang at exit."""
    import os
    import signal
    import subprocess
    import sys
    import time

    script = (  # Ctrl-C's handler as a terminal's Python has it (a background job ignores it)
        "import signal, time\n"
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "from helpers import course_run\n"
        "def execute(path, out_dir):\n"
        "    time.sleep(600)\n"
        "course_run.execute = execute\n"
        "course_run.run(jobs=2)\n")
    for name in ("01_a", "02_b"):
        (tmp_path / "notebooks").mkdir(exist_ok=True)
        (tmp_path / "notebooks" / f"{name}.ipynb").write_text("{}")
    (tmp_path / "helpers").mkdir()
    env = {**os.environ, "LAB_HOME": str(tmp_path), "LAB_RESULTS": str(tmp_path / "results"),
           "LAB_MODE": "quick"}
    env.pop("LAB_BUILD", None)
    proc = subprocess.Popen([sys.executable, "-c", script], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = ""
    for line in proc.stdout:  # both notebooks started
        out += line
        if out.count("running ") == 2:
            break
    start = time.monotonic()
    proc.send_signal(signal.SIGINT)
    try:
        rest, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, out + rest
    assert "interrupted" in rest
    assert time.monotonic() - start < 30
