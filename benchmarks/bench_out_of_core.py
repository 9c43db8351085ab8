"""Training on data bigger than memory: memory-mapped files of growing size.

    python benchmarks/bench_out_of_core.py                      # 0.5, 1, 2, 4 GiB; speed at 1 GiB
    python benchmarks/bench_out_of_core.py --sizes 1,2,4,8 --huge 30 --dir /var/tmp

For each size, a float32 ``.npy`` file of 200 features is written to ``--dir`` (labels
beside it), and one child process trains one epoch of ``fit`` on it through
``np.load(..., mmap_mode="r")`` (784-free: 200-64-10, batches of 256, standard
normalisation fitted on the training rows, a 1 % development split) while a thread
samples its anonymous resident memory (``RssAnon``: what the process allocated,
not the file's pages, which the kernel can drop and read again). The table gives the
peak extra memory over the process before ``fit`` against the file's size (target:
flat, not growing with the data), and the epoch's seconds.

``--huge N``: the same for an N GiB file, more than this machine's memory (24 GiB):
one epoch must run to its end; it uses ``shuffle="blocks"`` (runs of rows read in random
order), since exactly shuffled batches read rows from all over a file the page cache
cannot hold (an epoch of a 30 GiB file took over 25 minutes that way here). ``--speed``: epoch seconds from a page-cached map
against the same rows as an in-memory array, alternating in one process (target:
the map at least 0.9x the array's speed).

Results go to ``benchmarks/results/out_of_core.md`` with the machine's state.
Files are removed afterwards unless ``--keep``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from training_bench.machine import _load1, machine_info, machine_line  # noqa: E402

FEATURES, CLASSES = 200, 10
GIB = 1 << 30

CHILD = textwrap.dedent("""
    import sys, threading, time, json
    import numpy as np, nlayer as nl

    def rss_anon():
        with open("/proc/self/status") as fh:
            return next(int(l.split()[1]) for l in fh if l.startswith("RssAnon")) * 1024

    X = np.load(sys.argv[1], mmap_mode="r")
    y = np.load(sys.argv[2], mmap_mode="r")
    def model():
        m = nl.MLP(hidden=(64,), n_outputs=10)
        m.compile(optimizer=nl.SGD(lr=0.01, momentum=0.9), normalize="standard")
        return m
    model().fit(X[:512], y[:512], epochs=1, batch_size=256, seed=0)  # imports and warm-up
    peak, done = [rss_anon()], threading.Event()
    base = peak[0]
    def watch():
        while not done.is_set():
            peak.append(rss_anon())
            time.sleep(0.01)
    threading.Thread(target=watch, daemon=True).start()
    t0 = time.perf_counter()
    shuffle = {"true": True, "blocks": "blocks"}[sys.argv[3]]
    model().fit(X, y, epochs=1, batch_size=256, seed=0, validation_split=0.01, shuffle=shuffle)
    seconds = time.perf_counter() - t0
    done.set()
    print(json.dumps({"extra": max(peak) - base, "seconds": seconds, "rows": len(X)}))
""")


def write_data(directory, gib, seed=0):
    """A float32 table of about ``gib`` GiB and its labels; returns the two paths."""
    rows = int(gib * GIB) // (FEATURES * 4)
    path, labels = directory / f"X_{gib:g}GiB.npy", directory / f"y_{gib:g}GiB.npy"
    if path.exists() and labels.exists() and len(np.load(labels, mmap_mode="r")) == rows:
        return path, labels  # kept by an earlier run (--keep)
    X = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(rows, FEATURES))
    y = np.lib.format.open_memmap(labels, mode="w+", dtype=np.int64, shape=(rows,))
    rng, w = np.random.default_rng(seed), np.random.default_rng(1).normal(size=(FEATURES, CLASSES))
    for start in range(0, rows, 1 << 18):
        block = rng.standard_normal((min(1 << 18, rows - start), FEATURES), dtype=np.float32)
        X[start:start + len(block)] = block
        y[start:start + len(block)] = (block @ w).argmax(axis=1)
    X.flush()
    y.flush()
    del X, y
    return path, labels


def train_in_child(path, labels, shuffle):
    import json
    out = subprocess.run([sys.executable, "-c", CHILD, str(path), str(labels), shuffle],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def speed(path, labels, rounds):
    """Epoch seconds from the page-cached map and from the same rows in memory."""
    import nlayer as nl
    mapped, y = np.load(path, mmap_mode="r"), np.load(labels)
    in_memory = np.array(mapped)

    def epoch(X):
        m = nl.MLP(hidden=(64,), n_outputs=CLASSES)
        m.compile(optimizer=nl.SGD(lr=0.01, momentum=0.9), normalize="standard")
        t0 = time.perf_counter()
        m.fit(X, y, epochs=1, batch_size=256, seed=0)
        return time.perf_counter() - t0
    epoch(mapped)  # the file's pages into the page cache
    times = {"map": [], "array": []}
    for _ in range(rounds):
        times["map"].append(epoch(mapped))
        times["array"].append(epoch(in_memory))
    return {k: statistics.median(v) for k, v in times.items()}


def report(rows, fast, load, sizes_note):
    lines = ["# Training on memory-mapped data", "",
             machine_line(machine_info()) + f"; 1-minute load average {load[0]:.2f} at the "
             f"start, {load[1]:.2f} at the end.", "",
             f"One epoch of `fit` per file (200-64-10, batches of 256, standard normalisation, "
             f"1 % development split), {sizes_note}.", "",
             "| file | rows | shuffle | peak extra anonymous memory | extra / file | epoch (s) |",
             "|---|---:|---|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['gib']:g} GiB | {r['rows']:,} | {r['shuffle']} | "
                     f"{r['extra'] / 2**20:.0f} MiB | {r['extra'] / (r['gib'] * GIB):.3f} | "
                     f"{r['seconds']:.1f} |")
    if fast:
        ratio = fast["array"] / fast["map"]
        verdict = "PASS" if ratio >= 0.9 else "MISS"
        lines += ["", f"Epoch from a page-cached map {fast['map']:.2f} s, from the same rows in "
                  f"memory {fast['array']:.2f} s: the map at {ratio:.2f}x the array's speed "
                  f"(target >= 0.9x: {verdict})."]
    return "\n".join(lines) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="0.5,1,2,4", help="GiB, comma-separated")
    p.add_argument("--huge", type=float, help="also one epoch on a file of this many GiB")
    p.add_argument("--speed", type=float, default=1.0, help="GiB for the map-vs-array timing "
                   "(0: skip)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--dir", default="/var/tmp", help="where the files are written")
    p.add_argument("--keep", action="store_true", help="keep the files (a later run reuses them)")
    p.add_argument("--shuffle", default="true", choices=["true", "blocks"],
                   help="fit's shuffle for --sizes (--huge always uses 'blocks')")
    p.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"))
    args = p.parse_args(argv)
    directory = Path(args.dir)
    sizes = [float(s) for s in args.sizes.split(",") if s] + ([args.huge] if args.huge else [])
    start, rows, fast, written = _load1() or 0.0, [], None, []
    try:
        for gib in sizes:
            path, labels = write_data(directory, gib)
            written += [path, labels]
            shuffle = "blocks" if gib == args.huge else args.shuffle
            result = train_in_child(path, labels, shuffle)
            rows.append({"gib": gib, "shuffle": shuffle, **result})
            print(rows[-1], flush=True)
        if args.speed:
            path, labels = write_data(directory, args.speed, seed=1)
            written += [path, labels]
            fast = speed(path, labels, args.rounds)
    finally:
        if not args.keep:
            for f in written:
                f.unlink(missing_ok=True)
    note = f"files of {', '.join(f'{g:g}' for g in sizes)} GiB in {directory}"
    text = report(rows, fast, (start, _load1() or 0.0), note)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "out_of_core.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
