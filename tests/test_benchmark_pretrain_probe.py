"""benchmarks/pretrain_probe.py (issue 21's feasibility probe): its quick sizes are the
notebooks'. The source set and the backbones are helpers.synth.creatures's and
helpers.pretrain's (tests/test_synth_creatures.py, tests/test_pretrain.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytestmark = pytest.mark.backend_agnostic

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "pretrain_probe.py"


@pytest.fixture(scope="module")
def probe():
    spec = importlib.util.spec_from_file_location("pretrain_probe", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_quick_sizes_are_sizes_the_notebooks_quick_fits_request(probe) -> None:
    from tests.test_pretrain import quick_sizes

    requested = quick_sizes()
    for name, size in probe.QUICK_SIZES.items():
        assert size in requested[name], (name, size, requested[name])


def test_the_targets_benchmark_measures_course_recipes() -> None:
    """benchmarks/pretrain_targets.py measures every recipe, by its helpers.pretrain name,
    so every source set is measured on its targets."""
    from helpers import pretrain

    spec = importlib.util.spec_from_file_location("pretrain_targets",
                                                  SCRIPT.with_name("pretrain_targets.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert set(module.TARGETS) == set(pretrain.RECIPES)
    assert {pretrain.RECIPES[name].source for name in module.TARGETS} == set(pretrain.SOURCES)
