"""16 trials of the digits default: one process, one after another, against 2 dask workers.

    python benchmarks/bench_sweep.py [--trials 16] [--workers 2] [--out DIR]

The 16 trials are the digits recipe of ``nlayer train`` (64-256-128-10, ReLU, SGD
lr 0.05 momentum 0.9, L2 0.1, batch 32, up to 100 epochs, patience 10) over
lr x l2 x 2 seeds, each an ordinary run directory. Three ways:

- **sequential**: every trial in this process, one after another, through the same
  ``run_trial`` the workers run (BLAS with all its threads; then again with one);
- **dask, BLAS limited**: ``nlayer sweep``'s way, a LocalCluster of single-threaded
  workers, each trial's BLAS limited to cores / workers threads;
- **dask, BLAS unlimited**: the same without the limit, to show the oversubscription.

Reported: wall time of each, the speed-up, the cluster's start-up, and the scheduling
overhead per trial = (workers x wall - sum of the trials' own seconds) / trials, i.e.
the worker time not spent inside a trial (idle at the end included). Results go to
``benchmarks/results/sweep.md``. Timings on a shared machine are noisy: the load
average before and after each part is recorded with it.
"""

import argparse
import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_training import machine_info  # noqa: E402  (the same machine description)

from nlayer.runs import config, data  # noqa: E402
from nlayer.sweep import expand, parse, runner, task  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "sweep.md"


def spec(n_trials):
    """lr x l2 points of the digits default, 2 seeds each: ``n_trials`` trials."""
    lrs = [0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5][: max(1, n_trials // 4)]
    return parse({"dataset": "digits", "grid": {"lr": lrs, "l2": [0.01, 0.1]},
                  "sweep": {"seeds": 2}}, "bench")


def load():
    return os.getloadavg()[0]


def sequential(trials, ds, blas_threads=None):
    """Every trial in this process; ``blas_threads`` caps BLAS (None: all its threads)."""
    start = time.perf_counter()
    with task._limit_blas(blas_threads):
        records = [task.run_trial(t, ds)["record"] for t in trials]
    return time.perf_counter() - start, records


@contextlib.contextmanager
def blas_environ(threads):
    """Worker processes start with ``threads`` BLAS threads (the environment beats dask's
    config, and dask's nanny leaves its own choice in this process's environment)."""
    saved = {name: os.environ.get(name) for name in runner.BLAS_ENVIRON}
    os.environ.update({name: str(threads) for name in runner.BLAS_ENVIRON})
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def on_dask(sweep_spec, ds, workers, limit_blas):
    """Unlimited: workers start with every core's BLAS thread and trials do not limit it."""
    threads = task.blas_share(workers) if limit_blas else task.cores()
    t0 = time.perf_counter()
    with blas_environ(threads), runner.connect(workers=workers) as client:
        assert set(client.run(_blas_threads).values()) == {threads}
        startup = time.perf_counter() - t0
        with tempfile.TemporaryDirectory() as out:
            job = runner.Sweep(sweep_spec, ds, out, limit_blas=limit_blas)
            start = time.perf_counter()
            job.run(client)
            wall = time.perf_counter() - start
    return wall, startup, list(job.records.values())


def _blas_threads():
    from threadpoolctl import threadpool_info
    return max(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas")


def noop_overhead(workers, n=200):
    """Seconds per empty task through the same kind of LocalCluster (submit to result)."""
    with runner.connect(workers=workers) as client:
        client.gather(client.map(abs, range(workers * 4)))  # warm up
        start = time.perf_counter()
        client.gather(client.map(abs, range(10_000, 10_000 + n)))
        return (time.perf_counter() - start) / n


def summary(name, wall, records, workers):
    own = sum(r["seconds"] for r in records)
    ok = sum(r["status"] == "ok" for r in records)
    return {"name": name, "wall": wall, "trial_seconds": own, "ok": ok, "n": len(records),
            "overhead": (workers * wall - own) / len(records) if workers > 1 else
            (wall - own) / len(records),
            "mean_dev": float(np.mean([r["dev"]["accuracy"] for r in records if r["dev"]]))}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    sweep_spec = spec(args.trials)
    trials = expand(sweep_spec)
    ds = data.load_for_training(config.resolve(sweep_spec.base))
    info = machine_info()
    rows, loads = [], []
    loads.append(load())
    wall, recs = sequential(trials, ds)
    rows.append(summary("sequential, one process", wall, recs, 1))
    loads.append(load())
    wall, recs = sequential(trials, ds, blas_threads=1)
    rows.append(summary("sequential, one process, BLAS 1 thread", wall, recs, 1))
    loads.append(load())
    wall, startup, recs = on_dask(sweep_spec, ds, args.workers, limit_blas=True)
    rows.append(summary(f"dask, {args.workers} workers, BLAS limited", wall, recs,
                        args.workers))
    loads.append(load())
    wall, _, recs = on_dask(sweep_spec, ds, args.workers, limit_blas=False)
    rows.append(summary(f"dask, {args.workers} workers, BLAS unlimited", wall, recs,
                        args.workers))
    loads.append(load())
    noop = noop_overhead(args.workers)
    text = report(rows, len(trials), args.workers, startup, noop, info, loads)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(text)


def report(rows, n, workers, startup, noop, info, loads):
    base = rows[0]["wall"]
    lines = [f"# nlayer sweep: {n} trials of the digits default, sequential vs {workers} "
             "dask workers", "",
             f"Machine: {info.get('cpu_model')}, {info.get('cpu_count')} cores, Python "
             f"{info.get('python')}; {info.get('date')}. Load average (1 min) before each "
             "part and at the end: " + ", ".join(f"{x:.1f}" for x in loads) + ".", "",
             "| Run | Wall s | Speed-up | Sum of trial s | Overhead s/trial | Trials ok "
             "| Mean dev acc |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        lines.append(f"| {r['name']} | {r['wall']:.1f} | {base / r['wall']:.2f}x | "
                     f"{r['trial_seconds']:.1f} | {r['overhead']:.3f} | {r['ok']}/{r['n']} "
                     f"| {r['mean_dev']:.4f} |")
    lines += ["", f"LocalCluster start-up ({workers} worker processes): {startup:.1f} s "
              "(not in the wall times above). An empty task through the cluster "
              f"(submit to result, 200 in flight): {noop * 1000:.2f} ms.",
              "", "Overhead s/trial = (workers x wall - sum of trial seconds) / trials: worker "
              "time outside a trial, scattering the data, scheduling, sending the run "
              "directory back and writing it, and the idle tail when fewer trials than "
              "workers remain. Sequential: wall - sum of trial seconds, per trial.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
