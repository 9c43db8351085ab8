"""What a worker runs for one trial: an ordinary ``nlayer train`` run on data already in memory.

The trial trains through ``nlayer.cli.train`` (the same ``build_model``, ``fit`` and run
directory as the command), in a temporary directory on the worker; the files come back
to the client with the result, so workers need no shared file system. Any error of
the trial (divergence, a bad combination of settings) is part of its result, never an
exception of the task: the sweep goes on.

BLAS is limited to the worker's share of the cores it runs on (cores / worker threads on
that host): two workers on two cores each get one BLAS thread instead of fighting over two.
"""

import contextlib
import os
import tempfile
import time
from pathlib import Path


def cores():
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def blas_share(threads_on_host):
    """BLAS threads for one task when ``threads_on_host`` tasks run at once on this host."""
    return max(1, cores() // max(1, threads_on_host))


def _limit_blas(threads):
    if threads is None:
        return contextlib.nullcontext()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # the limit is an optimisation; without it the trial still runs
        return contextlib.nullcontext()
    return threadpool_limits(limits=threads, user_api="blas")


def worker_address():
    """The dask worker running this task, or "local" outside dask."""
    try:
        from distributed import get_worker
        return get_worker().address
    except (ImportError, ValueError):
        return "local"


def run_trial(trial, ds, host_threads=None):
    """Train ``trial`` on the Dataset ``ds``; returns {"record": dict, "files": {name: bytes}}.

    ``host_threads`` maps a worker host to the number of task threads the cluster runs
    there; it sets this trial's BLAS share (None: no limit).
    """
    from nlayer.cli import train

    started = time.perf_counter()
    worker = worker_address()
    host = worker.split("://")[-1].rsplit(":", 1)[0]
    threads = None if host_threads is None else blas_share(host_threads.get(host, 1))
    summary, error, files = None, None, {}
    with _limit_blas(threads), tempfile.TemporaryDirectory(prefix="nlayer-trial-") as tmp:
        out = Path(tmp) / "run"
        try:
            model = train.build_model(trial.cfg, ds.task, train.n_outputs(ds))
            summary = train.train_and_write(model, ds, trial.cfg, out, started=started)
        except Exception as exc:  # noqa: BLE001 -- recorded in the trial's row, the sweep goes on
            error = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
        if out.is_dir():
            files = {p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.is_file()}
    record = {"trial": trial.id, "point": trial.point_id, "index": trial.index,
              "settings": trial.point, "seed": trial.seed,
              "status": "ok" if error is None else "failed", "error": error,
              "dev": (summary or {}).get("metrics", {}).get("dev"),
              "test": (summary or {}).get("metrics", {}).get("test"),
              "epochs": (summary or {}).get("epochs_run"),
              "best_epoch": (summary or {}).get("best_epoch"),
              "seconds": round(time.perf_counter() - started, 3),
              "worker": worker, "blas_threads": threads}
    return {"record": record, "files": files}
