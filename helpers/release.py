"""The release students install: every notebook's Colab install line and every Colab link in the
README name one repository and one release, both read from ``pyproject.toml`` (``[project]``
``name`` and ``version``, ``[project.urls] Repository``), the one place a fork or a new release
changes. ``python -m helpers pin`` writes them into the notebooks, the student versions and the
README; ``tests/test_notebooks.py`` fails while any is out of step.

A student's saved copy installs the release it came with (the tag ``v<version>``), so it keeps
working when ``helpers`` changes on the main branch.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

INSTALL = re.compile(r'"(?P<package>[\w.-]+) @ git\+(?P<url>https://[^"@\s]+?)(?:\.git)?'
                     r'(?:@(?P<ref>[^"\s]+))?"')
"""The requirement in a notebook's ``%pip install`` line: ``"name @ git+URL@ref"``."""
COLAB = re.compile(r"https://colab\.research\.google\.com/github/(?P<slug>[\w.-]+/[\w.-]+)"
                   r"/blob/(?P<ref>[^/\s)]+)/(?P<path>(?:notebooks|student)/[\w.-]+\.ipynb)")
"""A README link that opens a notebook of the course in Colab."""


class ReleaseError(ValueError):
    """``pyproject.toml`` does not say which repository and release students install."""


@dataclass(frozen=True)
class Release:
    """The package, its version and the repository it is installed from."""

    package: str
    version: str
    repository: str

    @property
    def tag(self) -> str:
        """The git tag of the release: ``v`` and the version."""
        return f"v{self.version}"

    @property
    def slug(self) -> str:
        """``owner/name`` of the repository on GitHub."""
        return self.repository.removeprefix("https://github.com/").strip("/")

    def requirement(self) -> str:
        """What a notebook's first cell installs, quoted as in the cell."""
        return f'"{self.package} @ git+{self.repository}@{self.tag}"'

    def colab_link(self, path: str) -> str:
        """The Colab link that opens ``path`` (``notebooks/NN_....ipynb``) of this release."""
        return f"https://colab.research.google.com/github/{self.slug}/blob/{self.tag}/{path}"


def release(root: Path) -> Release:
    """The release ``root/pyproject.toml`` declares."""
    try:
        project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
        found = Release(project["name"], project["version"], project["urls"]["Repository"])
    except (OSError, KeyError, tomllib.TOMLDecodeError) as err:
        raise ReleaseError(f"{root / 'pyproject.toml'} must give [project] name and version and "
                           f"[project.urls] Repository ({type(err).__name__}: {err})") from None
    if not found.repository.startswith("https://github.com/") or found.slug.count("/") != 1:
        raise ReleaseError(f"[project.urls] Repository must be https://github.com/OWNER/NAME, "
                           f"not {found.repository!r} (Colab opens notebooks from GitHub)")
    return found


def pinned(text: str, rel: Release) -> str:
    """``text`` with every course install requirement and Colab link naming ``rel``."""
    text = INSTALL.sub(lambda m: rel.requirement() if m["package"] == rel.package else m[0], text)
    return COLAB.sub(lambda m: rel.colab_link(m["path"]), text)


def _sources(root: Path) -> list[Path]:
    return [*sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb")),
            *sorted((root / "student").glob("[0-9][0-9]_*.ipynb")), root / "README.md"]


def _pin_file(path: Path, rel: Release, write: bool) -> bool:
    """Whether ``path`` names another release; with ``write``, make it name ``rel``."""
    if path.suffix != ".ipynb":
        text = path.read_text(encoding="utf-8")
        if (new := pinned(text, rel)) != text and write:
            path.write_text(new, encoding="utf-8")
        return new != text
    import nbformat

    nb = nbformat.read(path, as_version=4)
    changed = False
    for cell in nb.cells:
        if (new := pinned(cell.source, rel)) != cell.source:
            cell.source, changed = new, True
    if changed and write:
        nbformat.write(nb, path)
    return changed


def stale(root: Path) -> list[Path]:
    """The notebooks and README under ``root`` that name another repository or release."""
    rel = release(root)
    return [path for path in _sources(root) if path.exists() and _pin_file(path, rel, False)]


def pin(root: Path) -> list[Path]:
    """Make every notebook and the README under ``root`` name its release; the files changed."""
    rel = release(root)
    return [path for path in _sources(root) if path.exists() and _pin_file(path, rel, True)]
