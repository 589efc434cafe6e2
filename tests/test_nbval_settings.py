"""The repository's conftest.py gives nbval's notebook cells a longer wait for their last
messages than nbval's hard-coded 5 s, and leaves other tests alone."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_notebook_cells_wait_longer_for_their_output(tmp_path: Path) -> None:
    import nbformat

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(1)"),
                                         nbformat.v4.new_code_cell("x = 2")])
    nbformat.write(nb, tmp_path / "tiny.ipynb")
    (tmp_path / "test_plain.py").write_text("def test_plain():\n    assert True\n")
    (tmp_path / "report.py").write_text(
        "def pytest_collection_finish(session):\n"
        "    for item in session.items:\n"
        "        print('TIMEOUT|' + item.name + '|'"
        " + str(getattr(item, 'output_timeout', None)))\n")
    (tmp_path / "conftest.py").write_text((ROOT / "conftest.py").read_text())
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "--nbval-lax", "-p", "report",
         "-p", "no:cacheprovider", "-s", "tiny.ipynb", "test_plain.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stdout + out.stderr
    lines = [line.split("|") for line in out.stdout.splitlines() if line.startswith("TIMEOUT|")]
    spec = importlib.util.spec_from_file_location("root_conftest", ROOT / "conftest.py")
    settings = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(settings)
    seconds = str(settings.NBVAL_OUTPUT_SECONDS)
    assert settings.NBVAL_OUTPUT_SECONDS > 5
    assert [(name, value) for _, name, value in lines] == [
        ("Cell 0", seconds), ("Cell 1", seconds), ("test_plain", "None")]
