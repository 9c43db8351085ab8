"""Sweeps on a real LocalCluster (2 worker processes): results, failures, files, --resume, Ctrl-C."""

import gc
import json
import os
import shutil
import signal
import subprocess
import sys
import tomllib

import numpy as np
import pytest

pytest.importorskip("distributed")
pytest.importorskip("sklearn")
mpimg = pytest.importorskip("matplotlib.image")

import nlayer as nl  # noqa: E402
import nlayer.sweep as sweep  # noqa: E402
from nlayer.runs import config  # noqa: E402
from nlayer.sweep import runner, task  # noqa: E402

SPEC = {"hidden": [16], "epochs": 3, "batch_size": 64,
        "grid": {"lr": [0.05, 1e4]}, "sweep": {"seeds": 2}}


@pytest.fixture(scope="module")
def digits_xy():
    from sklearn.datasets import load_digits
    X, y = load_digits(return_X_y=True)
    return (X / 16.0).astype(np.float32), y


@pytest.fixture(scope="module")
def swept(dask_client, digits_xy, tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep") / "out"
    events = []
    table = sweep.run(SPEC, *digits_xy, client=dask_client, out=out, on_progress=events.append)
    return out, table, events


def test_every_trial_is_a_row_and_a_diverging_one_is_recorded_not_fatal(swept, dask_client):
    out, table, events = swept
    pandas = pytest.importorskip("pandas")
    rows = table.to_dict("records")
    assert len(rows) == 4 and [r["seed"] for r in rows] == [0, 1, 0, 1]
    good = [r for r in rows if r["lr"] == 0.05]
    bad = [r for r in rows if r["lr"] == 1e4]
    assert all(r["status"] == "ok" and pandas.isna(r["error"]) for r in good)
    assert all(r["dev_accuracy"] > 0.85 and r["test_accuracy"] > 0.85 for r in good)
    assert all(r["status"] == "failed" and r["error"].startswith("TrainingDivergedError")
               for r in bad)
    workers = set(dask_client.scheduler_info()["workers"])
    assert {r["worker"] for r in rows} <= workers
    assert [e.done for e in events] == [1, 2, 3, 4] and events[-1].failed == 2


def test_each_trial_is_an_ordinary_run_directory_with_its_numbers(swept, digits_xy):
    out, table, _ = swept
    row = table.to_dict("records")[0]
    run_dir = out / "trials" / row["trial"]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["test_accuracy"] == row["test_accuracy"]
    assert summary["metrics"]["dev"]["accuracy"] == row["dev_accuracy"]
    assert tomllib.loads((run_dir / "config.toml").read_text())["lr"] == 0.05
    model = nl.load(run_dir / "model.nlayer")
    ds = sweep.arrays_dataset(*digits_xy)
    assert model.evaluate(ds.X_test, ds.y_test)["accuracy"] == row["test_accuracy"]
    trial = json.loads((run_dir / "trial.json").read_text())
    assert trial["blas_threads"] == max(1, task.cores() // 2)  # 2 single-thread workers


def test_a_trial_on_a_worker_equals_the_same_trial_in_this_process(swept, digits_xy):
    out, table, _ = swept
    ds = sweep.arrays_dataset(*digits_xy)
    trial = sweep.expand(sweep.parse(SPEC))[1]
    local = task.run_trial(trial, ds)["record"]
    row = next(r for r in table.to_dict("records") if r["trial"] == trial.id)
    assert local["worker"] == "local"
    assert local["dev"]["accuracy"] == row["dev_accuracy"]
    assert local["dev"]["loss"] == row["dev_loss"]
    assert local["test"]["loss"] == row["test_loss"]


def test_best_toml_is_the_best_dev_point_and_trains_with_nlayer_train(swept):
    out, _, _ = swept
    text = (out / "best.toml").read_text()
    assert "chosen on the dev set only" in text
    cfg = config.resolve({}, out / "best.toml")
    assert cfg["lr"] == 0.05 and cfg["hidden"] == [16] and cfg["epochs"] == 3
    image = mpimg.imread(out / "sweep.png")
    assert image.shape[0] >= 300 and image.shape[1] >= 400


def test_resume_skips_finished_trials_and_reruns_only_missing_ones(swept, dask_client, digits_xy):
    out, table, _ = swept
    stamps = {p: p.stat().st_mtime_ns for p in (out / "trials").glob("*/trial.json")}
    events = []
    again = sweep.run(SPEC, *digits_xy, client=dask_client, out=out, resume=True,
                      on_progress=events.append)
    assert events == []  # nothing left to run
    assert again.equals(table)
    removed = table["trial"][2]
    shutil.rmtree(out / "trials" / removed)
    again = sweep.run(SPEC, *digits_xy, client=dask_client, out=out, resume=True,
                      on_progress=events.append)
    assert [e.last["trial"] for e in events] == [removed]
    assert events[0].skipped == 3 and events[0].total == 4
    assert again.drop(columns=["seconds", "worker"]).equals(
        table.drop(columns=["seconds", "worker"]))
    for path, stamp in stamps.items():
        if removed not in str(path):
            assert path.stat().st_mtime_ns == stamp


def test_without_pandas_the_table_is_a_list_of_dicts(swept, dask_client, digits_xy,
                                                     monkeypatch):
    out, table, _ = swept
    monkeypatch.setitem(sys.modules, "pandas", None)  # `import pandas` now fails
    rows = sweep.run(SPEC, *digits_xy, client=dask_client, out=out, resume=True)
    assert isinstance(rows, list) and [r["trial"] for r in rows] == list(table["trial"])
    assert rows[0]["dev_accuracy"] == table["dev_accuracy"][0]
    assert rows[0]["error"] is None and rows[-1]["status"] == "failed"


def test_a_sweep_never_overwrites_a_non_empty_out(dask_client, digits_xy, swept):
    out, _, _ = swept
    with pytest.raises(Exception, match="already exists and is not empty"):
        sweep.run(SPEC, *digits_xy, client=dask_client, out=out)


ENV = {**os.environ, "COLUMNS": "120", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


def test_cli_ctrl_c_stops_cleanly_and_resume_finishes(tmp_path, dask_client):
    spec = tmp_path / "s.toml"
    spec.write_text('hidden = [16]\nepochs = 6\nbatch_size = 32\npatience = 0\n'
                    '[grid]\nlr = [0.01, 0.03, 0.05]\n[sweep]\nseeds = 2\n')
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "nlayer.cli", "sweep", str(spec), "--out", str(out)]
    # started as a background job is (SIGINT ignored): the sweep still stops on Ctrl-C
    proc = subprocess.Popen([*cmd, "--workers", "2"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=ENV,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if line.startswith("[1/6]"):
            proc.send_signal(signal.SIGINT)
            break
    rest, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted; continue with: nlayer sweep" in rest and "--resume" in rest
    first = {p.parent.name for p in (out / "trials").glob("*/trial.json")}
    assert 1 <= len(first) < 6
    assert len((out / "sweep.csv").read_text().splitlines()) == 1 + len(first)
    # no half-saved trial: a .partial folder holds only a checkpoint of an unfinished trial
    for partial in (out / "trials").glob("*.partial"):
        assert [p.name for p in partial.iterdir()] == ["checkpoint.nlayer"]
        assert partial.name.removesuffix(".partial") not in first
    stamps = {p: p.stat().st_mtime_ns for p in (out / "trials").glob("*/trial.json")}
    # resumed on a running cluster (this module's) instead of a second LocalCluster
    done = subprocess.run([*cmd, "--resume", "--json", "--scheduler",
                           dask_client.scheduler.address], capture_output=True, text=True,
                          env=ENV, timeout=120)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["ok"] == 6 and summary["not_run"] == 0 and not summary["interrupted"]
    assert len((out / "sweep.csv").read_text().splitlines()) == 7
    assert all(p.stat().st_mtime_ns == s for p, s in stamps.items())


def test_cli_errors_are_one_line(tmp_path):
    spec = tmp_path / "s.toml"
    spec.write_text("[grid]\nlr = [0.1, -1]\n")
    result = subprocess.run([sys.executable, "-m", "nlayer.cli", "sweep", str(spec)],
                            capture_output=True, text=True, env=ENV, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip() == (f"nlayer: error: {spec}: [grid] lr must be a number in "
                                     "(0, inf), got -1")
    spec.write_text("[grid]\nlr = [0.1, 0.2]\n")
    result = subprocess.run([sys.executable, "-m", "nlayer.cli", "sweep", str(spec), "--resume"],
                            capture_output=True, text=True, env=ENV, timeout=60)
    assert result.stderr.strip() == ("nlayer: error: --resume needs --out DIR (the folder of "
                                     "the sweep to continue)")


def _worker_setting(key):
    import dask
    return dask.config.get(key)


def test_connect_starts_and_closes_a_local_cluster_on_127_0_0_1():
    with runner.connect(workers=1) as client:
        assert client.scheduler.address.startswith("tcp://127.0.0.1:")
        assert all(a.startswith("tcp://127.0.0.1:") for a in client.scheduler_info()["workers"])
        # in the worker processes: no profiler sampling the trials, no memory manager
        # trimming the scattered data's copies
        assert set(client.run(_worker_setting, "distributed.worker.profile.enabled").values()) \
            == {False}
        assert client.run_on_scheduler(
            lambda dask_scheduler: dask_scheduler.extensions.get("amm") is None
            or not dask_scheduler.extensions["amm"].running)
        cluster = client.cluster
    assert cluster.status.name == "closed"


def test_dask_is_imported_only_when_a_sweep_runs():
    code = ("import sys, nlayer, nlayer.sweep, nlayer.cli.sweep; "
            "print(sorted(m for m in ('dask', 'distributed') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=ENV, timeout=60)
    assert result.stdout.strip() == "[]", result.stderr


def test_without_dask_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(ImportError, match=r"nlayer sweep needs dask.distributed: "
                                          r"pip install 'nlayer\[cluster\]'"):
        with runner.connect(workers=1):
            pass


def test_sweeps_one_after_another_on_one_client_run_their_own_trials(dask_client, digits_xy,
                                                                     tmp_path):
    """Each sweep run has task keys and a data key of its own: the same keys, just released
    by the previous sweep on the client, used to give its results again (here: for other
    labels) or to be forgotten after the next scatter (every trial lost)."""
    spec = {"hidden": [8], "epochs": 2, "batch_size": 128, "grid": {"lr": [0.05, 0.1]},
            "sweep": {"seeds": 2}}
    X, y = digits_xy
    shuffled = np.random.default_rng(0).permutation(y)
    dev = []
    gc.disable()  # futures a sweep leaves in reference cycles stay until a collection
    try:
        for i in range(4):
            rows = sweep.run(spec, X, y if i % 2 == 0 else shuffled, client=dask_client,
                             out=tmp_path / str(i))
            assert list(rows["status"]) == ["ok"] * 4, rows["error"].tolist()
            dev.append(list(rows["dev_accuracy"]))
    finally:
        gc.enable()
    assert dev[0] == dev[2] and dev[1] == dev[3]  # the same trials on the same data
    assert all(a > 0.5 > b for a, b in zip(dev[0], dev[1]))  # other labels, other results
