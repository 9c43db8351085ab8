import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import nlayer as nl
from nlayer import saving

import checkpoint_run as run  # tests/helpers, on the path by conftest.py

HELPERS = Path(__file__).resolve().parents[1] / "helpers"
SCRIPT = HELPERS / "checkpoint_run.py"
OPTIMIZERS = ("sgd", "nesterov", "adam", "rmsprop")


def assert_same_run(a, b):
    """Weights and history equal to the bit (seconds per epoch aside)."""
    for wa, wb in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_array_equal(wa, wb)
    ha, hb = a.history.to_dict(), b.history.to_dict()
    for h in (ha, hb):
        h["history"] = {k: v for k, v in h["history"].items() if k != "seconds"}
    assert ha == hb
    assert a.optimizer.iterations == b.optimizer.iterations


class StopAt(nl.Callback):
    """Sets stop_training after a given batch of a given epoch, as Ctrl-C in the CLI does."""

    def __init__(self, epoch, batch):
        self.at = (epoch, batch)

    def on_batch_end(self, batch, logs=None):
        if (logs["epoch"], batch) == self.at:
            self.model.stop_training = True


@pytest.fixture(scope="module")
def references():
    return {name: run.train(name) for name in OPTIMIZERS}


@pytest.mark.parametrize("name", OPTIMIZERS)
@pytest.mark.parametrize("epoch, batch", [(1, 1), (2, 5), (3, 10), (4, 9)])
def test_stopped_and_resumed_equals_uninterrupted(tmp_path, references, name, epoch, batch):
    path = tmp_path / "ck.nlayer"
    stopped = run.train(name, path, every_batches=1000, callbacks=[StopAt(epoch, batch)])
    complete = epoch if batch == 10 else epoch - 1  # 240 training rows: 10 batches an epoch
    assert stopped.history.interrupted and len(stopped.history.epoch) == complete
    resumed = run.train(name, path, every_batches=1000)
    assert_same_run(resumed, references[name])


def test_resume_from_each_epoch_end_and_batch(tmp_path, references):
    """Every checkpoint a run writes is a point it can continue from exactly."""
    path = str(tmp_path / "ck-{epoch}-{batch}.nlayer")
    run.train("sgd", path, every_batches=3)
    files = sorted(tmp_path.glob("ck-*.nlayer"))
    assert len(files) > 20
    for f in files[::4]:
        X, y = run.data()
        m = run.model("sgd")
        m.fit(X, y, epochs=run.EPOCHS, batch_size=run.BATCH, validation_split=0.2,
              callbacks=[nl.EarlyStopping(patience=3), nl.ModelCheckpoint(tmp_path / "again.nlayer")],
              resume_from=f)
        assert_same_run(m, references["sgd"])


def test_runs_sigkilled_at_random_moments_resume_bit_identically(tmp_path, references):
    """Real processes killed with SIGKILL at random moments, 6 times per optimiser.

    The kill comes a random number of batches into each (resumed) run plus a random
    0-15 ms; the child checkpoints after every batch and a save with its fsyncs is
    most of a batch's time, so most kills land in the middle of a save.
    """
    rng = random.Random(20261129)
    kills = 0
    for name in OPTIMIZERS:
        ckpt, result = tmp_path / f"{name}.nlayer", tmp_path / f"{name}-final.nlayer"
        killed_here = 0
        for _ in range(40):
            proc = subprocess.Popen([sys.executable, str(SCRIPT), name, str(ckpt), str(result)],
                                    stdout=subprocess.PIPE, text=True)
            assert proc.stdout.readline().strip() == "ready"
            if killed_here < 6:
                batches = rng.randint(1, 10)
                if all(proc.stdout.readline() for _ in range(batches)):  # still training
                    time.sleep(rng.uniform(0.0, 0.015))
                    proc.send_signal(signal.SIGKILL)
                    proc.communicate()
                    killed_here += proc.returncode == -signal.SIGKILL
                    if proc.returncode == -signal.SIGKILL:
                        continue
            proc.communicate(timeout=120)
            assert proc.returncode == 0
            break
        kills += killed_here
        assert_same_run(nl.load(result), references[name])
        assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert kills >= 20
    if os.environ.get("NLAYER_WRITE_RELIABILITY") == "1":
        from reliability_doc import resume_section, write_section
        write_section(Path(__file__).resolve().parents[2] / "docs" / "reliability.md", resume_section(
            kills=kills, per_optimizer=6, optimizers=OPTIMIZERS, stops=16,
            settings_refused=len(SETTINGS_CASES) + 4, damaged=len(DAMAGE)))


def test_a_checkpoint_loads_as_an_ordinary_model(tmp_path):
    path = tmp_path / "ck.nlayer"
    m = run.train("adam", path, every_batches=1000, callbacks=[StopAt(2, 4)])
    loaded = nl.load(path)
    X, _ = run.data()
    # the checkpoint holds the weights at the stop, before EarlyStopping restored its best
    assert loaded.history.epoch == [1] and loaded.optimizer.iterations == 14
    assert np.isfinite(loaded.predict(X)).all()
    assert m.history.interrupted


def test_best_only_keeps_the_best_across_a_resume(tmp_path):
    best = tmp_path / "best.nlayer"
    ref_best = tmp_path / "ref-best.nlayer"
    reference = run.train("sgd", callbacks=[nl.ModelCheckpoint(ref_best, save_best_only=True)])
    last = tmp_path / "last.nlayer"
    run.train("sgd", last, every_batches=1000, callbacks=[
        nl.ModelCheckpoint(best, save_best_only=True), StopAt(5, 2)])
    resumed = run.train("sgd", last, every_batches=1000, callbacks=[
        nl.ModelCheckpoint(best, save_best_only=True)])
    assert_same_run(resumed, reference)
    val = resumed.history.history["val_loss"]
    assert nl.load(best).history.epoch[-1] == 1 + int(np.argmin(val))
    for a, b in zip(nl.load(best).get_weights(), nl.load(ref_best).get_weights()):
        np.testing.assert_array_equal(a, b)


def test_an_early_stopped_checkpoint_resumes_to_the_same_end(tmp_path):
    X, y = run.data()
    path = tmp_path / "ck.nlayer"

    def fit(resume_from=None):
        m = run.model("sgd")
        m.compile(optimizer=nl.SGD(lr=0.5, momentum=0.9), l2=1e-3, metrics=["accuracy"],
                  normalize="standard")
        m.fit(X, y, epochs=40, batch_size=25, validation_split=0.2, seed=3,
              callbacks=[nl.EarlyStopping(patience=1), nl.ModelCheckpoint(path)],
              resume_from=resume_from)
        return m

    first = fit()
    assert first.history.interrupted  # early stopping ended it before epoch 40
    again = fit(resume_from=path)
    assert_same_run(again, first)


SETTINGS_CASES = [
    (dict(batch_size=10), "batch_size: 10 now, 25 in the checkpoint"),
    (dict(validation_split=0.3), "validation_split: 0.3 now, 0.2 in the checkpoint"),
    (dict(shuffle=False), "shuffle: False now, True in the checkpoint"),
    (dict(X=lambda X: X * 2), "the training data differs"),
    (dict(X=lambda X: X[:, :10]), "has 10 features but the model was built for 12"),
]


@pytest.mark.parametrize("change, message", SETTINGS_CASES)
def test_resuming_with_other_data_or_settings_is_refused(tmp_path, change, message):
    path = tmp_path / "ck.nlayer"
    run.train("sgd", path, every_batches=1000, callbacks=[StopAt(2, 3)])
    X, y = run.data()
    X = change.pop("X", lambda X: X)(X)
    settings = {"epochs": run.EPOCHS, "batch_size": run.BATCH, "validation_split": 0.2,
                "seed": 3, **change}
    with pytest.raises(ValueError, match=message):
        run.model("sgd").fit(X, y, callbacks=[nl.EarlyStopping(patience=3),
                                              nl.ModelCheckpoint(path)],
                             resume_from=path, **settings)


def test_resuming_another_model_or_other_callbacks_is_refused(tmp_path):
    path = tmp_path / "ck.nlayer"
    run.train("sgd", path, every_batches=1000, callbacks=[StopAt(2, 3)])
    X, y = run.data()
    other = nl.MLP(hidden=(8,))
    other.compile(optimizer="sgd")
    with pytest.raises(ValueError, match="the model's layers differ"):
        other.fit(X, y, resume_from=path)
    adam = run.model("adam")
    with pytest.raises(ValueError, match="compile differ.*optimizer"):
        adam.fit(X, y, resume_from=path)
    with pytest.raises(ValueError, match=r"holds the state of callbacks \['EarlyStopping', "
                                         r"'ModelCheckpoint'\] but fit was given \[\]"):
        run.model("sgd").fit(X, y, epochs=8, batch_size=25, validation_split=0.2,
                             resume_from=path)


def test_a_plain_model_file_is_not_a_checkpoint(tmp_path):
    m = run.train("sgd")
    m.save(tmp_path / "m.nlayer")
    X, y = run.data()
    with pytest.raises(nl.ModelFileError, match="not a checkpoint"):
        run.model("sgd").fit(X, y, resume_from=tmp_path / "m.nlayer")


def test_seed_none_is_drawn_once_and_kept_for_the_resume(tmp_path):
    X, y = run.data()
    path = tmp_path / "ck.nlayer"
    m = run.model("adam")
    m.fit(X, y, epochs=3, batch_size=25, validation_split=0.2, callbacks=[
        nl.ModelCheckpoint(path), StopAt(2, 2)])
    again = run.model("adam")
    again.fit(X, y, epochs=3, batch_size=25, validation_split=0.2,
              callbacks=[nl.ModelCheckpoint(path)], resume_from=path)
    seed = saving.read(path)[0]["checkpoint"]["settings"]["seed"]
    reference = run.model("adam")
    reference.fit(X, y, epochs=3, batch_size=25, validation_split=0.2, seed=seed)
    assert_same_run(again, reference)


def test_a_failed_write_keeps_the_previous_file(tmp_path):
    """A real write failure (file-size limit, as a full disk) leaves the old file readable."""
    good = run.train("sgd")
    path = tmp_path / "m.nlayer"
    good.save(path)
    size = path.stat().st_size
    code = ("import resource, signal, sys; sys.path.insert(0, %r); import checkpoint_run as r\n"
            "m = r.train('sgd')\n"
            "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
            "resource.setrlimit(resource.RLIMIT_FSIZE, (%d, %d))\n"
            "try:\n    m.save(%r)\nexcept OSError as e:\n    print(e)\n"
            % (str(SCRIPT.parent), size // 2, size // 2, str(path)))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120).stdout
    assert f"cannot write {path}" in out and "the previous file is intact" in out
    assert_same_run(nl.load(path), good)
    assert [p.name for p in tmp_path.iterdir()] == ["m.nlayer"]


def test_a_path_that_cannot_be_written_is_a_clear_error(tmp_path):
    (tmp_path / "file").write_text("x")
    m = run.train("sgd")
    with pytest.raises(OSError, match="cannot write .*file/m.nlayer.*nothing was written"):
        m.save(tmp_path / "file" / "m.nlayer")


def test_temporaries_of_killed_writes_are_removed_by_the_next_save(tmp_path):
    stale = [tmp_path / ".m.nlayer.abc123.tmp", tmp_path / ".m.nlayer.zz.tmp"]
    for p in stale:
        p.write_bytes(b"half a zip")
    keep = tmp_path / ".other.nlayer.x.tmp"
    keep.write_bytes(b"")
    run.train("sgd").save(tmp_path / "m.nlayer")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.nlayer.x.tmp", "m.nlayer"]


def test_model_checkpoint_arguments_are_checked():
    with pytest.raises(ValueError, match="every_batches must be a whole number >= 1"):
        nl.ModelCheckpoint("c.nlayer", every_batches=0)
    with pytest.raises(ValueError, match="every_epochs must be a whole number >= 1"):
        nl.ModelCheckpoint("c.nlayer", every_epochs=1.5)
    with pytest.raises(ValueError, match="mode must be"):
        nl.ModelCheckpoint("c.nlayer", mode="up")


def test_checkpoint_monitor_missing_from_the_logs_is_named(tmp_path):
    X, y = run.data()
    m = run.model("sgd")
    with pytest.raises(ValueError, match="monitors 'val_loss' but the epoch's logs have"):
        m.fit(X, y, epochs=1, callbacks=[nl.ModelCheckpoint(tmp_path / "b.nlayer",
                                                            save_best_only=True)])


DAMAGE = [
    lambda c: c.update(position={"epoch": "2", "batch": 0, "stopped": False}),
    lambda c: c["rng"].update(dropout={"bit_generator": "PCG64", "state": "x"}),
    lambda c: c["rng"].update(shuffle=[1, 2]),
    lambda c: c.update(totals={"loss": 1.0}),
    lambda c: c.pop("callbacks"),
    lambda c: c.update(callbacks=[{"state": {}}]),
]


@pytest.mark.parametrize("damage", DAMAGE)
def test_a_damaged_checkpoint_section_is_a_model_file_error(tmp_path, damage):
    """Even with a recomputed digest, what fit would trust is checked before it trains."""
    path = tmp_path / "ck.nlayer"
    run.train("sgd", path, every_batches=1000, callbacks=[StopAt(2, 3)])
    model, (header, arrays) = nl.load(path), saving.read(path)
    section = header["checkpoint"]
    damage(section)
    extra = {k.removeprefix("ckpt_"): v for k, v in arrays.items() if k.startswith("ckpt_")}
    saving.save(model, path, checkpoint=(section, extra))
    X, y = run.data()
    with pytest.raises(nl.ModelFileError, match="the checkpoint's .* is malformed"):
        run.model("sgd").fit(X, y, epochs=8, batch_size=25, validation_split=0.2,
                             callbacks=[nl.EarlyStopping(patience=3), nl.ModelCheckpoint(path)],
                             resume_from=path)


def test_a_regression_with_scaled_targets_resumes_exactly(tmp_path):
    X, _ = run.data()
    y = 1000.0 + 50.0 * X[:, 0] * X[:, 1]

    def fit(callbacks=(), resume_from=None):
        m = nl.MLP(hidden=(16,), output="linear", n_outputs=1)
        m.compile(optimizer=nl.Adam(0.01), metrics=["mae"], scale_targets=True)
        m.fit(X, y, epochs=4, batch_size=25, validation_split=0.2, seed=1,
              callbacks=[*callbacks, nl.ModelCheckpoint(tmp_path / "ck.nlayer")],
              resume_from=resume_from)
        return m

    whole = fit()
    fit(callbacks=[StopAt(2, 6)])
    assert_same_run(fit(resume_from=tmp_path / "ck.nlayer"), whole)


@pytest.mark.parametrize("make", [
    lambda: (nl.SGD(lr=nl.schedules.OneCycle(0.2), momentum=0.9, nesterov=True), []),
    lambda: (nl.AdamW(lr=nl.schedules.CosineDecay(0.01, warmup=0.2), weight_decay=0.01), []),
    lambda: (nl.SGD(lr=0.3, momentum=0.9),
             [nl.ReduceLROnPlateau(factor=0.5, patience=1)]),
])
def test_schedules_and_plateaus_continue_exactly(tmp_path, make):
    """A schedule's position and a plateau's counters and reduced rate are part of a checkpoint."""
    X, y = run.data()

    def fit(callbacks=(), resume_from=None):
        optimizer, extra = make()
        m = run.model("sgd")
        m.compile(optimizer=optimizer, l2=1e-3, metrics=["accuracy"], normalize="standard")
        m.fit(X, y, epochs=6, batch_size=25, validation_split=0.2, seed=3,
              callbacks=[*extra, *callbacks, nl.ModelCheckpoint(tmp_path / "ck.nlayer")],
              resume_from=resume_from)
        return m

    whole = fit()
    assert len(set(whole.history.history["lr"])) > 1  # the rate did move
    fit(callbacks=[StopAt(4, 3)])
    assert_same_run(fit(resume_from=tmp_path / "ck.nlayer"), whole)


def test_a_monitored_run_resumes_with_the_same_layer_stats(tmp_path):
    X, y = run.data()

    def fit(callbacks=(), resume_from=None):
        m = run.model("adam")
        m.fit(X, y, epochs=4, batch_size=25, validation_split=0.2, seed=3,
              callbacks=[nl.LayerMonitor(every_batches=3), *callbacks,
                         nl.ModelCheckpoint(tmp_path / "ck.nlayer")], resume_from=resume_from)
        return m

    whole = fit()
    fit(callbacks=[StopAt(3, 4)])
    again = fit(resume_from=tmp_path / "ck.nlayer")
    assert_same_run(again, whole)
    assert again.history.layer_stats == whole.history.layer_stats and whole.history.layer_stats


class Clock:
    """A fake time.monotonic for ModelCheckpoint(every_seconds=): each epoch lasts 1 s."""

    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


class Tick(nl.Callback):
    def __init__(self, clock, seconds=1.0):
        self.clock, self.seconds = clock, seconds

    def on_epoch_begin(self, epoch, logs=None):
        self.clock.now += self.seconds


def saved_epochs(tmp_path):
    return sorted(int(p.stem.split("-")[1]) for p in tmp_path.glob("ck-*.nlayer"))


def throttled(tmp_path, every_seconds, callbacks=(), **kwargs):
    clock = Clock()
    saver = nl.ModelCheckpoint(str(tmp_path / "ck-{epoch}.nlayer"), every_seconds=every_seconds,
                               **kwargs)
    saver._clock = clock
    X, y = run.data()
    m = run.model("sgd")
    m.fit(X, y, epochs=run.EPOCHS, batch_size=run.BATCH, validation_split=0.2, seed=3,
          callbacks=[Tick(clock), *callbacks, saver])
    return m


def test_every_seconds_skips_due_saves_until_that_much_time_passed(tmp_path):
    # the clock starts with fit; epochs end at 1, 2, 3 ... s: saves at 3 s and 6 s, and the last
    throttled(tmp_path, 2.5)
    assert saved_epochs(tmp_path) == [3, 6, 8]


def test_every_seconds_applies_on_top_of_every_epochs_and_zero_means_no_limit(tmp_path):
    (tmp_path / "a").mkdir()
    throttled(tmp_path / "a", 2.5, every_epochs=2)
    assert saved_epochs(tmp_path / "a") == [4, 8]  # epoch 2 (2 s) is too early, 4 is due again
    (tmp_path / "b").mkdir()
    throttled(tmp_path / "b", 0)
    assert saved_epochs(tmp_path / "b") == list(range(1, 9))


def test_every_seconds_never_skips_the_save_at_a_stop_or_an_interruption(tmp_path):
    (tmp_path / "stop").mkdir()
    m = throttled(tmp_path / "stop", 100.0, callbacks=[StopAt(5, 10)])  # stops at epoch 5's end
    assert m.history.epoch == [1, 2, 3, 4, 5] and saved_epochs(tmp_path / "stop") == [5]
    (tmp_path / "interrupt").mkdir()
    m = throttled(tmp_path / "interrupt", 100.0, callbacks=[StopAt(4, 3)])
    assert m.history.interrupted and m.history.epoch == [1, 2, 3]
    assert saved_epochs(tmp_path / "interrupt") == [4]  # the position: epoch 4, batch 3
    assert saving.read(tmp_path / "interrupt" / "ck-4.nlayer")[0]["checkpoint"]["position"] == \
        {"epoch": 4, "batch": 3, "stopped": False}


def test_every_seconds_throttles_batch_saves_too(tmp_path):
    clock = Clock()

    class BatchTick(nl.Callback):
        def on_batch_end(self, batch, logs=None):
            clock.now += 0.1

    saver = nl.ModelCheckpoint(str(tmp_path / "ck-{epoch}-{batch}.nlayer"), every_batches=1,
                               every_seconds=0.35)
    saver._clock = clock
    X, y = run.data()
    run.model("sgd").fit(X, y, epochs=2, batch_size=run.BATCH, validation_split=0.2, seed=3,
                         callbacks=[BatchTick(), saver])
    names = sorted((int(p.stem.split("-")[1]), int(p.stem.split("-")[2]))
                   for p in tmp_path.glob("ck-*.nlayer"))
    # 10 batches an epoch, 0.1 s each: a save every 4th batch (0.4 s after the last one);
    # epoch 1's end comes 0.2 s after batch 8's save (skipped), epoch 2's end is the last
    assert names == [(1, 4), (1, 8), (2, 0), (2, 2), (2, 6), (2, 10)]


def test_a_throttled_run_still_resumes_bit_identically(tmp_path, references):
    clock = Clock()
    path = tmp_path / "ck.nlayer"

    def fit(callbacks=(), resume_from=None):
        saver = nl.ModelCheckpoint(path, every_batches=1, every_seconds=0.25)
        saver._clock = clock
        X, y = run.data()
        m = run.model("sgd")
        m.fit(X, y, epochs=run.EPOCHS, batch_size=run.BATCH, validation_split=0.2, seed=3,
              callbacks=[nl.EarlyStopping(patience=3, restore_best_weights=True), Tick(clock, 0.1),
                         *callbacks, saver], resume_from=resume_from)
        return m

    fit(callbacks=[StopAt(3, 7)])
    assert_same_run(fit(resume_from=path), references["sgd"])


def test_every_seconds_is_checked():
    for bad in (-1, float("nan"), float("inf"), "5", True):
        with pytest.raises(ValueError, match=r"every_seconds must be a number of seconds >= 0 "
                                             r"\(or None for no limit\), got"):
            nl.ModelCheckpoint("c.nlayer", every_seconds=bad)
    with pytest.raises(ValueError, match="every_seconds spaces out periodic saves, and "
                                         "save_best_only saves only improvements"):
        nl.ModelCheckpoint("c.nlayer", every_seconds=5, save_best_only=True)
    assert nl.ModelCheckpoint("c.nlayer", every_seconds=np.float32(2)).every_seconds == 2.0


def test_a_mismatch_is_a_checkpoint_mismatch_error(tmp_path):
    path = tmp_path / "ck.nlayer"
    run.train("sgd", path, every_batches=1000, callbacks=[StopAt(2, 3)])
    X, y = run.data()
    with pytest.raises(nl.CheckpointMismatchError, match="batch_size: 10 now"):
        run.model("sgd").fit(X, y, epochs=8, batch_size=10, validation_split=0.2, seed=3,
                             callbacks=[nl.EarlyStopping(patience=3), nl.ModelCheckpoint(path)],
                             resume_from=path)


def test_resuming_with_another_seed_is_refused_and_changes_nothing(tmp_path):
    path = tmp_path / "ck.nlayer"
    run.train("sgd", path, every_batches=1000, callbacks=[StopAt(2, 3)])
    X, y = run.data()
    model = run.model("sgd")
    model.build((None, X.shape[1]), seed=0)
    before = model.get_weights()
    with pytest.raises(nl.CheckpointMismatchError, match="seed: 123 now, 3 in the checkpoint"):
        model.fit(X, y, epochs=8, batch_size=25, validation_split=0.2, seed=123,
                  callbacks=[nl.EarlyStopping(patience=3), nl.ModelCheckpoint(path)],
                  resume_from=path)
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)
