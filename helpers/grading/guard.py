"""The folders a submission must leave alone: the grading's own, the course and the other
submissions (what it changed is put back), the shared data cache and Keras home (they may
only grow)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from helpers import runtime, weights
from helpers.grading.kernel import Problem

BACKUP_MAX_BYTES = 32 * 2**20
"""Larger files in a watched folder are watched but cannot be put back."""
_SKIPPED_NAMES = {".git", "build", "__pycache__", ".ipynb_checkpoints", ".ruff_cache",
                  ".pytest_cache"}


@dataclass
class Watch:
    """A folder a submission must not change: what it changed is put back from ``backup``
    (moving what it wrote to the quarantine when ``quarantine``), or only reported; with
    ``new_allowed`` it may add files (a shared data cache filling on first use)."""

    root: Path
    skip: frozenset[Path]
    backup: dict[str, bytes] | None
    new_allowed: bool = False
    quarantine: bool = True

    def scan(self) -> dict[str, tuple[int, int]]:
        """Size (-1 for a folder) and modification time of everything watched."""
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

    def settle(self, before: dict[str, tuple[int, int]],
               quarantine: Path) -> tuple[list[Problem], dict[str, tuple[int, int]]]:
        """Compare with ``before``, put back what can be, report what changed; and the state
        to compare with next (what changed and could not be put back is reported once)."""
        after = self.scan()
        changed = sorted(r for r in before.keys() & after.keys()
                         if before[r] != after[r] and before[r][0] >= 0)
        removed = sorted(r for r in before.keys() - after.keys() if before[r][0] >= 0)
        added = [] if self.new_allowed else sorted(after.keys() - before.keys())
        if not (changed or removed or added):
            return [], after
        seen = [f"changed {self.root / r}" for r in changed]
        seen += [f"deleted {self.root / r}" for r in removed]
        seen += [f"created {self.root / r}" for r in added]
        lost = []
        for rel in reversed(added):  # files before their folders
            self._move_aside(rel, quarantine)
            after.pop(rel, None)
        for rel in changed + removed:
            if self.backup is None or rel not in self.backup:
                lost.append(rel)
                continue
            self._move_aside(rel, quarantine)
            target = self.root / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(self.backup[rel])
            for path in (target, *target.parents):  # the file and the folders made for it
                if path == self.root:
                    break
                info = path.lstat()
                after[path.relative_to(self.root).as_posix()] = (
                    -1 if path.is_dir() else info.st_size, info.st_mtime_ns)
        more = f" and {len(seen) - 3} more" if len(seen) > 3 else ""
        undo = ["put back"] if len(lost) < len(changed) + len(removed) else []
        undo += [f"not put back: {', '.join(lost[:3])}"] if lost else []
        if self.quarantine and (changed or added):
            undo.append(f"what it wrote moved to {quarantine}")
        elif added:
            undo.append("what it created removed")
        return [Problem("outside its folder", f"wrote outside its folder: {', '.join(seen[:3])}"
                        f"{more}; {', '.join(undo)}")], after

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


def _within(path: Path, roots: Sequence[Path]) -> bool:
    return any(path == root or root in path.parents for root in roots)


def _backup(root: Path, skip: frozenset[Path]) -> dict[str, bytes]:
    watch = Watch(root, skip, None)
    return {rel: (root / rel).read_bytes() for rel, (size, _) in watch.scan().items()
            if 0 <= size <= BACKUP_MAX_BYTES and (root / rel).is_file()}


def watches(tmp_root: Path, fixed: dict[str, bytes], runs: Sequence[Path], course: Path,
            submissions: Path, ours: Sequence[Path]) -> list[Watch]:
    """The grading's own temporary folder (around each submission's ``work`` folder in
    ``runs``), the course folder and the submissions (put back), and the shared data cache and
    Keras home (may only grow)."""
    shared = [p.resolve() for p in (runtime.cache_dir(), weights.keras_models_dir().parent)
              if p.is_dir()]
    own = frozenset(path for run in runs
                    for path in (run / "work", run / "kernel.log", run / "answers", run / "judge"))
    watches = [Watch(tmp_root, own, fixed, quarantine=False)]
    skip = frozenset([*ours, tmp_root, *shared])
    for root in dict.fromkeys((course, submissions)):
        if root.is_dir() and not _within(root, [w.root for w in watches[1:]]):
            watches.append(Watch(root, skip, _backup(root, skip)))
    for root in shared:
        if not _within(root, [tmp_root]):
            watches.append(Watch(root, frozenset([*ours, tmp_root]), None, new_allowed=True,
                                  quarantine=False))
    return watches
