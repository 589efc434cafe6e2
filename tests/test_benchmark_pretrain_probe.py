"""benchmarks/pretrain_probe.py (issue 21's feasibility probe): its factor labels, and its
quick sizes are the notebooks'. The source set and the backbones are helpers.synth.creatures's
and helpers.pretrain's (tests/test_synth_creatures.py, tests/test_pretrain.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.backend_agnostic

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "pretrain_probe.py"


@pytest.fixture(scope="module")
def probe():
    spec = importlib.util.spec_from_file_location("pretrain_probe", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_each_factor_that_varies_gets_a_label_per_image(probe) -> None:
    classes = probe.source_classes()
    y = np.arange(len(classes))
    factors = probe.factor_labels(classes, y)
    assert {"ear", "place", "muzzle", "head", "tone"} <= factors.keys()
    assert "coat" not in factors  # solid only without --coat
    for name, labels in factors.items():
        assert labels.shape == y.shape and labels.min() == 0, name


def test_the_quick_sizes_are_sizes_the_notebooks_quick_fits_request(probe) -> None:
    from tests.test_pretrain import quick_sizes

    requested = quick_sizes()
    for name, size in probe.QUICK_SIZES.items():
        assert size in requested[name], (name, size, requested[name])
