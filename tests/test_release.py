"""helpers.release: a fork or a new release changes pyproject.toml, and ``pin`` carries it into
every notebook's install line and every README Colab link (issue 22)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from helpers import release

OLD = "https://github.com/dl-lab-course/cnn-transfer-course"
FIRST_CELL = f'''import sys

if "google.colab" in sys.modules:
    %pip install -q "dl-course-helpers @ git+{OLD}"
    %pip install -q "other-package @ git+https://github.com/someone/else@main"
import helpers'''


def _project(root: Path, repository: str, version: str = "0.2.0") -> None:
    (root / "pyproject.toml").write_text(
        f'[project]\nname = "dl-course-helpers"\nversion = "{version}"\n\n'
        f'[project.urls]\nRepository = "{repository}"\n', encoding="utf-8")


@pytest.fixture
def fork(tmp_path: Path) -> Path:
    _project(tmp_path, "https://github.com/a-school/our-course")
    for folder in ("notebooks", "student"):
        (tmp_path / folder).mkdir()
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(FIRST_CELL)])
        nbformat.write(nb, tmp_path / folder / "01_mnist_cnn.ipynb")
    (tmp_path / "README.md").write_text(
        f"[open](https://colab.research.google.com/github/{OLD[19:]}/blob/main/notebooks/"
        "01_mnist_cnn.ipynb) [student](https://colab.research.google.com/github/"
        f"{OLD[19:]}/blob/v0.1.0/student/01_mnist_cnn.ipynb)\n", encoding="utf-8")
    return tmp_path


def test_pin_carries_the_fork_and_release_everywhere(fork: Path) -> None:
    assert len(release.stale(fork)) == 3
    assert len(release.pin(fork)) == 3
    assert release.stale(fork) == [] and release.pin(fork) == []  # pinned stays pinned
    first = nbformat.read(fork / "student" / "01_mnist_cnn.ipynb", as_version=4).cells[0].source
    assert ('"dl-course-helpers @ git+https://github.com/a-school/our-course@v0.2.0"' in first)
    assert '"other-package @ git+https://github.com/someone/else@main"' in first  # not ours
    readme = (fork / "README.md").read_text()
    assert readme.count("github/a-school/our-course/blob/v0.2.0/") == 2
    assert "blob/main" not in readme and "dl-lab-course" not in readme


@pytest.mark.parametrize("repository", ["https://gitlab.com/a/b", "https://github.com/only-owner",
                                        "github.com/a/b"])
def test_a_repository_colab_cannot_open_is_refused(tmp_path: Path, repository: str) -> None:
    _project(tmp_path, repository)
    with pytest.raises(release.ReleaseError, match="https://github.com/OWNER/NAME"):
        release.release(tmp_path)


def test_a_pyproject_without_the_release_is_refused(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n', encoding="utf-8")
    with pytest.raises(release.ReleaseError, match="version"):
        release.release(tmp_path)


def test_the_pin_command_rewrites_a_fork_and_says_what_it_changed(fork, monkeypatch,
                                                                   capsys) -> None:
    from helpers import __main__ as cli

    monkeypatch.setenv("LAB_HOME", str(fork))
    assert cli.main(["pin"]) == 0
    out = capsys.readouterr().out
    assert "notebooks/01_mnist_cnn.ipynb: now installs and opens a-school/our-course v0.2.0" in out
    assert "3 file(s) changed" in out and "push the tag v0.2.0" in out
    assert release.stale(fork) == []
    _project(fork, "https://gitlab.com/a/b")
    assert cli.main(["pin"]) == 2
    assert "https://github.com/OWNER/NAME" in capsys.readouterr().err
