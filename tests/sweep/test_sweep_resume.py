"""``nlayer sweep`` stopped in the middle of its trials (Ctrl-C, the client's whole process
group killed, the sweep file edited) and ``--resume``: each trial continues from its last
checkpoint and ends bit-identical to an uninterrupted sweep."""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

pytest.importorskip("distributed")
psutil = pytest.importorskip("psutil")  # a dependency of distributed

import nlayer as nl  # noqa: E402

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

ENV = {**os.environ, "COLUMNS": "120", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
EPOCHS = 40  # about 1.5 s a trial with a checkpoint every epoch
SPEC = (f"hidden = [32]\nepochs = {EPOCHS}\nbatch_size = 32\npatience = 0\n"
        "[grid]\nlr = [0.02, 0.05]\n[sweep]\nseeds = 1\n")


def sweep_cmd(spec, out, *more):
    return [sys.executable, "-m", "nlayer.cli", "sweep", str(spec), "--out", str(out),
            "--checkpoint-seconds", "0", *map(str, more)]


def write_spec(path, text=SPEC):
    path.write_text(text)
    return path


def rows(out):
    with open(out / "sweep.csv", newline="") as fh:
        return {r["trial"]: r for r in csv.DictReader(fh)}


def history(run_dir):
    with open(run_dir / "history.csv", newline="") as fh:
        return [{k: v for k, v in r.items() if k != "seconds"} for r in csv.DictReader(fh)]


def assert_same_trial(a, b):
    """The same model to the bit and the same history (seconds per epoch aside)."""
    ma, mb = nl.load(a / "model.nlayer"), nl.load(b / "model.nlayer")
    for wa, wb in zip(ma.get_weights(), mb.get_weights(), strict=True):
        assert np.array_equal(wa, wb)
    ha, hb = ma.history.to_dict()["history"], mb.history.to_dict()["history"]
    assert {k: v for k, v in ha.items() if k != "seconds"} == \
        {k: v for k, v in hb.items() if k != "seconds"}
    assert history(a) == history(b)


@pytest.fixture(scope="module")
def uninterrupted(dask_client, tmp_path_factory):
    where = tmp_path_factory.mktemp("whole")
    out = where / "out"
    done = subprocess.run(sweep_cmd(write_spec(where / "s.toml"), out, "--scheduler",
                                    dask_client.scheduler.address, "--quiet"),
                          capture_output=True, text=True, env=ENV, timeout=180)
    assert done.returncode == 0, done.stderr
    return out


def start_and_stop(spec, out, stop, *cluster):
    """Run the sweep in its own process group, on its own LocalCluster of 2 workers unless
    ``cluster`` says otherwise, until a trial's checkpoint is in ``out``; then
    ``stop(proc)``; returns the Popen."""
    proc = subprocess.Popen([*sweep_cmd(spec, out), *(cluster or ("--workers", "2"))],
                            stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=ENV, start_new_session=True)
    deadline = time.monotonic() + 120
    while not list((out / "trials").glob("*.partial/checkpoint.nlayer")):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no checkpoint arrived"
        time.sleep(0.02)
    stop(proc)
    return proc


def resume(dask_client, spec, out):
    """--resume on the module's cluster; returns the --json summary."""
    done = subprocess.run([*sweep_cmd(spec, out), "--resume", "--json", "--scheduler",
                           dask_client.scheduler.address], capture_output=True, text=True,
                          env=ENV, timeout=180)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def assert_continued_exactly(out, uninterrupted, summary):
    table = rows(out)
    assert [r["status"] for r in table.values()] == ["ok", "ok"]
    continued = [t for t, r in table.items() if r["resumed_from"]]
    assert continued and all(0 < int(table[t]["resumed_from"]) < EPOCHS for t in continued)
    assert summary["continued"] == len(continued) and summary["restarted"] == 0
    assert all(r["restart_reason"] == "" for r in table.values())
    for trial in table:
        assert_same_trial(out / "trials" / trial, uninterrupted / "trials" / trial)
    assert not list((out / "trials").glob("*.partial"))


def test_ctrl_c_then_resume_continues_each_trial_to_the_uninterrupted_end(
        tmp_path, dask_client, uninterrupted):
    spec, out = write_spec(tmp_path / "s.toml"), tmp_path / "out"
    proc = start_and_stop(spec, out, lambda p: p.send_signal(signal.SIGINT))
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "unfinished trials continue from their last checkpoint" in stdout
    waiting = list((out / "trials").glob("*.partial/checkpoint.nlayer"))
    assert waiting and not list((out / "trials").glob("*/trial.json"))
    summary = resume(dask_client, spec, out)
    assert summary["ok"] == 2 and not summary["interrupted"]
    assert_continued_exactly(out, uninterrupted, summary)


def group_alive(pgid):
    """The processes of a process group that still run (zombies aside)."""
    alive = []
    for proc in psutil.process_iter(["pid", "status"]):
        try:
            if os.getpgid(proc.pid) == pgid and proc.info["status"] != psutil.STATUS_ZOMBIE:
                alive.append(proc.pid)
        except (ProcessLookupError, psutil.NoSuchProcess):
            pass
    return alive


def test_a_killed_client_and_cluster_resume_from_the_last_checkpoints(
        tmp_path, dask_client, uninterrupted):
    """SIGKILL to the sweep's whole process group: a crashed machine."""
    spec, out = write_spec(tmp_path / "s.toml"), tmp_path / "out"
    group = {}

    def crash(proc):
        group["pgid"] = os.getpgid(proc.pid)
        assert len(group_alive(group["pgid"])) >= 3  # the client and its 2 worker processes
        os.killpg(group["pgid"], signal.SIGKILL)

    proc = start_and_stop(spec, out, crash)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    deadline = time.monotonic() + 30
    while group_alive(group["pgid"]):
        assert time.monotonic() < deadline, f"survivors: {group_alive(group['pgid'])}"
        time.sleep(0.1)
    assert not (out / "sweep.csv").exists()
    summary = resume(dask_client, spec, out)
    assert summary["ok"] == 2
    assert_continued_exactly(out, uninterrupted, summary)
    assert not [p for p in out.rglob("*.tmp")]  # temporaries of cut writes were cleaned up


def test_an_edited_sweep_file_restarts_the_trials_from_epoch_1_and_says_why(
        tmp_path, dask_client):
    spec, out = write_spec(tmp_path / "s.toml"), tmp_path / "out"
    proc = start_and_stop(spec, out, lambda p: p.send_signal(signal.SIGINT),
                          "--scheduler", dask_client.scheduler.address)
    assert proc.communicate(timeout=60) and proc.returncode == 130
    waiting = {p.parent.name.removesuffix(".partial")
               for p in (out / "trials").glob("*.partial/checkpoint.nlayer")}
    assert waiting
    write_spec(spec, SPEC.replace("batch_size = 32", "batch_size = 64"))
    summary = resume(dask_client, spec, out)
    assert summary["ok"] == 2 and summary["restarted"] == len(waiting)
    assert summary["continued"] == 0
    for trial, row in rows(out).items():
        assert row["resumed_from"] == "" and row["epochs"] == str(EPOCHS)
        if trial in waiting:
            assert "batch_size: 64 now, 32 in the checkpoint" in row["restart_reason"]
        record = json.loads((out / "trials" / trial / "trial.json").read_text())
        assert record["restart_reason"] == (row["restart_reason"] or None)
        assert nl.load(out / "trials" / trial / "model.nlayer").history.epoch == \
            list(range(1, EPOCHS + 1))


def test_a_trial_whose_worker_dies_continues_from_its_last_checkpoint_on_the_rerun(tmp_path):
    """SIGKILL to the worker in the middle of the sweep's last trial, on the LocalCluster
    that ``nlayer sweep`` starts: dask reruns the trial on the other worker (the data is
    still there), which reads the newest checkpoint the client published and ends as the
    uninterrupted trial."""
    from sklearn.datasets import load_digits

    import nlayer.sweep as sweep
    from nlayer.sweep import runner, task
    X, y = load_digits(return_X_y=True)
    X = (X / 16).astype(np.float32)
    spec = {"hidden": [32], "epochs": EPOCHS, "batch_size": 32, "patience": 0,
            "grid": {"lr": [0.05]}}
    out, done = tmp_path / "out", {}
    with runner.connect(workers=2) as client:
        client.wait_for_workers(2, timeout=60)  # the data goes to the workers there are
        worker, sent = kill_the_worker_of_the_trial(client, spec, X, y, out, done)
    [row] = done["table"].to_dict("records")
    assert row["status"] == "ok" and row["worker"] != worker, row
    assert sent <= row["resumed_from"] < EPOCHS
    [trial] = sweep.expand(sweep.parse(spec))
    alone = task.run_trial(trial, sweep.arrays_dataset(X, y))["files"]["model.nlayer"]
    (tmp_path / "alone.nlayer").write_bytes(alone)
    for a, b in zip(nl.load(out / "trials" / trial.id / "model.nlayer").get_weights(),
                    nl.load(tmp_path / "alone.nlayer").get_weights(), strict=True):
        assert np.array_equal(a, b)


def kill_the_worker_of_the_trial(client, spec, X, y, out, done):
    """Run the sweep of one trial in a thread; SIGKILL its worker once a checkpoint of it
    is in ``out``; returns (the killed worker, the epochs of that checkpoint)."""
    import threading

    import nlayer.sweep as sweep
    # off, the active memory manager cannot drop the data's copy on the other worker
    assert not client.run_on_scheduler(lambda dask_scheduler:
                                       dask_scheduler.extensions["amm"].running)
    runner = threading.Thread(target=lambda: done.update(table=sweep.run(
        spec, X, y, client=client, out=out, checkpoint_seconds=0)))
    runner.start()
    [trial] = sweep.expand(sweep.parse(spec))
    partial = out / "trials" / f"{trial.id}.partial" / "checkpoint.nlayer"
    deadline = time.monotonic() + 60
    while not partial.exists():
        assert time.monotonic() < deadline and runner.is_alive(), "no checkpoint arrived"
        time.sleep(0.01)
    [worker] = [w for w, keys in client.processing().items()
                if any(k.startswith(trial.key + "-") for k in keys)]
    pid = client.run(os.getpid, workers=[worker])[worker]
    sent = len(nl.load(partial).history.epoch)
    os.kill(pid, signal.SIGKILL)
    runner.join(timeout=120)
    return worker, sent
