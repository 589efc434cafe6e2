"""GPU timings of each notebook's slowest full-mode fits, beside their T4 estimate.

For each notebook, plans its full-mode fits with the documents' image counts
(``helpers.budget``), takes the slowest distinct fits by T4 estimate, and times real steps of
each on this device with random weights and random images (``helpers.projection.probe_fit``,
the probe ``setup`` runs before a full-mode notebook's long work). Writes one Markdown table:
seconds per epoch here against the T4 estimate, images per second, compile seconds and the
device's peak memory, with the device named. Run it on the JAX backend where TensorFlow is
absent (the lent GPU machine) or on TensorFlow:

    python benchmarks/gpu_rehearsal.py --out results/gpu_rehearsal.md
    python benchmarks/gpu_rehearsal.py 06 07 --steps 5 --per-notebook 1
"""

from __future__ import annotations

import argparse
import gc
import time
from pathlib import Path

import helpers  # noqa: F401  (chooses the Keras backend first)

# isort: split
import keras

from helpers import budget, config, lesson, projection, runtime


def peak_memory_mb() -> float | None:
    """The device's peak memory in use since the last call, in MB (None on a CPU)."""
    if keras.backend.backend() == "jax":
        import jax

        stats = jax.devices()[0].memory_stats() or {}
        peak = stats.get("peak_bytes_in_use")
        return peak / 2**20 if peak else None
    import tensorflow as tf

    gpus = tf.config.list_logical_devices("GPU")
    if not gpus:
        return None
    peak = tf.config.experimental.get_memory_info(gpus[0].name)["peak"]
    tf.config.experimental.reset_memory_stats(gpus[0].name)
    return peak / 2**20


def slowest(fits: list[budget.Fit], count: int) -> list[budget.Fit]:
    """The ``count`` distinct fits (``Fit.key``) with the largest T4 estimate per epoch."""
    distinct: dict[tuple, budget.Fit] = {}
    for fit in sorted(fits, key=lambda f: -f.t4_seconds / max(f.epochs, 1)):
        distinct.setdefault(fit.key, fit)
    return list(distinct.values())[:count]


def measure(fit: budget.Fit, steps: int) -> dict[str, float | None]:
    """One fit's probe on this device: seconds per epoch, images/s, compile s, peak MB."""
    started = time.perf_counter()
    timed = projection.probe_fit(fit, steps)
    wall = time.perf_counter() - started
    clock = projection.Clock([fit], 0.0, None, "full")
    clock.record(fit, timed)
    per_epoch, _, _ = clock.epoch_seconds(fit)
    images = fit.images + fit.val_images
    peak = peak_memory_mb()
    gc.collect()
    return {"epoch": per_epoch, "rate": images / per_epoch if per_epoch else None,
            "compile": timed.compile, "peak": peak, "wall": wall}


def table(selected: list[str], steps: int, per_notebook: int) -> str:
    device = runtime.accelerator(runtime.device_platforms())
    versions = runtime.versions()
    backend = keras.backend.backend()
    rows = [f"Device: {device} ({', '.join(runtime.device_platforms())}); Keras "
            f"{versions['keras']} on {backend} {versions[backend]}; {steps} timed steps per "
            "phase after the first; random weights and images.", "",
            "| notebook | fit | model | px | batch | T4 estimate (s/epoch) | here (s/epoch) | "
            "images/s | compile (s) | peak device memory (MB) |",
            "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for path in lesson.course():
        notebook = path.stem
        if selected and notebook[:2] not in selected:
            continue
        facts = lesson.load(path)
        fits = facts.fits(config.pick_params(facts.params, "full"), budget.document_images)
        for fit in slowest(fits, per_notebook):
            m = measure(fit, steps)
            t4 = fit.t4_seconds / max(fit.epochs, 1)
            peak = f"{m['peak']:,.0f}" if m["peak"] is not None else "-"
            rows.append(f"| {notebook[:2]} | {fit.name} | {fit.model} | {fit.size} | "
                        f"{fit.batch} | {t4:,.1f} | {m['epoch']:,.1f} | {m['rate']:,.0f} | "
                        f"{m['compile']:,.1f} | {peak} |")
            print(rows[-1], flush=True)
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", help="two-digit numbers (default: all)")
    parser.add_argument("--steps", type=int, default=projection.PROBE_STEPS,
                        help="timed steps per phase, after the compiling one")
    parser.add_argument("--per-notebook", type=int, default=2,
                        help="slowest distinct fits timed per notebook")
    parser.add_argument("--out", type=Path, help="write the table here too (Markdown)")
    args = parser.parse_args(argv)
    keras.mixed_precision.set_global_policy(
        config.precision_policy(runtime.accelerator(runtime.device_platforms())))
    text = table(args.notebooks, args.steps, args.per_notebook)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    print(text)
    return text


if __name__ == "__main__":
    main()
