"""``nlayer train``: checkpoints in the run directory, Ctrl-C, ``--resume``, unwritable runs,
``--class-weight``."""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import nlayer as nl

from cli_run import ENV, FAST, cli

RUN = [*FAST, "--epochs", "150", "--patience", "0", "--quiet"]


def start(*args):
    return subprocess.Popen([sys.executable, "-m", "nlayer.cli", "train", *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)


def wait_for_checkpoint(proc, out, timeout=60):
    deadline = time.monotonic() + timeout
    while not (out / "checkpoint.nlayer").exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
        time.sleep(0.02)
    time.sleep(0.2)  # a few epochs more


def history_rows(out):
    with open(out / "history.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        row.pop("seconds")
    return rows


def assert_same_run(a, b):
    ma, mb = nl.load(a / "model.nlayer"), nl.load(b / "model.nlayer")
    for wa, wb in zip(ma.get_weights(), mb.get_weights(), strict=True):
        np.testing.assert_array_equal(wa, wb)
    assert history_rows(a) == history_rows(b)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "whole"
    result = cli("train", *RUN, "--out", out)
    assert result.returncode == 0, result.stderr
    return out


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_keeps_the_best_weights_and_resume_ends_as_the_whole_run(tmp_path, uninterrupted):
    out = tmp_path / "run"
    proc = start(*RUN, "--out", out)
    wait_for_checkpoint(proc, out)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert f"continue with: nlayer train --resume {out}" in stderr and "Traceback" not in stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["interrupted"] is True and summary["epochs_run"] < 150
    # the model kept is the best development epoch so far, and the table shows that epoch
    val = [float(r["val_loss"]) for r in history_rows(out)]
    assert summary["weights_epoch"] == 1 + int(np.argmin(val)) == summary["best_epoch"]
    assert summary["metrics"]["dev"]["loss"] == pytest.approx(min(val))

    result = cli("train", "--resume", out, "--quiet")
    assert result.returncode == 0, result.stderr
    assert json.loads((out / "summary.json").read_text())["interrupted"] is False
    assert_same_run(out, uninterrupted)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_a_killed_run_resumes_to_the_same_end(tmp_path, uninterrupted):
    out = tmp_path / "run"
    proc = start(*RUN, "--out", out)
    wait_for_checkpoint(proc, out)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / "summary.json").exists()
    result = cli("train", "--resume", out, "--quiet")
    assert result.returncode == 0, result.stderr
    assert_same_run(out, uninterrupted)
    assert not [p.name for p in out.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_a_second_ctrl_c_aborts_but_leaves_a_summary(tmp_path):
    out = tmp_path / "run"
    proc = start(*RUN, "--out", out)
    wait_for_checkpoint(proc, out)
    proc.send_signal(signal.SIGINT)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "Traceback" not in stderr
    summary = json.loads((out / "summary.json").read_text())
    if summary.get("status") == "aborted":  # the second signal came before the first stop
        assert summary["resume"] == f"nlayer train --resume {out}"
        assert "aborted" in stderr
    else:
        assert summary["interrupted"] is True
    assert cli("train", "--resume", out, "--quiet").returncode == 0


def test_checkpoint_every_zero_writes_none_and_cannot_resume(tmp_path):
    out = tmp_path / "run"
    assert cli("train", *FAST, "--epochs", "2", "--checkpoint-every", "0", "--out", out,
               "--quiet").returncode == 0
    assert not (out / "checkpoint.nlayer").exists()
    result = cli("train", "--resume", out)
    assert result.returncode == 2
    assert "has no checkpoint.nlayer: it was trained with --checkpoint-every 0" in result.stderr


def test_a_run_stopped_before_its_first_checkpoint_says_so(tmp_path):
    out = tmp_path / "run"
    assert cli("train", *FAST, "--epochs", "2", "--out", out, "--quiet").returncode == 0
    (out / "checkpoint.nlayer").unlink()  # as if killed during its first epoch
    result = cli("train", "--resume", out)
    assert result.returncode == 2
    assert "the run stopped before its first checkpoint (every 1 epoch(s)); start it again" \
        in result.stderr and "--checkpoint-every 0" not in result.stderr


def test_checkpoint_every_n_epochs_is_in_the_config(tmp_path):
    out = tmp_path / "run"
    assert cli("train", *FAST, "--epochs", "3", "--checkpoint-every", "2", "--out", out,
               "--quiet").returncode == 0
    assert "checkpoint_every = 2" in (out / "config.toml").read_text()
    # the last epoch is always saved: the checkpoint is of the finished run
    assert nl.load(out / "checkpoint.nlayer").history.epoch == [1, 2, 3]


def test_resume_takes_no_other_settings(tmp_path, uninterrupted):
    result = cli("train", "--resume", uninterrupted, "--lr", "0.1", "--out", tmp_path)
    assert result.returncode == 2
    assert "drop --lr, --out" in result.stderr
    result = cli("train", "--resume", tmp_path / "nothing")
    assert result.returncode == 2 and "has no config.toml" in result.stderr


def test_an_unwritable_run_directory_fails_before_training(tmp_path):
    (tmp_path / "file").write_text("in the way")
    result = cli("train", *FAST, "--epochs", "500", "--out", tmp_path / "file" / "run")
    assert result.returncode == 2
    assert "cannot create run directory" in result.stderr and "choose another --out" in result.stderr
    assert "epoch" not in result.stdout


@pytest.mark.skipif(os.geteuid() != 0, reason="chattr +i needs root")
def test_an_immutable_run_directory_fails_before_training(tmp_path):
    run_dir = tmp_path / "locked"
    run_dir.mkdir()
    if subprocess.run(["chattr", "+i", str(run_dir)], capture_output=True).returncode != 0:
        pytest.skip("this file system has no immutable flag")
    try:
        result = cli("train", *FAST, "--epochs", "500", "--out", run_dir, "--overwrite")
    finally:
        subprocess.run(["chattr", "-i", str(run_dir)])
    assert result.returncode == 2
    assert f"cannot write into run directory {run_dir}" in result.stderr
    assert "epoch" not in result.stdout


def test_class_weight_balanced_is_recorded_and_refused_for_regression(tmp_path):
    out = tmp_path / "run"
    result = cli("train", *FAST, "--epochs", "2", "--class-weight", "balanced", "--out", out,
                 "--json")
    assert result.returncode == 0, result.stderr
    assert 'class_weight = "balanced"' in (out / "config.toml").read_text()
    table = tmp_path / "t.csv"
    table.write_text("x,y\n" + "".join(f"{i},{i * 0.5}\n" for i in range(40)))
    result = cli("train", "--csv", table, "--target", "y", "--class-weight", "balanced",
                 "--out", tmp_path / "r2")
    assert result.returncode == 2
    assert "--class-weight is for classification, and this run is a regression" in result.stderr


ENSEMBLE = [*FAST, "--epochs", "60", "--patience", "0", "--ensemble", "3", "--quiet"]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_an_ensemble_killed_between_members_resumes_to_the_same_model(tmp_path):
    whole = tmp_path / "whole"
    result = cli("train", *ENSEMBLE, "--out", whole, "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    ensemble = summary["ensemble"]
    assert ensemble["members"] == 3 and ensemble["seeds"] == [0, 1, 2]
    members = [nl.load(whole / "members" / f"member-{k}.nlayer") for k in range(3)]
    merged = nl.load(whole / "model.nlayer")
    from nlayer.datasets import load_dataset
    X = load_dataset("digits").X_test[:50]
    logits = np.mean([np.log(m.predict(X).astype(np.float64)) for m in members], axis=0)
    np.testing.assert_allclose(merged.predict(X), np.exp(logits) / np.exp(logits).sum(
        axis=1, keepdims=True), atol=2e-6)
    # the development rows are the same for every member: one split, scored by each
    assert len({m.history.params.get("samples") for m in members}) == 1

    out = tmp_path / "run"
    proc = start(*ENSEMBLE, "--out", out)
    deadline = time.monotonic() + 120
    while not (out / "members" / "member-0.nlayer").exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
        time.sleep(0.02)
    time.sleep(0.3)  # into the second member
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert not (out / "model.nlayer").exists()
    result = cli("train", "--resume", out, "--quiet")
    assert result.returncode == 0, result.stderr
    assert_same_run(out, whole)
