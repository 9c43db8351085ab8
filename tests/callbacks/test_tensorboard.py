"""nl.TensorBoard: the event files, read back with TensorBoard's own reader, hold History's and
the LayerMonitor's numbers; a resumed fit replaces what its checkpoint had not reached; a real
``tensorboard`` server lists the run's tags."""

import json
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest

import nlayer as nl
from nlayer.callbacks.layer_monitor import STAT_KEYS

pytest.importorskip("tensorboardX", reason="nl.TensorBoard writes with tensorboardX "
                    '(pip install "nlayer[tensorboard]")')
accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator",
                                  reason="reading event files back needs tensorboard")


def read(run_dir):
    """The run's event files as TensorBoard reads them, nothing sampled away."""
    acc = accumulator.EventAccumulator(str(run_dir), size_guidance={"scalars": 0,
                                                                     "histograms": 0})
    acc.Reload()
    return acc


def scalars(acc, tag):
    return [(e.step, e.value) for e in acc.Scalars(tag)]


class BatchLosses(nl.Callback):
    """Every batch's loss, as fit hands it to callbacks."""

    def __init__(self):
        self.losses = []

    def on_batch_end(self, batch, logs=None):
        self.losses.append(logs["loss"])


def _model():
    model = nl.MLP(hidden=(16,), batchnorm=True)
    model.compile(optimizer=nl.SGD(lr=0.05, momentum=0.9), l2=1e-3, metrics=["accuracy"])
    return model


@pytest.fixture(scope="module")
def logged(digits, tmp_path_factory):
    """3 epochs of digits (21 batches each) with a monitor every 4 steps: (log_dir, model,
    monitor, batch losses, monitor samples of each epoch)."""
    X, y = digits[0], digits[1]
    log_dir = tmp_path_factory.mktemp("tb") / "logs"
    monitor, losses = nl.LayerMonitor(every_batches=4), BatchLosses()
    samples = {}

    class KeepSamples(nl.Callback):  # the monitor's latest samples as each epoch ends
        def on_epoch_end(self, epoch, logs=None):
            samples[epoch] = monitor.step_samples

    model = _model()
    model.fit(X, y, epochs=3, batch_size=64, validation_split=0.1, seed=0,
              callbacks=[monitor, losses, KeepSamples(),
                         nl.TensorBoard(log_dir, histogram_freq=2, update_freq=5)])
    return log_dir, model, monitor, losses.losses, samples


def test_epoch_scalars_are_historys_numbers_in_keras_tags(logged):
    log_dir, model, _, _, _ = logged
    history = model.history.history
    train, dev = read(log_dir / "train"), read(log_dir / "validation")
    assert sorted(train.Tags()["scalars"]) == ["epoch_accuracy", "epoch_data_loss",
                                               "epoch_l2_penalty", "epoch_learning_rate",
                                               "epoch_loss"]
    assert sorted(dev.Tags()["scalars"]) == ["epoch_accuracy", "epoch_data_loss",
                                             "epoch_l2_penalty", "epoch_loss"]
    for key, values in history.items():
        if key == "seconds":
            continue
        acc, name = (dev, key[4:]) if key.startswith("val_") else (train, key)
        tag = "epoch_learning_rate" if name == "lr" else f"epoch_{name}"
        steps, logged_values = zip(*scalars(acc, tag))
        assert list(steps) == [1, 2, 3]
        np.testing.assert_array_equal(logged_values, np.float32(values))  # float32 events


def test_batch_loss_every_update_freq_steps(logged):
    log_dir, _, _, losses, _ = logged
    batches = scalars(read(log_dir / "train_batches"), "batch_loss")
    assert len(losses) == 3 * 21  # 1293 training rows in batches of 64
    assert [s for s, _ in batches] == list(range(5, 64, 5))
    np.testing.assert_array_equal([v for _, v in batches],
                                  np.float32([losses[s - 1] for s in range(5, 64, 5)]))


def test_every_monitor_statistic_is_a_scalar_at_its_step(logged):
    log_dir, model, _, _, _ = logged
    acc = read(log_dir / "train_batches")
    rows = model.history.layer_stats
    assert len(rows) == 16 * 3  # steps 1, 5, ..., 61 of 63; 3 layers
    for layer in ("dense_1", "batchnorm_1", "dense_2"):
        mine = [r for r in rows if r["layer"] == layer]
        for stat in STAT_KEYS[3:]:
            expected = [((r["epoch"] - 1) * 21 + r["batch"], np.float32(r[stat]))
                        for r in mine if r[stat] is not None]
            tag = f"{layer}/{stat}"
            assert (tag in acc.Tags()["scalars"]) == bool(expected), tag
            if expected:
                assert scalars(acc, tag) == expected, tag
    assert [s for s, _ in scalars(acc, "dense_1/grad_rms")] == list(range(1, 64, 4))


def _same_histogram(histogram, values):
    values = np.asarray(values, dtype=np.float64)
    assert histogram.num == values.size
    assert histogram.min == pytest.approx(values.min(), rel=1e-6, abs=1e-12)
    assert histogram.max == pytest.approx(values.max(), rel=1e-6, abs=1e-12)
    assert histogram.sum == pytest.approx(values.sum(), rel=1e-5, abs=1e-9)


def test_histograms_every_histogram_freq_epochs_hold_weights_and_monitor_samples(logged):
    log_dir, model, _, _, samples = logged
    acc = read(log_dir / "train")
    layers = {layer.name: layer for layer in model.layers}
    weights = [f"{n}/{w}" for n, layer in layers.items() for w in layer.weight_names]
    measured = [f"{n}/{k}" for n in ("dense_1", "batchnorm_1", "dense_2")
                for k in ("dW", "dZ", "A")]
    assert sorted(acc.Tags()["histograms"]) == sorted(weights + measured)
    for tag in weights + measured:
        assert [e.step for e in acc.Histograms(tag)] == [1, 3]  # every 2 epochs, the first too
    for tag in weights:  # the last histogram: the final weights
        name, weight = tag.split("/")
        _same_histogram(acc.Histograms(tag)[-1].histogram_value, layers[name].params[weight])
    for tag in measured:  # the monitor's samples of the epoch's latest sampled step
        name, key = tag.split("/")
        for event in acc.Histograms(tag):
            assert samples[event.step]["epoch"] == event.step
            _same_histogram(event.histogram_value, samples[event.step]["layers"][name][key])


class CopyAt(nl.Callback):
    """Copies the checkpoint file as the given epoch begins (where a crash would leave it)."""

    def __init__(self, epoch, source, target):
        self.epoch, self.source, self.target = epoch, source, target

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            self.target.write_bytes(self.source.read_bytes())


def test_a_resumed_fit_replaces_the_steps_its_checkpoint_had_not_reached(digits, tmp_path):
    X, y = digits[0][:600], digits[1][:600]
    log_dir, path, at2 = tmp_path / "logs", tmp_path / "ck.nlayer", tmp_path / "at2.nlayer"
    settings = dict(epochs=4, batch_size=64, validation_split=0.1, seed=0)
    # the run that "crashed" after logging 4 epochs, its checkpoint left at epoch 2
    _model().fit(X, y, **settings, callbacks=[
        nl.ModelCheckpoint(path, every_epochs=2), CopyAt(3, path, at2),
        nl.TensorBoard(log_dir, update_freq=1)])
    model = _model()
    history = model.fit(X, y, **settings, resume_from=at2, callbacks=[
        nl.ModelCheckpoint(at2, every_epochs=2), nl.TensorBoard(log_dir, update_freq=1)])
    logged = scalars(read(log_dir / "train"), "epoch_loss")
    assert [s for s, _ in logged] == [1, 2, 3, 4]  # epochs 3 and 4 once, not twice
    np.testing.assert_array_equal([v for _, v in logged], np.float32(history.history["loss"]))
    steps = [s for s, _ in scalars(read(log_dir / "train_batches"), "batch_loss")]
    assert steps == list(range(1, 4 * 9 + 1))  # 540 training rows: 9 batches per epoch


@pytest.mark.parametrize("kwargs, words", [
    ({"histogram_freq": -1}, "histogram_freq must be a whole number of epochs >= 0"),
    ({"histogram_freq": 1.5}, "histogram_freq"),
    ({"update_freq": "bogus"}, "update_freq must be 'epoch', 'batch' or a whole number"),
    ({"update_freq": 0}, "update_freq"),
    ({"update_freq": True}, "update_freq"),
])
def test_bad_settings_are_named(kwargs, words):
    with pytest.raises(ValueError, match=words):
        nl.TensorBoard("logs", **kwargs)


def test_log_dir_must_be_a_path():
    with pytest.raises(TypeError, match="log_dir must be a folder path"):
        nl.TensorBoard(3)


def test_without_tensorboardx_the_error_names_the_extra(monkeypatch, digits, tmp_path):
    monkeypatch.setitem(sys.modules, "tensorboardX", None)  # as if not installed
    model = _model()
    with pytest.raises(ImportError, match=r'pip install "nlayer\[tensorboard\]"'):
        model.fit(digits[0][:100], digits[1][:100], epochs=1,
                  callbacks=[nl.TensorBoard(tmp_path)])


def test_nlayer_imports_neither_tracking_package():
    code = ("import sys, nlayer; loaded = [m for m in sys.modules if m.split('.')[0] in "
            "('tensorboardX', 'tensorboard', 'mlflow', 'torch', 'tensorflow')]; print(loaded)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True)
    assert done.stdout.strip() == "[]"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get_json(url):
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def test_a_real_tensorboard_server_lists_the_runs_scalar_tags(logged):
    pytest.importorskip("tensorboard.main", reason="the tensorboard server is not installed")
    log_dir = logged[0]
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "tensorboard.main", "--logdir", str(log_dir),
                               "--host", "127.0.0.1", "--port", str(port), "--load_fast=false",
                               "--reload_interval", "1"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}/data/plugin/scalars/tags"
    try:
        deadline, tags = time.monotonic() + 120, {}
        while time.monotonic() < deadline and set(tags) != {"train", "validation", "train_batches"}:
            if server.poll() is not None:
                pytest.fail(f"tensorboard exited: {server.stderr.read().decode()[-2000:]}")
            try:
                tags = _get_json(url)
            except OSError:
                pass
            time.sleep(0.5)
        assert set(tags) == {"train", "validation", "train_batches"}, tags
        assert {"epoch_loss", "epoch_accuracy", "epoch_learning_rate"} <= set(tags["train"])
        assert {"epoch_loss", "epoch_accuracy"} <= set(tags["validation"])
        assert {"batch_loss", "dense_1/grad_rms"} <= set(tags["train_batches"])
    finally:
        server.kill()
        server.wait(timeout=30)
