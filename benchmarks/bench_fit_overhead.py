"""What one call of ``fit`` costs beyond its batches (the fixed cost per fit).

    python benchmarks/bench_fit_overhead.py [--repeats 200] [--out FILE.md]

A user who calls ``fit`` once per epoch (warm-started estimators, sweep trials,
the speed benchmark) pays its set-up every time: argument checks, the batch
order, the BLAS thread limit, the callbacks. On the benchmark's 784-256-128-10
float32 network with 128-row batches, this times ``fit`` on one batch and the
per-batch time inside a 20-batch ``fit``, interleaved (one process, ``--repeats``
pairs), and reports the difference of the medians: the fixed cost (target: under
3 ms). Also ``predict`` and ``evaluate`` on 128 rows against the forward pass alone.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

import nlayer as nl

sys.path.insert(0, str(Path(__file__).resolve().parent))
from training_bench.machine import _load1, machine_info, machine_line  # noqa: E402

TARGET_MS = 3.0
BATCH, LONG = 128, 20


def _model(X, y):
    model = nl.MLP(hidden=(256, 128), n_outputs=10, dtype="float32")
    model.compile(optimizer=nl.SGD(lr=0.01, momentum=0.9), metrics=["accuracy"])
    model.fit(X[:BATCH], y[:BATCH], epochs=1, batch_size=BATCH, seed=0)  # build, warm up
    return model


def _seconds(call):
    t0 = time.perf_counter()
    call()
    return time.perf_counter() - t0


def measure(repeats):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((BATCH * LONG, 784)).astype(np.float32)
    y = rng.integers(0, 10, BATCH * LONG)
    model = _model(X, y)
    one, long, predict, forward, evaluate = [], [], [], [], []
    for _ in range(repeats):
        one.append(_seconds(lambda: model.fit(X[:BATCH], y[:BATCH], batch_size=BATCH, seed=0)))
        long.append(_seconds(lambda: model.fit(X, y, batch_size=BATCH, seed=0)) / LONG)
        predict.append(_seconds(lambda: model.predict(X[:BATCH])))
        forward.append(_seconds(lambda: model.forward(X[:BATCH])))
        evaluate.append(_seconds(lambda: model.evaluate(X[:BATCH], y[:BATCH])))
    ms = {name: statistics.median(v) * 1e3 for name, v in
          {"one": one, "per_batch": long, "predict": predict, "forward": forward,
           "evaluate": evaluate}.items()}
    ms["fit_fixed"] = ms["one"] - ms["per_batch"]
    return ms


def report(ms, repeats, load):
    """The markdown table, with the verdict on the fixed cost."""
    verdict = "PASS" if ms["fit_fixed"] < TARGET_MS else "MISS"
    return "\n".join([
        "# The fixed cost of a fit call", "",
        machine_line(machine_info()) + f"; 1-minute load average {load[0]:.2f} at the start, "
        f"{load[1]:.2f} at the end.", "",
        f"784-256-128-10 float32, batches of {BATCH}; medians of {repeats} interleaved repeats "
        "(`python benchmarks/bench_fit_overhead.py`).", "",
        "| measurement | ms |", "|---|---:|",
        f"| `fit` on one batch | {ms['one']:.3f} |",
        f"| one batch inside a {LONG}-batch `fit` | {ms['per_batch']:.3f} |",
        f"| **fixed cost per `fit` call** (target < {TARGET_MS:g} ms: {verdict}) | "
        f"**{ms['fit_fixed']:.3f}** |",
        f"| `predict` on {BATCH} rows | {ms['predict']:.3f} |",
        f"| the forward pass alone | {ms['forward']:.3f} |",
        f"| `evaluate` on {BATCH} rows | {ms['evaluate']:.3f} |", ""])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=200)
    p.add_argument("--out", help="also write the table to this markdown file")
    args = p.parse_args(argv)
    start = _load1()
    ms = measure(args.repeats)
    text = report(ms, args.repeats, (start, _load1()))
    print(text)
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
