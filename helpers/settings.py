"""Every ``LAB_*`` environment variable the course reads, declared once: its kind, default and
allowed values (the README's table, "Settings"). Standard library only, so it can be read before
Keras loads.

Each value is parsed where it is used (a test or a notebook may change the environment), by the
one parser of its kind; a value outside what is allowed raises ``SettingError`` with one line
naming the variable, the value and what it accepts.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

FLAG_VALUES = {"1": True, "true": True, "yes": True, "on": True,
               "0": False, "false": False, "no": False, "off": False}


class SettingError(ValueError):
    """A ``LAB_*`` variable with a value the course cannot use (one line)."""


@dataclass(frozen=True)
class Setting:
    """One variable: ``kind`` is ``flag`` (1/0, true/false, yes/no, on/off), ``choice`` (one of
    ``choices``), ``number`` (above ``minimum``), ``count`` (a whole number of at least
    ``minimum``), ``path`` (a folder or file) or ``text``; ``default`` is what an unset or empty
    variable means, in words."""

    name: str
    kind: str
    default: str
    meaning: str
    choices: tuple[str, ...] = ()
    minimum: float | None = None

    def allowed(self) -> str:
        """What the variable accepts, in words."""
        if self.kind == "flag":
            return "1 or 0 (also true/false, yes/no, on/off)"
        if self.kind == "choice":
            return "one of " + ", ".join(self.choices)
        if self.kind == "number":
            return f"a number above {self.minimum:g}"
        if self.kind == "count":
            return f"a whole number of at least {self.minimum:g}"
        return "a path" if self.kind == "path" else "any text"


SETTINGS: dict[str, Setting] = {s.name: s for s in (
    Setting("LAB_MODE", "choice", "quick on a CPU or in CI, full on a GPU/TPU",
            "the notebooks' budget", ("quick", "full", "paper")),
    Setting("LAB_BACKEND", "choice", "KERAS_BACKEND, else tensorflow where installed, else jax",
            "the Keras backend, chosen by import helpers", ("tensorflow", "jax")),
    Setting("LAB_PRECISION", "choice", "mixed_float16 on a GPU, mixed_bfloat16 on a TPU, "
            "float32 on a CPU", "Keras's global dtype policy",
            ("float32", "mixed_float16", "mixed_bfloat16")),
    Setting("LAB_BUDGET_MINUTES", "number", "90 in full mode; none in quick and paper",
            "the time a notebook may take before the projection stops it", minimum=0),
    Setting("LAB_PROBE", "flag", "on in full and paper mode, off in quick mode and dry runs",
            "time a few steps of each distinct fit before the long work"),
    Setting("LAB_OFFLINE", "flag", "0", "forbid every download"),
    Setting("LAB_DATA_MIRROR", "text", "none",
            "a classroom mirror (URL or folder) tried before the public sources"),
    Setting("LAB_CACHE", "path", "data/cache in the project",
            "downloads, unpacked data sets and generated stand-ins"),
    Setting("LAB_BUILD", "path", "build/ in the project (on Drive when mounted)",
            "executed notebooks, checkpoints, fit backups, sweeps"),
    Setting("LAB_RESULTS", "path", "results/ in the project (on Drive when mounted)",
            "the results JSON files"),
    Setting("LAB_HOME", "path", "the checkout holding notebooks/ and helpers/, else the cwd",
            "the project folder"),
    Setting("LAB_DRIVE", "flag", "1", "keep outputs on a mounted Google Drive"),
    Setting("LAB_DRIVE_MOUNT", "path", "/content/drive", "where Google Drive is mounted"),
    Setting("LAB_DRYRUN", "flag", "0",
            "full or paper mode at their real shapes, one step per fit, nothing recorded"),
    Setting("LAB_DRYRUN_BATCH", "count", "4 on a CPU", "a dry run's batch cap", minimum=1),
    Setting("LAB_DRYRUN_DATA", "choice", "capped",
            "a dry run's image counts: capped, or full mode's own", ("capped", "full")),
    Setting("LAB_REHEARSAL", "path", "none",
            "a rehearsal's folder (tests/rehearsal.py): its own archives and weight files"),
)}


def raw(name: str) -> str:
    """The variable's text, stripped ("" when unset); ``name`` must be declared above."""
    if name not in SETTINGS:
        raise KeyError(f"{name} is not a declared setting (helpers/settings.py)")
    return os.environ.get(name, "").strip()


def _refuse(setting: Setting, value: str) -> SettingError:
    return SettingError(f"{setting.name}={value!r} cannot be used: it takes "
                        f"{setting.allowed()} ({setting.meaning}); unset it for the default, "
                        f"{setting.default}")


def flag(name: str) -> bool | None:
    """A flag's value; None when unset (the caller's default applies)."""
    value = raw(name)
    if not value:
        return None
    try:
        return FLAG_VALUES[value.lower()]
    except KeyError:
        raise _refuse(SETTINGS[name], value) from None


def choice(name: str) -> str | None:
    """A choice, lower-cased; None when unset."""
    value = raw(name).lower()
    if value and value not in SETTINGS[name].choices:
        raise _refuse(SETTINGS[name], value)
    return value or None


def number(name: str) -> float | None:
    """A number above the setting's minimum (a count: a whole one, at least it); None when
    unset."""
    value, setting = raw(name), SETTINGS[name]
    if not value:
        return None
    try:
        parsed = float(value)
    except ValueError:
        raise _refuse(setting, value) from None
    whole = setting.kind != "count" or parsed.is_integer()
    low = setting.minimum if setting.minimum is not None else -math.inf
    above = parsed >= low if setting.kind == "count" else parsed > low
    if not (math.isfinite(parsed) and whole and above):
        raise _refuse(setting, value)
    return parsed


def path(name: str) -> Path | None:
    """A path, with ``~`` expanded and made absolute; None when unset."""
    value = raw(name)
    return Path(value).expanduser().resolve() if value else None


def text(name: str) -> str | None:
    """The text itself; None when unset."""
    return raw(name) or None


def check_all() -> None:
    """Parse every variable that is set (``setup()`` and the command line call it first), so a
    wrong value stops a run at its start, not an hour in."""
    parsers = {"flag": flag, "choice": choice, "number": number, "count": number,
               "path": path, "text": text}
    for setting in SETTINGS.values():
        parsers[setting.kind](setting.name)


def table() -> str:
    """The README's table of settings (markdown)."""
    rows = ["| variable | takes | unset means | what it sets |", "|---|---|---|---|"]
    rows += [f"| `{s.name}` | {s.allowed()} | {s.default} | {s.meaning} |"
             for s in SETTINGS.values()]
    return "\n".join(rows)
