"""What nl.LivePlot costs at its default throttle, as a share of the training time.

    python benchmarks/bench_live_plot.py [--epochs 10] [--pairs 2] [--rows 60000] [--out FILE.md]

The network and data are the training benchmark's (784-256-128-10, ReLU, SGD momentum 0.9,
batch 128, Fashion-MNIST when installed), with a 10 % development split and
``LayerMonitor(every_batches=50)`` in every run, so that LivePlot draws its full figure:
the curves and the per-layer dZ, dW and update-ratio series. Each pair trains ``--epochs``
epochs without LivePlot and with ``LivePlot(path=...png)`` (default throttle) from the same
seed, in alternating order. Outside a notebook the figure goes to the file; in a notebook the
same PNG goes to the display instead, so the cost is the same.

Two figures: the seconds LivePlot spent redrawing over the run's wall time, in the same run
(sturdy), and the paired wall-time overhead (noise on a shared machine). The load average at
start and end says how shared the machine was.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import batch_breakdown  # noqa: E402  (the benchmark's model at a given batch size)
from training_bench.data import load_data  # noqa: E402
from training_bench.machine import machine_info, machine_line  # noqa: E402

import nlayer as nl  # noqa: E402

BATCH = 128
SEED = 0


def run(X, y, epochs, live):
    """Wall seconds of one fit of a fresh model (LivePlot given or None)."""
    model = batch_breakdown.build_model(BATCH)
    callbacks = [nl.LayerMonitor(every_batches=50)] + ([live] if live is not None else [])
    start = time.perf_counter()
    model.fit(X, y, epochs=epochs, batch_size=BATCH, validation_split=0.1, seed=SEED,
              callbacks=callbacks)
    return time.perf_counter() - start


def measure(X, y, epochs, pairs, folder):
    """One dict per pair: seconds without and with LivePlot, its redraws and their seconds."""
    out = []
    for k in range(pairs):
        live = nl.LivePlot(path=Path(folder) / "live.png")
        if k % 2 == 0:
            off, on = run(X, y, epochs, None), run(X, y, epochs, live)
        else:
            on, off = run(X, y, epochs, live), run(X, y, epochs, None)
        out.append({"off": off, "on": on, "draws": live.draws, "drawing": live.seconds})
        print(f"pair {k + 1}: without {off:.2f} s, with {on:.2f} s ({live.draws} redraws, "
              f"{live.seconds:.2f} s drawing = {live.seconds / on:.2%} of the run)",
              file=sys.stderr, flush=True)
    return out


def report(pairs, epochs, n_rows, source, machine, load_start, load_end):
    lines = [f"# LivePlot's cost at its default throttle\n\n{machine}\n",
             f"784-256-128-10 ReLU, SGD momentum 0.9, batch {BATCH}, {epochs} epochs of "
             f"{n_rows} rows ({source}), 10 % dev split, LayerMonitor(every_batches=50) in "
             f"every run; LivePlot(path=live.png) with its defaults (redraws within "
             f"{nl.callbacks.live_plot.MAX_SHARE:.0%} of the time, the last epoch always). "
             f"{len(pairs)} pairs, alternating order.\n",
             f"Load average (1, 5, 15 min) at start {_load(load_start)}, at end "
             f"{_load(load_end)}, on {os.cpu_count()} cores.\n",
             "| pair | without (s) | with (s) | redraws | drawing (s) | drawing / run | "
             "paired overhead |", "|---|---:|---:|---:|---:|---:|---:|"]
    for k, p in enumerate(pairs, 1):
        lines.append(f"| {k} | {p['off']:.2f} | {p['on']:.2f} | {p['draws']} | "
                     f"{p['drawing']:.2f} | {p['drawing'] / p['on']:.2%} | "
                     f"{p['on'] / p['off'] - 1:+.1%} |")
    share = statistics.median(p["drawing"] / p["on"] for p in pairs)
    lines.append(f"\nMedian share of the run spent redrawing: {share:.2%} (target: under 5 %).")
    return "\n".join(lines) + "\n"


def _load(values):
    return " / ".join(f"{v:.2f}" for v in values)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--pairs", type=int, default=2)
    p.add_argument("--rows", type=int, default=60000)
    p.add_argument("--out", help="also write the table to this markdown file")
    args = p.parse_args(argv)
    load_start = os.getloadavg()
    X, y, _, _, info = load_data("auto", args.rows)
    X, y = X[:args.rows], y[:args.rows]
    with tempfile.TemporaryDirectory() as folder:
        pairs = measure(X, y, args.epochs, args.pairs, folder)
    text = report(pairs, args.epochs, X.shape[0], info["source"],
                  machine_line(machine_info()), load_start, os.getloadavg())
    print(text)
    if args.out:
        nl.saving.atomic.write_text(args.out, text)


if __name__ == "__main__":
    main()
