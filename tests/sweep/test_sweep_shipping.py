"""Checkpoints from a trial to the sweep's folder: the worker's callback, a real dask Queue,
and the client's inbox (newest per trial wins, atomic writes)."""

import uuid

import numpy as np
import pytest

import nlayer as nl
from nlayer.runs import train
from nlayer.sweep import shipping

pytest.importorskip("sklearn")


def message(trial, epoch, data, restarted=False):
    return {"trial": trial, "epoch": epoch, "restarted": restarted, "checkpoint": data}


def on_disk(out, trial):
    return shipping.partial_checkpoint(out, trial).read_bytes()


def test_the_newest_epoch_of_each_trial_is_written_once_per_drain(tmp_path):
    inbox = shipping.Inbox(tmp_path)
    written = inbox.take([message("a", 1, b"a1"), message("b", 3, b"b3"), message("a", 2, b"a2"),
                          message("b", 2, b"b2")])
    assert sorted(written) == ["a", "b"] and inbox.written == 2
    assert on_disk(tmp_path, "a") == b"a2" and on_disk(tmp_path, "b") == b"b3"
    # a rerun of "a" (its worker was lost) sends its early epochs again: they never win
    assert inbox.take([message("a", 1, b"a1 again"), message("a", 2, b"a2 again")]) == {}
    assert on_disk(tmp_path, "a") == b"a2"
    assert inbox.take([message("a", 3, b"a3")]) == {"a": b"a3"}
    assert on_disk(tmp_path, "a") == b"a3"
    assert sorted(p.name for p in (tmp_path / "trials").iterdir()) == ["a.partial", "b.partial"]
    assert [p.name for p in (tmp_path / "trials" / "a.partial").iterdir()] == \
        ["checkpoint.nlayer"]  # no temporary file left beside it


def test_finished_trials_are_never_written_again(tmp_path):
    inbox = shipping.Inbox(tmp_path)
    assert inbox.take([message("a", 5, b"a5"), message("b", 1, b"b1")], finished={"a": {}}) == \
        {"b": b"b1"}
    assert not (tmp_path / "trials" / "a.partial").exists()


def test_a_restarted_trial_replaces_its_refused_checkpoint_once(tmp_path):
    inbox = shipping.Inbox(tmp_path)
    inbox.take([message("a", 30, b"refused later")])
    assert list(inbox.take([message("a", 1, b"new 1", restarted=True),
                            message("a", 2, b"new 2", restarted=True)])) == ["a"]
    assert on_disk(tmp_path, "a") == b"new 2"
    # the restarted run rerun by dask: epoch 1 again does not replace epoch 2
    assert inbox.take([message("a", 1, b"new 1", restarted=True)]) == {}
    assert on_disk(tmp_path, "a") == b"new 2"


def test_a_failed_write_leaves_the_previous_checkpoint_and_no_temporary(tmp_path):
    inbox = shipping.Inbox(tmp_path)
    inbox.take([message("a", 1, b"good")])
    with pytest.raises(TypeError):
        inbox.take([message("a", 2, None)])  # not bytes: the write fails midway
    assert on_disk(tmp_path, "a") == b"good"
    assert [p.name for p in (tmp_path / "trials" / "a.partial").iterdir()] == \
        ["checkpoint.nlayer"]


@pytest.fixture(scope="module")
def digits_ds():
    from sklearn.datasets import load_digits

    import nlayer.sweep as sweep
    X, y = load_digits(return_X_y=True)
    return sweep.arrays_dataset((X / 16).astype(np.float32), y)


def trial(**base):
    import nlayer.sweep as sweep
    spec = {"hidden": [16], "epochs": 6, "batch_size": 64, "patience": 0, **base,
            "grid": {"lr": [0.05]}}
    return sweep.expand(sweep.parse(spec))[0]


def shipped_run(ds, out, t, seconds=0.0):
    """A trial's training with a ShipCheckpoints collecting what it would send."""
    sent = []
    shipper = shipping.ShipCheckpoints(out / "checkpoint.nlayer", lambda e, d: sent.append((e, d)))
    out.mkdir()
    model = train.build_model(t.cfg, ds.task, train.n_outputs(ds))
    train.train_and_write(model, ds, t.cfg, out, checkpoints=True, callbacks=[shipper],
                          checkpoint_seconds=seconds)
    return sent, shipper


def test_each_save_but_the_last_is_sent_once_and_is_a_point_to_resume_from(tmp_path,
                                                                            digits_ds):
    t = trial()
    sent, shipper = shipped_run(digits_ds, tmp_path / "whole", t)
    # the save at the end is not sent: the result with that file follows at once
    assert [e for e, _ in sent] == [1, 2, 3, 4, 5] and shipper.epochs_before == 0
    for epoch, data in sent:
        (tmp_path / "sent.nlayer").write_bytes(data)
        assert nl.load(tmp_path / "sent.nlayer").history.epoch == list(range(1, epoch + 1))
    whole = nl.load(tmp_path / "whole" / "model.nlayer")
    # epoch 3's bytes continue to the same end; the checkpoint resumed from is not sent back
    out = tmp_path / "again"
    out.mkdir()
    (out / "checkpoint.nlayer").write_bytes(sent[2][1])
    again_sent = []
    shipper = shipping.ShipCheckpoints(out / "checkpoint.nlayer",
                                       lambda e, d: again_sent.append(e))
    model = train.build_model(t.cfg, digits_ds.task, train.n_outputs(digits_ds))
    train.train_and_write(model, digits_ds, t.cfg, out, checkpoints=True, resume=True,
                          callbacks=[shipper], checkpoint_seconds=0)
    assert shipper.epochs_before == 3 and again_sent == [4, 5]
    for a, b in zip(nl.load(out / "model.nlayer").get_weights(), whole.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_throttled_a_short_trial_sends_nothing(tmp_path, digits_ds):
    sent, _ = shipped_run(digits_ds, tmp_path / "run", trial(), seconds=600)
    assert sent == [] and (tmp_path / "run" / "checkpoint.nlayer").is_file()


def test_an_early_stop_is_the_end_and_is_not_sent(tmp_path, digits_ds):
    sent, _ = shipped_run(digits_ds, tmp_path / "run", trial(epochs=200, patience=1))
    epochs = nl.load(tmp_path / "run" / "model.nlayer").history.epoch[-1]
    assert epochs < 200 and [e for e, _ in sent] == list(range(1, epochs))


def test_a_failing_send_stops_shipping_not_the_trial(tmp_path, digits_ds):
    def broken(epoch, data):
        raise ConnectionError("scheduler gone")

    shipper = shipping.ShipCheckpoints(tmp_path / "checkpoint.nlayer", broken)
    t = trial()
    model = train.build_model(t.cfg, digits_ds.task, train.n_outputs(digits_ds))
    summary = train.train_and_write(model, digits_ds, t.cfg, tmp_path, checkpoints=True,
                                    callbacks=[shipper], checkpoint_seconds=0)
    assert summary["epochs_run"] == 6 and shipper.send is None
    assert shipper.error == "ConnectionError: scheduler gone"


def test_checkpoints_travel_through_a_real_dask_queue(dask_client, tmp_path, digits_ds):
    distributed = pytest.importorskip("distributed")
    from nlayer.sweep import task
    name = f"nlayer-sweep-{uuid.uuid4().hex}"
    queue = distributed.Queue(name, client=dask_client)
    index = distributed.Variable(shipping.index_name(name), client=dask_client)
    index.set([])  # as Sweep.run does: no checkpoint published for a rerun
    t = trial()
    result = dask_client.submit(task.run_trial, t, digits_ds, queue=name, ship_seconds=0,
                                pure=False).result()
    messages = queue.get(batch=True)
    assert [(m["trial"], m["epoch"], m["restarted"]) for m in messages] == \
        [(t.id, e, False) for e in range(1, 6)]
    resumed = task.run_trial(t, digits_ds, checkpoint=messages[-1]["checkpoint"])
    assert resumed["record"]["resumed_from"] == 5
    for name, r in (("resumed", resumed), ("whole", result)):
        (tmp_path / f"{name}.nlayer").write_bytes(r["files"]["model.nlayer"])
    for a, b in zip(nl.load(tmp_path / "resumed.nlayer").get_weights(),
                    nl.load(tmp_path / "whole.nlayer").get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    inbox = shipping.Inbox(tmp_path)
    assert list(inbox.take(messages)) == [t.id]
    assert on_disk(tmp_path, t.id) == messages[-1]["checkpoint"]
    assert result["record"]["ship_error"] is None
    queue.close()
    index.delete()


def test_a_published_checkpoint_is_what_a_worker_finds_until_it_is_forgotten(dask_client):
    distributed = pytest.importorskip("distributed")
    from nlayer.sweep import runner
    name = f"nlayer-sweep-{uuid.uuid4().hex}"

    def ask(trial):
        return dask_client.submit(shipping.published, name, trial, pure=False).result()

    newest = runner.Published(distributed, dask_client, name)
    assert ask("a") is None
    newest.publish("a", b"a1")
    newest.publish("b", b"b4")
    newest.publish("a", b"a2")
    assert ask("a") == b"a2" and ask("b") == b"b4" and ask("c") is None
    newest.forget("a")
    assert ask("a") is None and ask("b") == b"b4"
    newest.close()
    assert ask("b") is None  # the index is gone too: nothing to find
