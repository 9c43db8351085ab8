"""One trial on its own (no dask): continuing from a checkpoint's bytes, and a checkpoint that
no longer fits restarting the trial from epoch 1 with the reason in its record."""

import io
import zipfile

import numpy as np
import pytest

import nlayer as nl
import nlayer.sweep as sweep
from nlayer.runs import train
from nlayer.sweep import shipping, task

pytest.importorskip("sklearn")

BASE = {"hidden": [16], "epochs": 6, "batch_size": 64, "patience": 0, "lr": 0.05}


def trial(**changes):
    """The sweep's one trial; ``changes`` edit the base settings (the trial id stays)."""
    return sweep.expand(sweep.parse({**BASE, **changes, "grid": {"l2": [1e-4]}}))[0]


@pytest.fixture(scope="module")
def ds():
    from sklearn.datasets import load_digits
    X, y = load_digits(return_X_y=True)
    return sweep.arrays_dataset((X / 16).astype(np.float32), y)


@pytest.fixture(scope="module")
def shipped(ds, tmp_path_factory):
    """Every checkpoint (epoch -> bytes) of the trial, trained without interruption, and its
    final model."""
    out = tmp_path_factory.mktemp("whole")
    sent = {}
    t = trial()
    model = train.build_model(t.cfg, ds.task, train.n_outputs(ds))
    train.train_and_write(model, ds, t.cfg, out, checkpoints=True, checkpoint_seconds=0,
                          callbacks=[shipping.ShipCheckpoints(out / "checkpoint.nlayer",
                                                              sent.__setitem__)])
    return sent, (out / "model.nlayer").read_bytes()


def load(model_bytes, tmp_path, name):
    path = tmp_path / name
    path.write_bytes(model_bytes)
    return nl.load(path)


def assert_same_model(a, b, tmp_path):
    """Weights equal to the bit, history equal (seconds aside)."""
    ma, mb = load(a, tmp_path, "a.nlayer"), load(b, tmp_path, "b.nlayer")
    for x, y in zip(ma.get_weights(), mb.get_weights(), strict=True):
        np.testing.assert_array_equal(x, y)
    ha, hb = ma.history.to_dict()["history"], mb.history.to_dict()["history"]
    assert {k: v for k, v in ha.items() if k != "seconds"} == \
        {k: v for k, v in hb.items() if k != "seconds"}


def test_a_trial_given_a_checkpoint_continues_from_it_to_the_same_end(ds, shipped, tmp_path):
    sent, whole = shipped
    result = task.run_trial(trial(), ds, checkpoint=sent[4])
    rec = result["record"]
    assert rec["status"] == "ok" and rec["resumed_from"] == 4 and rec["restart_reason"] is None
    assert rec["epochs"] == 6
    assert_same_model(result["files"]["model.nlayer"], whole, tmp_path)


def test_without_a_checkpoint_resumed_from_is_empty(ds, shipped, tmp_path):
    result = task.run_trial(trial(), ds)
    assert result["record"]["resumed_from"] is None and result["record"]["restart_reason"] is None
    assert_same_model(result["files"]["model.nlayer"], shipped[1], tmp_path)


def damaged(data):
    """The checkpoint with one byte of its first weights flipped."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        info = next(i for i in z.infolist() if i.filename.startswith("w0"))
    at = info.header_offset + 30 + len(info.filename) + len(info.extra) + 100
    return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1:]


@pytest.mark.parametrize("make", [lambda data: b"not a model file at all", damaged,
                                  lambda data: data[:len(data) // 2]])
def test_a_damaged_checkpoint_restarts_the_trial_from_epoch_1(ds, shipped, tmp_path, make):
    sent, whole = shipped
    result = task.run_trial(trial(), ds, checkpoint=make(sent[3]))
    rec = result["record"]
    assert rec["status"] == "ok" and rec["error"] is None and rec["resumed_from"] is None
    assert rec["restart_reason"].startswith("ModelFileError: "), rec["restart_reason"]
    assert "nlayer-trial-" not in rec["restart_reason"]  # not the worker's temporary path
    assert_same_model(result["files"]["model.nlayer"], whole, tmp_path)


WHERE = "CheckpointMismatchError: cannot resume from trials/{id}.partial/checkpoint.nlayer: "


@pytest.mark.parametrize("changes, reason", [
    ({"batch_size": 32}, "batch_size: 32 now, 64 in the checkpoint"),
    ({"hidden": [8]}, "the model's layers differ"),
    ({"patience": 3}, "it holds the state of callbacks ['KeepBestOnInterrupt', "
                      "'ModelCheckpoint'] but fit was given ['EarlyStopping', 'ModelCheckpoint']"),
])
def test_a_checkpoint_that_fit_refuses_restarts_the_trial(ds, shipped, changes, reason):
    """The base of the sweep file edited between two runs: the same trial id, other settings
    (checkpoints written without the trial's settings: fit's own checks)."""
    edited = trial(**changes)
    assert edited.id == trial().id
    result = task.run_trial(edited, ds, checkpoint=shipped[0][3])
    rec = result["record"]
    assert rec["status"] == "ok" and rec["resumed_from"] is None
    assert rec["restart_reason"].startswith(WHERE.format(id=edited.id) + reason), \
        rec["restart_reason"]
    reference = task.run_trial(edited, ds)["record"]
    assert rec["dev"] == reference["dev"] and rec["test"] == reference["test"]


@pytest.fixture(scope="module")
def trial_checkpoint(ds):
    """The last checkpoint a sweep trial wrote: it holds the trial's settings."""
    return task.run_trial(trial(), ds)["files"]["checkpoint.nlayer"]


def test_a_change_fit_would_accept_is_refused_by_the_trials_settings(ds, trial_checkpoint,
                                                                    tmp_path):
    """A constant learning rate is not compared by fit (the optimiser's state carries the
    current rate): the trial's settings in its checkpoint catch it."""
    edited = trial(lr=0.1)
    result = task.run_trial(edited, ds, checkpoint=trial_checkpoint)
    rec = result["record"]
    assert rec["resumed_from"] is None and rec["status"] == "ok"
    assert rec["restart_reason"] == (WHERE.format(id=edited.id) + "the trial's settings "
                                     "changed since it was written (lr: 0.1 now, 0.05 in the "
                                     "checkpoint)")
    model = load(result["files"]["model.nlayer"], tmp_path, "m.nlayer")
    assert model.history.to_dict()["history"]["lr"] == [0.1] * 6  # trained at the new rate


def test_more_epochs_continue_the_checkpoint_of_the_shorter_run(ds, trial_checkpoint, tmp_path):
    result = task.run_trial(trial(epochs=8), ds, checkpoint=trial_checkpoint)
    assert result["record"]["resumed_from"] == 6 and result["record"]["epochs"] == 8
    assert result["record"]["restart_reason"] is None
    assert_same_model(result["files"]["model.nlayer"],
                      task.run_trial(trial(epochs=8), ds)["files"]["model.nlayer"], tmp_path)
    fewer = task.run_trial(trial(epochs=4), ds, checkpoint=trial_checkpoint)["record"]
    assert fewer["resumed_from"] is None and "epochs: 4 now, 6 in the checkpoint" in \
        fewer["restart_reason"]


def test_a_refused_checkpoint_and_a_failing_fresh_start_record_both(ds, tmp_path):
    """The restart is an ordinary training: its failure is the trial's error."""
    checkpoint = task.run_trial(trial(epochs=1), ds)["files"]["checkpoint.nlayer"]
    rec = task.run_trial(trial(lr=1e4, epochs=1), ds, checkpoint=checkpoint)["record"]
    assert "lr: 10000.0 now, 0.05 in the checkpoint" in rec["restart_reason"]
    assert rec["status"] == "failed" and rec["error"].startswith("TrainingDivergedError")
