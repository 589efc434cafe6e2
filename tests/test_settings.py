"""helpers.settings: every LAB_* variable declared once, each wrong value refused in one line
naming the variable and what it takes, at the start of a run and on the command line."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import budget, config, runtime, settings

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(("name", "value", "reader"), [
    ("LAB_PRECISION", "fp8", lambda: config.precision_policy("CPU")),
    ("LAB_BUDGET_MINUTES", "abc", lambda: budget.minutes_allowed("full")),
    ("LAB_BUDGET_MINUTES", "-5", lambda: budget.minutes_allowed("quick")),
    ("LAB_BUDGET_MINUTES", "0", lambda: budget.minutes_allowed("full")),
    ("LAB_BUDGET_MINUTES", "nan", lambda: budget.minutes_allowed("full")),
    ("LAB_MODE", "fulll", runtime.resolve_mode),
    ("LAB_OFFLINE", "maybe", runtime.offline),
    ("LAB_DRYRUN_BATCH", "2.5", lambda: settings.number("LAB_DRYRUN_BATCH")),
    ("LAB_DRYRUN_BATCH", "0", lambda: settings.number("LAB_DRYRUN_BATCH")),
    ("LAB_DRYRUN_DATA", "everything", config.full_data),
    ("LAB_PROBE", "sometimes", lambda: config.probe_wanted("full", False)),
    ("LAB_DRIVE", "2", runtime.drive_folder),
])
def test_a_wrong_value_is_refused_in_one_line_naming_what_it_takes(
        name: str, value: str, reader: object, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(settings.SettingError) as caught:
        reader()  # type: ignore[operator]
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{name}={value!r}")
    assert settings.SETTINGS[name].allowed() in message
    assert "unset it for the default" in message


@pytest.mark.parametrize(("value", "expected"), [("1", True), ("TRUE", True), ("yes", True),
                                                 ("on", True), ("0", False), ("False", False),
                                                 ("no", False), (" off ", False), ("", None)])
def test_flags_take_the_documented_spellings(value: str, expected: bool | None,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAB_OFFLINE", value)
    assert settings.flag("LAB_OFFLINE") is expected


def test_good_values_parse(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LAB_BUDGET_MINUTES", "45.5")
    monkeypatch.setenv("LAB_PRECISION", "Mixed_BFloat16")
    monkeypatch.setenv("LAB_CACHE", str(tmp_path / "c"))
    monkeypatch.setenv("LAB_DRYRUN_BATCH", "8")
    assert budget.minutes_allowed("quick") == 45.5
    assert config.precision_policy("CPU") == "mixed_bfloat16"
    assert runtime.cache_dir() == tmp_path / "c"
    assert settings.number("LAB_DRYRUN_BATCH") == 8
    settings.check_all()
    with pytest.raises(KeyError, match="not a declared setting"):
        settings.raw("LAB_NOT_A_SETTING")


def test_every_lab_variable_the_course_reads_is_declared() -> None:
    used: set[str] = set()
    for path in (ROOT / "helpers").rglob("*.py"):
        text = path.read_text()
        used |= set(re.findall(r"\bLAB_[A-Z_]+[A-Z]\b", text))
        if path.name not in ("settings.py", "exercises.py"):  # exercises: stdlib-only copy
            assert not re.search(r"environ(\.get)?\(?\[?\s*[\"']LAB_", text), (
                f"{path.relative_to(ROOT)} reads a LAB_* variable itself: use helpers.settings")
    assert used <= set(settings.SETTINGS), used - set(settings.SETTINGS)


def test_the_readme_shows_the_settings_table() -> None:
    assert settings.table() in (ROOT / "README.md").read_text()


def _cli(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "helpers", *args], capture_output=True,
                          text=True, timeout=120, cwd=ROOT, env={**os.environ, **env})


@pytest.mark.parametrize(("args", "env", "name"), [
    (["run", "01"], {"LAB_MODE": "fulll"}, "LAB_MODE"),
    (["datasets"], {"LAB_BACKEND": "torchh"}, "LAB_BACKEND"),
    (["report"], {"LAB_BUDGET_MINUTES": "-5"}, "LAB_BUDGET_MINUTES"),
])
def test_the_command_line_says_one_line_and_no_traceback(args: list[str], env: dict[str, str],
                                                         name: str) -> None:
    done = _cli(args, **env)
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert name in lines[0]
