"""What nl.LayerMonitor costs: epochs with and without it, paired in one process.

    python benchmarks/bench_monitor.py [--pairs 8] [--every 50] [--rows 60000] [--out FILE.md]

The network, data and optimiser are the training benchmark's (784-256-128-10, ReLU,
SGD momentum 0.9, batch 128, Fashion-MNIST when installed). Each pair trains one
epoch without the monitor and one with ``LayerMonitor(every_batches=--every)`` on
the same batches, in alternating order; the overhead is the median over pairs of
(with / without - 1). Pairs whose state probe is within the benchmark's QUIET of
the run's fastest are reported separately (the machine is shared; see docs/benchmarks/index.md).

On a busy machine the paired wall-clock overhead is noise; the second figure is
sturdier: the seconds spent inside the monitor's own hooks (its tap before the
optimiser's step and its on_batch_end, clocked as batch_breakdown clocks stages)
over the epoch's seconds, in the same epoch.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import batch_breakdown  # noqa: E402  (the benchmark's model at a given batch size)
import bench_training as bench  # noqa: E402  (data, state probe, machine description)

import nlayer as nl  # noqa: E402

BATCH = 128


def epoch_seconds(model, X, y, seed, monitor):
    callbacks = [monitor] if monitor is not None else []
    return model.fit(X, y, epochs=1, batch_size=BATCH, seed=seed,
                     callbacks=callbacks).history["seconds"][0]


def clocked_monitor(every):
    """A LayerMonitor whose own hooks are clocked (seconds in ``clock.seconds``)."""
    monitor, clock = nl.LayerMonitor(every_batches=every), batch_breakdown.Clock()
    clock.wrap(monitor, "_tap", "monitor")
    clock.wrap(monitor, "on_batch_end", "monitor")
    return monitor, clock


def measure(X, y, pairs, every):
    """One dict per pair: probe, seconds without and with the monitor, rows recorded."""
    model = batch_breakdown.build_model(BATCH)
    epoch_seconds(model, X, y, bench.SEED, None)  # warm-up (buffers, huge pages)
    out = []
    for k in range(pairs):
        probe = bench._state_probe()
        seed = bench.SEED + 1 + k
        monitor, clock = clocked_monitor(every)
        if k % 2 == 0:
            off = epoch_seconds(model, X, y, seed, None)
            on = epoch_seconds(model, X, y, seed, monitor)
        else:
            on = epoch_seconds(model, X, y, seed, monitor)
            off = epoch_seconds(model, X, y, seed, None)
        inside = clock.seconds["monitor"]
        out.append({"probe": probe, "off": off, "on": on, "inside": inside})
        print(f"pair {k + 1}: probe {probe * 1e3:.1f} ms, without {off:.3f} s, with {on:.3f} s, "
              f"overhead {on / off - 1:+.1%}, inside the monitor {inside / on:.2%} of its epoch",
              file=sys.stderr, flush=True)
    return out


def report(runs, every, n_rows, source):
    fastest = min(r["probe"] for r in runs)
    quiet = [r for r in runs if r["probe"] <= fastest * (1 + bench.QUIET)]
    lines = [f"# LayerMonitor overhead\n\n{bench.machine_line(bench.machine_info())}\n",
             f"784-256-128-10 ReLU, SGD momentum 0.9, batch {BATCH}, one epoch of {n_rows} rows "
             f"({source}); LayerMonitor(every_batches={every}); {len(runs)} pairs, alternating "
             "order.\n", "| pairs | median without (s) | median with (s) | median overhead | "
             "median time inside the monitor |", "|---|---:|---:|---:|---:|"]
    for label, rs in (("all", runs), ("quiet", quiet)):
        if rs:
            ratios = [r["on"] / r["off"] - 1 for r in rs]
            lines.append(f"| {label} ({len(rs)}) | {statistics.median(r['off'] for r in rs):.3f} | "
                         f"{statistics.median(r['on'] for r in rs):.3f} | "
                         f"{statistics.median(ratios):+.1%} | "
                         f"{statistics.median(r['inside'] / r['on'] for r in rs):.2%} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pairs", type=int, default=8)
    p.add_argument("--every", type=int, default=50, help="LayerMonitor's every_batches")
    p.add_argument("--rows", type=int, default=60000)
    p.add_argument("--out", help="also write the table to this markdown file")
    args = p.parse_args(argv)
    X, y, _, _, info = bench.load_data("auto", args.rows)
    text = report(measure(X, y, args.pairs, args.every), args.every, X.shape[0], info["source"])
    print(text)
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
