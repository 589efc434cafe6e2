"""benchmarks/gpu_rehearsal.py on this CPU: the table it writes for the lent GPU machine."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

BENCHMARK = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_rehearsal.py"


def test_the_gpu_rehearsal_times_the_slowest_fits(lab_env: Path, tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("gpu_rehearsal", BENCHMARK)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out = tmp_path / "gpu.md"
    text = bench.main(["01", "--steps", "1", "--per-notebook", "1", "--out", str(out)])
    assert out.read_text() == text + "\n"
    assert text.startswith("Device: CPU")
    rows = [line for line in text.splitlines() if line.startswith("| 01 |")]
    assert len(rows) == 1  # one distinct fit: both of 01's fits are the MNIST CNN at batch 128
    cells = [c.strip() for c in rows[0].strip("|").split("|")]
    assert cells[2:5] == ["mnist_cnn", "28", "128"]
    t4, here, rate, compiling = (float(c.replace(",", "")) for c in cells[5:9])
    assert here > 0 and rate > 0 and compiling >= 0 and t4 > 0
    assert cells[9] == "-"  # no device memory to read on a CPU
    assert re.search(r"Keras \S+ on (tensorflow|jax)", text)
