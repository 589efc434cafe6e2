"""Command line: ``python -m helpers datasets | fetch NAME|all | run [NOTEBOOK...] | report``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from helpers import datasets, results, runner, weights
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("datasets", help="list datasets and weights, their sources and cache status")
    fetch = sub.add_parser("fetch", help="download real data (and ImageNet weights) ahead of class")
    fetch.add_argument("names", nargs="+", metavar="NAME", help="dataset or backbone name, or all")
    run = sub.add_parser("run", help="execute notebooks headless into build/ and print a summary")
    run.add_argument("notebooks", nargs="*", metavar="NOTEBOOK", help="e.g. 01 (default: all)")
    sub.add_parser("report", help="measured results beside the documents' numbers (markdown)")
    args = parser.parse_args(argv)
    if args.command == "datasets":
        return _datasets()
    if args.command == "fetch":
        return _fetch(args.names)
    if args.command == "run":
        return 1 if runner.run(args.notebooks) else 0
    print(results.report())
    return 0


if __name__ == "__main__":
    sys.exit(main())
