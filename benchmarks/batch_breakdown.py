"""Where a training batch's time goes: nlayer's stages next to the GEMM floor's.

    python benchmarks/batch_breakdown.py [--batches 32,128,512] [--rounds 5] [--out FILE.md]

The training benchmark (``bench_training.py``) reports one ratio per case:
nlayer's epoch over the floor's (the network's matrix products alone). This
script splits both into stages, per batch, so the gap can be read off: which
part is the GEMMs themselves, which is element-wise work inside a layer, which
is the loss, the metrics, the optimiser's update and the loop with its gather.

It also times the same training written as one plain NumPy loop (``plain_epoch``:
no layers, model or callbacks, the same calls in the same order, so it ends
with nlayer's weights to the bit). Its ratio to the floor is what NumPy itself
allows on this machine; nlayer's ratio over it is what the library's structure
costs.

One process runs a floor epoch, an nlayer epoch with stage clocks, one without
them and a plain-loop epoch in turn (a round; this machine changes speed for
minutes at a time, and a round sees one speed), until ``--rounds`` rounds per
batch size were quiet by the benchmark's state probe or ``--max-rounds`` ran,
and prints per-stage medians in microseconds per batch and the median of the
per-round ratios.

nlayer is timed through its real ``fit``: every layer's ``forward`` and
``backward``, the loss, the optimiser's ``step`` and the metrics' ``stats`` are
wrapped with a clock (about 0.2 us per call, so nlayer's total grows by a few
microseconds per batch). "loop and gather" is the rest of the epoch: the batch
gather, the Python loop and the clocks themselves.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from nlayer.utils import fastpaths

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_training as bench  # noqa: E402  (the same data, network and settings)


def build_model(batch):
    spec = bench._case_defaults({"hidden": bench.MAIN, "batch": batch, "n_features": 784})
    return bench._nlayer_model(spec)


class Clock:
    """Seconds per stage name, summed over calls."""

    def __init__(self):
        self.seconds = defaultdict(float)

    def wrap(self, obj, method, stage):
        fn = getattr(obj, method)
        seconds = self.seconds

        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                seconds[stage] += time.perf_counter() - t0

        setattr(obj, method, timed)  # an instance attribute hides the class's method


def layer_label(i, layer):
    if type(layer).__name__ == "Dense":
        return f"layer {i + 1} (Dense {layer.units}, {layer.activation.name})"
    return f"layer {i + 1} ({layer!r})"


def instrument(model, clock):
    for i, layer in enumerate(model.layers):
        clock.wrap(layer, "forward", f"{layer_label(i, layer)} forward")
        clock.wrap(layer, "backward", f"{layer_label(i, layer)} backward")
    clock.wrap(model.loss, "loss", "loss J")
    clock.wrap(model.loss, "dZ", "loss dZ = A - Y")
    clock.wrap(model.optimizer, "step", "optimiser update")
    for metric in model.metrics:
        clock.wrap(metric, "stats", "metrics (accuracy)")


def nlayer_epoch(model, X, y, batch, seed):
    clock = Clock()
    instrument(model, clock)
    try:
        hist = model.fit(X, y, epochs=1, batch_size=batch, seed=seed)
    finally:  # back to the class's methods
        for obj in (*model.layers, model.loss, model.optimizer, *model.metrics):
            for name in ("forward", "backward", "loss", "dZ", "step", "stats"):
                obj.__dict__.pop(name, None)
    total = hist.history["seconds"][0]
    stages = dict(clock.seconds)
    stages["loop and gather"] = total - sum(stages.values())
    return stages, total


def plain_state(model):
    """Packed copies of a model's kernels and biases, with their gradients and velocities.

    ``(flat, views)``: ``flat[name]`` is one array, ``views[name]`` its per-array views,
    for ``name`` in p (parameters), g (gradients), v (velocities), packed as nlayer packs.
    """
    arrays = [layer.params[key] for layer in model.layers for key in ("kernel", "bias")]
    size = sum(a.size for a in arrays)
    flat = {name: fastpaths.zeros_on_huge_pages(size, model.dtype) for name in "pgv"}
    views, start = {name: [] for name in "pgv"}, 0
    for a in arrays:
        for name in "pgv":
            views[name].append(flat[name][start:start + a.size].reshape(a.shape))
        views["p"][-1][...] = a
        start += a.size
    return flat, views


def plain_epoch(state, X, Y, order, batch, lr, momentum):
    """The benchmark's training as one plain NumPy loop: no layers, model or callbacks.

    ReLU hidden layers, softmax output, cross-entropy with the fused dZ = A - Y, SGD
    with momentum on packed arrays, the per-batch loss and accuracy that fit reports,
    and nlayer's NumPy idioms (``nlayer.utils.fastpaths``): the same calls in the same order as
    nlayer's fit, so it ends with the same weights. Returns the epoch's seconds.
    """
    (flat, views), dt = state, X.dtype
    Ws, bs, dWs, dbs = views["p"][0::2], views["p"][1::2], views["g"][0::2], views["g"][1::2]
    ones_k = fastpaths.ones(Y.shape[1], dt)
    buf_X, buf_Y = np.empty((batch, X.shape[1]), dt), np.empty((batch, Y.shape[1]), dt)
    loss, hits = 0.0, 0
    t0 = time.perf_counter()
    for start in range(0, X.shape[0], batch):
        idx = order[start:start + batch]
        m = idx.size
        Xb = X.take(idx, axis=0, out=buf_X[:m], mode="clip")
        Yb = Y.take(idx, axis=0, out=buf_Y[:m], mode="clip")
        A, As, Zs = Xb, [Xb], []
        for W, b in zip(Ws[:-1], bs[:-1]):            # hidden: Z = A_prev W + b, A = relu(Z)
            Z = A @ W
            Z += b
            A = np.maximum(Z, fastpaths.zeros(Z.shape, dt))
            Zs.append(Z)
            As.append(A)
        Z = A @ Ws[-1]                                 # output: A = softmax(Z)
        Z += bs[-1]
        A = Z - fastpaths.row_max(Z)[:, None]
        np.exp(A, out=A)
        A /= (A @ ones_k)[:, None]
        loss += float(-np.log(np.multiply(Yb, A) @ ones_k).sum(dtype=np.float64))
        hits += np.count_nonzero(A.argmax(axis=1) == Yb.argmax(axis=1))
        dZ = np.subtract(A, Yb)
        dZ *= dt.type(lr / m)                          # lr * dJ/dZ (lr folded in, as fit does)
        for l in range(len(Ws) - 1, -1, -1):
            np.matmul(As[l].T, dZ, out=dWs[l])         # dW = A_prev^T dZ
            fastpaths.column_sums(dZ, out=dbs[l])     # db = 1^T dZ
            if l > 0:
                dZ = dZ @ Ws[l].T                      # dA_prev = dZ W^T
                np.multiply(dZ, Zs[l - 1] > 0, out=dZ)  # dZ = dA * relu'(Z)
        v, mu = flat["v"], dt.type(momentum)           # v <- mu v - lr g; w <- w + v
        v *= mu
        v -= flat["g"]
        flat["p"] += v
    return time.perf_counter() - t0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batches", default="32,128,512", help="comma-separated batch sizes")
    p.add_argument("--rounds", type=int, default=5, help="quiet rounds wanted per batch size")
    p.add_argument("--max-rounds", type=int, help="give up waiting for quiet rounds after this "
                   "many per batch size (default 3 x --rounds)")
    p.add_argument("--rows", type=int, default=60000, help="training rows")
    p.add_argument("--out", help="also write the tables to this markdown file")
    args = p.parse_args(argv)
    batches = [int(b) for b in args.batches.split(",")]
    X, y, _, _, info = bench.load_data("auto", args.rows)
    source = info["source"]
    parts = [f"# Where a batch's time goes\n\n{bench.machine_line(bench.machine_info())}\n\n"
             "Rounds whose state probe is within 15 % of the run's fastest count as quiet "
             "(see benchmarks/README.md); the tables use them when there are at least 3.\n"]
    probes = []  # every round's probe, all batch sizes: quiet is judged across the run
    measured = [(batch, *measure(X, y, batch, args.rounds, args.max_rounds or 3 * args.rounds,
                                 probes))
                for batch in batches]
    for batch, runs, model in measured:
        quiet = quiet_rounds(runs, probes)
        if len(quiet) >= bench.MIN_QUIET_PAIRS:
            runs, note = quiet, f"the {len(quiet)} quiet rounds of {len(runs)}"
        else:
            note = f"all {len(runs)} rounds (only {len(quiet)} quiet)"
        parts.append(table(runs, model, X.shape[0], batch, source, note))
        print(parts[-1], flush=True)
    if args.out:
        Path(args.out).write_text("\n".join(parts))


def quiet_rounds(runs, probes):
    """The rounds whose probe is within bench.QUIET of the fastest probe in ``probes``."""
    fastest = min(probes)
    return [r for r in runs if r["probe"] <= fastest * (1 + bench.QUIET)]


def measure(X, y, batch, rounds, max_rounds, probes):
    """Rounds until ``rounds`` of them are quiet (or ``max_rounds`` ran), one dict each:
    seconds per batch of ``batch`` rows for the floor, nlayer's fit with stage clocks
    ("nlayer") and without ("fit"), the plain loop, and the stages. Each round's probe
    is appended to ``probes``."""
    from nlayer.model import batch_orders

    model = build_model(batch)
    Ws = [layer.params["kernel"].copy() for layer in model.layers]
    plain = plain_state(model)
    Y = model.loss.prepare_targets(y, bench.N_CLASSES, model.dtype)
    n = X.shape[0]
    orders = batch_orders(bench.SEED, n, max_rounds + 1)
    rng = np.random.default_rng(1)

    def round_(order, seed):
        probe = bench._state_probe()  # the machine's state (see bench_training.mark_quiet)
        f_seconds, f_stages = bench.floor_epoch(Ws, X, order, batch, rng)
        n_stages, n_seconds = nlayer_epoch(model, X, y, batch, seed)
        fit_seconds = model.fit(X, y, epochs=1, batch_size=batch, seed=seed).history["seconds"][0]
        p_seconds = plain_epoch(plain, X, Y, order, batch, bench.LR, bench.MOMENTUM)
        per = batch / n  # per batch of `batch` rows (all four run the last, partial batch)
        return {"probe": probe, "floor": f_seconds * per, "nlayer": n_seconds * per,
                "fit": fit_seconds * per, "plain": p_seconds * per,
                "floor_stages": {k: v * per for k, v in f_stages.items()},
                "nlayer_stages": {k: v * per for k, v in n_stages.items()}}

    round_(orders[0], bench.SEED)  # warm-up
    runs = []
    for r in range(max_rounds):
        runs.append(round_(orders[r + 1], bench.SEED + 1 + r))
        probes.append(runs[-1]["probe"])
        us = {k: runs[-1][k] * 1e6 for k in ("floor", "fit", "nlayer", "plain")}
        print(f"batch {batch}, round {r + 1}: probe {runs[-1]['probe'] * 1e3:.1f} ms, per batch: "
              f"floor {us['floor']:.1f} us, nlayer {us['fit']:.1f} us ({us['nlayer']:.1f} with "
              f"clocks), plain loop {us['plain']:.1f} us", file=sys.stderr, flush=True)
        if len(quiet_rounds(runs, probes)) >= rounds:
            break
    return runs, model


def _us(values):
    return statistics.median(values) * 1e6


def table(runs, model, n_rows, batch, source, rounds_note):
    """Markdown: per-batch medians of every stage, nlayer next to the floor, and the ratios."""
    nl = {k: _us([r["nlayer_stages"][k] for r in runs]) for k in runs[0]["nlayer_stages"]}
    fl = {k: _us([r["floor_stages"][k] for r in runs]) for k in runs[0]["floor_stages"]}
    rows = []
    for i, layer in enumerate(model.layers):
        for direction in ("forward", "backward"):
            name = f"{layer_label(i, layer)} {direction}"
            rows.append((name, nl.pop(name, 0.0), fl.pop(f"{i} {direction}", 0.0)))
    for name in ("loss J", "loss dZ = A - Y", "metrics (accuracy)", "optimiser update"):
        rows.append((name, nl.pop(name, 0.0), 0.0))
    rows.append(("loop and gather (rest of the epoch)", nl.pop("loop and gather"), fl.pop("loop")))
    total = {k: _us([r[k] for r in runs]) for k in ("nlayer", "fit", "floor", "plain")}
    ratio = {k: statistics.median(r[k] / r["floor"] for r in runs)
             for k in ("nlayer", "fit", "plain")}
    lines = [f"## Batch {batch}: {n_rows} rows of {source}; medians over {rounds_note}, "
             "microseconds per batch", "",
             "| stage | nlayer | GEMM floor | nlayer - floor |", "|---|---:|---:|---:|"]
    lines += [f"| {name} | {a:.1f} | {b:.1f} | {a - b:+.1f} |" for name, a, b in rows]
    lines += [f"| **whole batch** | **{total['nlayer']:.1f}** | **{total['floor']:.1f}** | "
              f"**{total['nlayer'] - total['floor']:+.1f}** |", "",
              "Median of the per-round ratios to the floor: "
              f"nlayer {ratio['fit']:.2f}x ({total['fit']:.1f} us per batch; "
              f"{ratio['nlayer']:.2f}x with the stage clocks above), "
              f"the plain NumPy loop {ratio['plain']:.2f}x ({total['plain']:.1f} us per batch)."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
