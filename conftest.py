"""pytest's settings for every run of ``make test``, the notebooks under nbval included (the unit
tests' fixtures are in ``tests/conftest.py``).

nbval waits at most 5 s (hard-coded, ``IPyNbCell.output_timeout``) for each message a notebook
cell sends after it has finished, and fails the cell when one is later. Under load (``make test``
runs its parts two at a time on 2 cores) a kernel that has just trained a backbone can be
that late in saying it is idle: a fresh clone's run failed 07's setup cell so, after 110 s of
pretraining that had succeeded. A cell's own limit stays ``--nbval-cell-timeout``.
"""

from __future__ import annotations

import sys

import pytest

NBVAL_OUTPUT_SECONDS = 60
"""How long nbval waits for each message of a cell that has finished (nbval's own: 5)."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    nbval = sys.modules.get("nbval.plugin")  # loaded by pytest when nbval is installed
    if nbval is None:
        return
    for item in items:
        if isinstance(item, nbval.IPyNbCell):
            item.output_timeout = NBVAL_OUTPUT_SECONDS
