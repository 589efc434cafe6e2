"""Command line: ``python -m helpers datasets | fetch NAME|all |
pretrain [BACKBONE...] [--jobs N] [--where-needed] | run [NOTEBOOK...] | report |
student [NOTEBOOK...] | grade NOTEBOOK SUBMISSIONS | pin``."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from tqdm.auto import tqdm

from helpers import (
    course_run,
    datasets,
    grading,
    pretrain,
    release,
    results,
    runtime,
    settings,
    weights,
)
from helpers.datasets import DatasetError, DataUnavailable
from helpers.datasets.download import candidate_urls


def _datasets() -> int:
    for name in datasets.names():
        entry = datasets.get(name)
        print(f"{name}  [{entry.document}] {entry.title}")
        for remote in entry.remotes:
            print(f"    {remote.filename}: {' | '.join(candidate_urls(remote))}")
            print(f"        place by hand at {datasets.download_path(remote)}")
        print(f"    cache: {datasets.status(name)}")
    for name, remote in weights.BACKBONES.items():
        path = weights.keras_models_dir() / remote.filename
        state = "cached" if path.exists() else "not cached"
        print(f"weights {name}: {remote.urls[0]}  ({state} at {path})")
    for name in pretrain.RECIPES:
        made = pretrain.cached(name)
        state = f"cached at {made.path}" if made else f"not built; {pretrain.weights_path(name)}"
        print(f"course-pretrained {name} (quick mode without ImageNet's): {state}")
    return 0


def _bad_jobs(jobs: str, what: str) -> bool:
    """Whether ``--jobs`` is not a whole number of ``what`` at once, 1 or more (said in one
    line)."""
    if jobs.isdigit() and int(jobs) >= 1:
        return False
    print(f"--jobs wants a whole number of {what} at once, 1 or more; not {jobs!r}",
          file=sys.stderr)
    return True


def _pretrain(names: Sequence[str], jobs: str | None, where_needed: bool = False) -> int:
    """Course-pretrained weights of the named backbones (default: every recipe), trained where
    they are not cached yet, ``jobs`` at once (default: ``runtime.side_by_side()``);
    ``where_needed``: only those whose ImageNet weights cannot be had (quick mode would train
    them on first use, one at a time)."""
    wanted = list(dict.fromkeys(names)) or list(pretrain.RECIPES)
    unknown = [name for name in wanted if name not in pretrain.RECIPES]
    if unknown:
        print(f"no course-pretraining recipe for {', '.join(unknown)}; there is one for: "
              f"{', '.join(pretrain.RECIPES)}", file=sys.stderr)
        return 2
    if jobs is not None and _bad_jobs(jobs, "backbones"):
        return 2
    if where_needed:
        ready = [name for name in wanted if weights.imagenet_ready(name)]
        for name in ready:
            print(f"{name}: ImageNet weights ready, which quick mode takes; nothing to pretrain")
        wanted = [name for name in wanted if name not in ready]
    missing = []
    for name in wanted:
        made = pretrain.cached(name)
        if made:
            alongside = made.info.get("builds_at_once", 1)
            shared = f", {alongside} at once" if alongside > 1 else ""
            print(f"{name}: cached ({made.describe()}; trained in {made.info['seconds']} s"
                  f"{shared}) at {made.path}")
        else:
            missing.append(name)
    if not missing:
        return 0
    runtime.device_platforms()  # the first device query, without TensorFlow's notices
    at_once = min(int(jobs or runtime.side_by_side()), len(missing))
    start, done = time.monotonic(), []

    def built(made: pretrain.Pretrained) -> None:
        done.append(made)
        tqdm.write(f"{made.name}: trained on {made.describe()} in {made.info['seconds']} s, "
                   f"source accuracy {made.info['source_accuracy']}; cached at {made.path}")

    failure = None
    try:
        pretrain.build_many(missing, at_once, built)
    except RuntimeError as err:
        failure = err
    if len(missing) > 1:
        print(f"pretrained {len(done)} of {len(missing)} backbones in "
              f"{time.monotonic() - start:.0f} s, {at_once} at once")
    if failure:
        print(failure, file=sys.stderr)
        return 1
    return 0


def _fetch(names: Sequence[str]) -> int:
    wanted = [*datasets.names(), *weights.BACKBONES] if list(names) == ["all"] else list(names)
    failed = 0
    for name in wanted:
        try:
            if name in weights.BACKBONES:
                weights.prepare(name, "full")
                print(f"{name}: ImageNet weights ready in {weights.keras_models_dir()}")
            else:
                prepared = datasets.fetch(name)
                print(f"{prepared.summary()}; ready at {prepared.root}")
        except (DataUnavailable, DatasetError, KeyError) as err:
            print(f"{name}: {err}", file=sys.stderr)
            failed += 1
    return 1 if failed else 0


def _pin() -> int:
    """Every notebook's install line and every README Colab link to pyproject.toml's release."""
    root = runtime.project_root()
    try:
        rel, changed = release.release(root), release.pin(root)
    except release.ReleaseError as err:
        print(f"python -m helpers pin: {err}", file=sys.stderr)
        return 2
    for path in changed:
        print(f"{path.relative_to(root)}: now installs and opens {rel.slug} {rel.tag}")
    print(f"{len(changed)} file(s) changed; every notebook and the README name {rel.slug} "
          f"{rel.tag} (push the tag {rel.tag} for Colab to find it)")
    return 0


def _student(names: Sequence[str], out: Path | None) -> int:
    """Student versions (and grading specs) of the named notebooks, or of all with exercises."""
    out = out or runtime.project_root() / "student"
    paths = course_run.notebook_paths(names)
    if not names:
        paths = [p for p in paths if grading.has_exercises(p)]
        if not paths:
            print("no course notebook has exercises yet (cells tagged check)", file=sys.stderr)
            return 1
    failed = 0
    for path in paths:
        try:
            written, spec = grading.write_student(path, out)
        except grading.GradingError as err:
            print(err, file=sys.stderr)
            failed += 1
            continue
        keys = ", ".join(ex.key for ex in spec.exercises)
        print(f"{written}: {len(spec.exercises)} exercises ({keys}); grading tests in "
              f"{grading.spec_path(path.stem)}")
    return 1 if failed else 0


def _grade(args: argparse.Namespace) -> int:
    jobs = args.jobs or str(grading.default_jobs())
    if _bad_jobs(jobs, "submissions"):
        return 2
    matches = course_run.notebook_paths([args.notebook])
    if len(matches) != 1:
        print(f"{args.notebook!r} names {len(matches)} notebooks; name one", file=sys.stderr)
        return 1
    master = matches[0]
    limits = grading.Limits(args.time_limit, args.cell_limit, args.memory_gib)
    start = time.monotonic()
    try:
        spec, note = grading.spec_for(master)
        print(note)
        print(grading.sandbox_note())
        grades = grading.grade(spec, args.submissions, args.out, limits=limits, jobs=int(jobs))
    except grading.GradingError as err:
        print(err, file=sys.stderr)
        return 1
    print()
    print(grading.summary(grades, spec))
    print(f"\ngraded {len(grades)} submissions in {time.monotonic() - start:.0f} s with "
          f"{int(jobs)} {'job' if int(jobs) == 1 else 'jobs'}")
    folder = args.out.resolve().with_suffix("")
    print(f"\ngrades: {args.out}; histogram: {args.out.with_suffix('.png')}; "
          f"feedback: {folder / 'feedback'}; executed notebooks: {folder / 'executed'}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; a ``LAB_*`` value it cannot use, or a folder it cannot write, ends it
    with one line and exit status 2."""
    try:
        settings.check_all()
        return _command(argv)
    except (settings.SettingError, runtime.BackendError, runtime.NotWritable) as err:
        print(f"python -m helpers: {err}", file=sys.stderr)
        return 2


def _command(argv: Sequence[str] | None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("datasets", help="list datasets and weights, their sources and cache status")
    fetch = sub.add_parser("fetch", help="download real data (and ImageNet weights) ahead of class")
    fetch.add_argument("names", nargs="+", metavar="NAME", help="dataset or backbone name, or all")
    pre = sub.add_parser("pretrain", help="train the course-pretrained backbones that quick mode "
                         "uses without ImageNet's weights (synthetic source, cached)")
    pre.add_argument("names", nargs="*", metavar="BACKBONE",
                     help=f"e.g. {next(iter(pretrain.RECIPES))} (default: all)")
    pre.add_argument("--jobs", metavar="N", help="backbones trained at once, each in its own "
                     "process (default: 2 on a CPU with 2 cores or more, else 1)")
    pre.add_argument("--where-needed", action="store_true",
                     help="only the backbones whose ImageNet weights cannot be had (cached or "
                     "downloaded now), as quick mode would (make run does this first)")
    run = sub.add_parser("run", help="execute notebooks headless into build/ and print a summary")
    run.add_argument("notebooks", nargs="*", metavar="NOTEBOOK", help="e.g. 01 (default: all)")
    run.add_argument("--jobs", metavar="N", help="notebooks run at once, each in its own kernel "
                     "(default: 2 on a CPU with 2 cores or more, else 1)")
    sub.add_parser("report", help="measured results beside the documents' numbers (markdown)")
    student = sub.add_parser(
        "student", help="write student versions (solutions and grading tests removed)")
    student.add_argument("notebooks", nargs="*", metavar="NOTEBOOK",
                         help="e.g. 03 (default: every notebook with exercises)")
    student.add_argument("--out", type=Path, help="folder for them (default: student/)")
    sub.add_parser("pin", help="point every notebook's install line and README Colab link at "
                   "pyproject.toml's repository and release")
    grade = sub.add_parser("grade", help="grade a folder of submitted notebooks (CSV, feedback)")
    grade.add_argument("notebook", metavar="NOTEBOOK", help="the course notebook, e.g. 03")
    grade.add_argument("submissions", type=Path, metavar="SUBMISSIONS",
                       help="folder of submitted .ipynb files")
    grade.add_argument("--out", type=Path, default=Path("grades.csv"),
                       help="the CSV to write (default: %(default)s)")
    grade.add_argument("--time-limit", type=float, default=grading.Limits.notebook_seconds,
                       help="seconds for one whole notebook (default: %(default)g)")
    grade.add_argument("--cell-limit", type=float, default=grading.Limits.cell_seconds,
                       help="seconds for one cell (default: %(default)g)")
    grade.add_argument("--jobs", metavar="N",
                       help="submissions graded at once, each under the same limits "
                       f"(default: the CPU cores, here {grading.default_jobs()})")
    grade.add_argument("--memory-gib", type=float, default=grading.Limits.memory_gib,
                       help="the kernel's address space in GiB (default: %(default)g)")
    args = parser.parse_args(argv)
    if args.command == "datasets":
        return _datasets()
    if args.command == "fetch":
        return _fetch(args.names)
    if args.command == "pretrain":
        return _pretrain(args.names, args.jobs, args.where_needed)
    if args.command == "run":
        if args.jobs is not None and _bad_jobs(args.jobs, "notebooks"):
            return 2
        jobs = int(args.jobs) if args.jobs else runtime.side_by_side()
        return 1 if course_run.run(args.notebooks, jobs) else 0
    if args.command == "student":
        return _student(args.notebooks, args.out)
    if args.command == "grade":
        return _grade(args)
    if args.command == "pin":
        return _pin()
    print(results.report())
    return 0


if __name__ == "__main__":
    sys.exit(main())
