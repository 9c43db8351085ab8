"""A sweep against a scheduler and workers started as subprocesses (``dask scheduler`` and
``dask worker`` on 127.0.0.1), including a worker killed in the middle of its trial."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")
pytest.importorskip("sklearn")

import nlayer.sweep as sweep  # noqa: E402

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
DASK = [sys.executable, "-m", "dask"]  # the `dask` command of this interpreter


def _start(args, log):
    return subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=ENV)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """(address, client, {worker address: Popen}); every process is stopped afterwards."""
    where = tmp_path_factory.mktemp("dask")
    file, log = where / "scheduler.json", open(where / "log.txt", "w")
    procs = [_start([*DASK, "scheduler", "--host", "127.0.0.1",
                     "--port", "0", "--dashboard-address", "127.0.0.1:0",
                     "--scheduler-file", str(file)], log)]
    try:
        deadline = time.monotonic() + 60
        while not file.exists() or not file.read_text().strip():
            assert time.monotonic() < deadline, "the scheduler did not start"
            time.sleep(0.2)
        address = json.loads(file.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        for name in ("w1", "w2"):
            procs.append(_start([*DASK, "worker", address,
                                 "--host", "127.0.0.1", "--nthreads", "1", "--no-nanny",
                                 "--no-dashboard", "--name", name], log))
        with distributed.Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=60)
            pids = client.run(os.getpid)
            by_address = {addr: next(p for p in procs if p.pid == pid)
                          for addr, pid in pids.items()}
            yield address, client, by_address
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()


def test_cli_sweeps_on_a_running_scheduler_by_address(cluster, tmp_path):
    address, client, workers = cluster
    spec = tmp_path / "s.toml"
    spec.write_text("hidden = [16]\nepochs = 3\nbatch_size = 64\n[grid]\nlr = [0.02, 0.05]\n"
                    "[sweep]\nseeds = 2\n")
    out = tmp_path / "out"
    result = subprocess.run([sys.executable, "-m", "nlayer.cli", "sweep", str(spec),
                             "--scheduler", address, "--out", str(out), "--json"],
                            capture_output=True, text=True, env=ENV, timeout=120)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["ok"] == 4 and summary["failed"] == 0
    rows = (out / "sweep.csv").read_text().splitlines()
    header = rows[0].split(",")
    used = {dict(zip(header, r.split(",")))["worker"] for r in rows[1:]}
    assert used <= set(workers)
    assert set(client.scheduler_info()["workers"]) == set(workers)  # the cluster stays up


def test_a_killed_workers_trials_are_rerun_on_another(cluster, tmp_path):
    address, client, workers = cluster
    from sklearn.datasets import load_digits
    X, y = load_digits(return_X_y=True)
    spec = {"hidden": [64], "epochs": 25, "batch_size": 16, "patience": 0,
            "grid": {"lr": [0.01, 0.02, 0.03]}, "sweep": {"seeds": 2}}
    killed = {}

    def kill_a_busy_worker(state):
        if killed:
            return
        busy = {w: keys for w, keys in client.processing().items() if keys}
        victim = next(iter(busy))
        killed["worker"], killed["keys"] = victim, set(busy[victim])
        workers[victim].send_signal(signal.SIGKILL)

    table = sweep.run(spec, (X / 16).astype(np.float32), y, client=client, out=tmp_path / "o",
                      on_progress=kill_a_busy_worker)
    rows = table.to_dict("records")
    assert len(rows) == 6 and all(r["status"] == "ok" for r in rows), rows
    rerun = [r for r in rows
             if any(k.startswith(f"nlayer-trial-{r['trial']}-") for k in killed["keys"])]
    assert rerun and all(r["worker"] != killed["worker"] for r in rerun)
    assert workers[killed["worker"]].wait(timeout=10) == -signal.SIGKILL
