"""nl.LayerMonitor: values against hand computation, sampling, vanishing/exploding claims, state."""

import math

import numpy as np
import pytest

import nlayer as nl
from nlayer.callbacks.layer_monitor import STAT_KEYS, flag_layers


def _tiny():
    """3 -> 4 tanh -> 2 softmax in float64, weights fixed by seed."""
    model = nl.Sequential([nl.Dense(4, activation="tanh"), nl.Dense(2, activation="softmax")],
                          dtype="float64")
    model.compile(optimizer=nl.SGD(lr=0.1))
    model.build((None, 3), seed=3)
    return model


def test_values_match_hand_computation():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(5, 3)), np.array([0, 1, 1, 0, 1])
    model = _tiny()
    W1, b1, W2, b2 = model.get_weights()
    model.fit(X, y, epochs=1, batch_size=5, shuffle=False,
              callbacks=[nl.LayerMonitor(every_batches=1)])
    rows = model.history.layer_stats
    assert [r["layer"] for r in rows] == ["dense_1", "dense_2"]
    assert all(list(r) == list(STAT_KEYS) for r in rows)

    m, Y = 5, np.eye(2)[y]
    Z1 = X @ W1 + b1
    A1 = np.tanh(Z1)
    Z2 = A1 @ W2 + b2
    A2 = np.exp(Z2 - Z2.max(axis=1, keepdims=True))
    A2 /= A2.sum(axis=1, keepdims=True)
    dZ2 = A2 - Y                          # the article's dZ of the output layer
    dW2 = A1.T @ dZ2 / m
    dZ1 = (dZ2 @ W2.T) * (1 - A1 ** 2)
    dW1 = X.T @ dZ1 / m
    rms = lambda a: math.sqrt(np.mean(a ** 2))  # noqa: E731
    expected = [(Z1, A1, dZ1, dW1, W1, "tanh"), (Z2, A2, dZ2, dW2, W2, "softmax")]
    for row, (Z, A, dZ, dW, W, act) in zip(rows, expected):
        assert (row["epoch"], row["batch"]) == (1, 1)
        assert row["grad_rms"] == pytest.approx(rms(dW), rel=1e-10)
        assert row["dz_rms"] == pytest.approx(rms(dZ), rel=1e-10)
        assert row["update_ratio"] == pytest.approx(
            0.1 * np.linalg.norm(dW) / np.linalg.norm(W), rel=1e-10)
        assert row["z_mean"] == pytest.approx(Z.mean(), rel=1e-10)
        assert row["z_std"] == pytest.approx(Z.std(), rel=1e-10)
        assert row["a_mean"] == pytest.approx(A.mean(), rel=1e-10)
        assert row["a_std"] == pytest.approx(A.std(), rel=1e-10)
        assert row["dead"] is None
    assert rows[0]["saturated"] == float(np.mean(np.abs(A1) > 0.99))
    assert rows[1]["saturated"] is None


def test_gradient_scale_is_divided_out():
    """Adam receives unscaled gradients, SGD lr-scaled ones: the monitor reports the same dW."""
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(8, 3)), rng.integers(0, 2, 8)
    found = []
    for opt in (nl.SGD(lr=0.5), nl.Adam(lr=0.01)):
        model = _tiny()
        model.compile(optimizer=opt)
        model.fit(X, y, epochs=1, batch_size=8, callbacks=[nl.LayerMonitor(1)])
        found.append([(r["grad_rms"], r["dz_rms"]) for r in model.history.layer_stats])
    np.testing.assert_allclose(found[0], found[1], rtol=1e-12)


def test_samples_every_n_steps_across_epochs():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(32, 3)), rng.integers(0, 2, 32)
    model = _tiny()
    model.fit(X, y, epochs=2, batch_size=8, callbacks=[nl.LayerMonitor(every_batches=3)])
    seen = [(r["epoch"], r["batch"]) for r in model.history.layer_stats if r["layer"] == "dense_1"]
    assert seen == [(1, 1), (1, 4), (2, 3)]  # steps 0, 3, 6 of 4 batches per epoch
    assert model._step_tap is None


def test_monitor_does_not_change_training():
    rng = np.random.default_rng(2)
    X, y = rng.normal(size=(64, 3)), rng.integers(0, 2, 64)
    weights = []
    for callbacks in ([], [nl.LayerMonitor(every_batches=2)]):
        model = _tiny()
        model.fit(X, y, epochs=3, batch_size=16, seed=5, callbacks=callbacks)
        weights.append(model.get_weights())
    for a, b in zip(*weights):
        np.testing.assert_array_equal(a, b)


def _deep(init, activation="tanh"):
    model = nl.MLP(hidden=(128,) * 10, activation=activation, init=init, dtype="float64")
    model.compile(optimizer=nl.SGD(lr=0.01))
    return model


def _first_step_dz(model, seed=0):
    rng = np.random.default_rng(seed)
    X, y = rng.normal(size=(128, 64)), rng.integers(0, 10, 128)
    model.fit(X, y, epochs=1, batch_size=128, callbacks=[nl.LayerMonitor(every_batches=1)])
    return [r["dz_rms"] for r in model.history.layer_stats]


def test_naive_tanh_vanishes_and_glorot_does_not():
    naive = _first_step_dz(_deep({"name": "random_normal", "stddev": 0.01}))
    glorot = _first_step_dz(_deep("glorot_uniform"))
    # rows: 10 hidden layers then the output; the last hidden layer is index 9
    assert naive[9] / naive[0] >= 1e3
    assert 1 / 100 <= glorot[9] / glorot[0] <= 100


def test_batchnorm_rows_and_dead_relu():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(64, 5)), rng.integers(0, 3, 64)
    model = nl.MLP(hidden=(16,), activation="relu", batchnorm=True, dtype="float64")
    model.compile(optimizer=nl.SGD(lr=0.1))
    model.fit(X, y, epochs=1, batch_size=64, callbacks=[nl.LayerMonitor(1)])
    rows = {r["layer"]: r for r in model.history.layer_stats}
    assert list(rows) == ["dense_1", "batchnorm_1", "dense_2"]
    bn = model.layers[1]
    assert rows["batchnorm_1"]["dz_rms"] == rows["dense_1"]["dz_rms"]
    # BatchNorm's output has mean beta = 0 and std ~1 per unit on the first step
    assert abs(rows["batchnorm_1"]["z_mean"]) < 1e-12
    assert rows["batchnorm_1"]["z_std"] == pytest.approx(1.0, abs=0.01)
    A = model.layers[2].A
    assert rows["dense_1"]["dead"] == float(np.mean(~(A > 0).any(axis=0)))
    assert rows["dense_1"]["a_mean"] == pytest.approx(A.mean(), rel=1e-12)
    assert bn.params["gamma"].shape == (16,)


def test_history_carries_rows_through_save_and_load(tmp_path):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(16, 3)), rng.integers(0, 2, 16)
    model = _tiny()
    model.fit(X, y, epochs=1, batch_size=8, callbacks=[nl.LayerMonitor(1)])
    model.save(tmp_path / "m.nlayer")
    loaded = nl.load(tmp_path / "m.nlayer")
    assert loaded.history.layer_stats == model.history.layer_stats
    assert len(loaded.history.layer_stats) == 4
    again = nl.History.from_dict(model.history.to_dict())
    assert again.layer_stats == model.history.layer_stats
    assert nl.History.from_dict({"history": {}}).layer_stats == []


def test_activation_samples_keep_the_first_and_the_latest_epoch():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(32, 3)), rng.integers(0, 2, 32)
    model = _tiny()
    monitor = nl.LayerMonitor(every_batches=2)
    model.fit(X, y, epochs=3, batch_size=8, shuffle=False, callbacks=[monitor])
    samples = monitor.activation_samples
    assert sorted(samples) == [1, 3]
    assert sorted(samples[1]) == ["dense_1", "dense_2"]
    assert samples[3]["dense_1"].shape == (32,) and samples[3]["dense_1"].dtype == np.float32
    first = samples[1]["dense_1"]  # the very first step: batch rows 0-7, initial weights
    W1, b1 = _tiny().get_weights()[:2]
    np.testing.assert_allclose(first, np.tanh(X[:8] @ W1 + b1).ravel(), rtol=1e-6)
    state = monitor.get_state()
    other = nl.LayerMonitor(every_batches=2)
    other.set_model(_tiny())
    other.set_state(state)
    for epoch in (1, 3):
        np.testing.assert_array_equal(other.activation_samples[epoch]["dense_1"],
                                      samples[epoch]["dense_1"])


def test_state_round_trip_continues_the_count():
    model = _tiny()
    monitor = nl.LayerMonitor(every_batches=3)
    monitor.set_model(model)
    monitor.on_train_begin()
    assert model._step_tap is not None  # step 0 is sampled
    monitor.set_state({"step": 4})
    assert monitor.get_state() == {"step": 4, "epoch": None, "activation_samples": {}}
    assert model._step_tap is None
    monitor.on_epoch_begin(1)
    monitor.on_batch_end(1)  # step 5: not sampled next
    assert model._step_tap is None
    monitor.on_batch_end(2)  # step 6: sampled next
    assert model._step_tap is not None
    monitor.on_train_end()
    assert model._step_tap is None


def test_a_failed_fit_leaves_no_tap_behind():
    model = _tiny()
    model._step_tap = lambda scale: pytest.fail("stale tap called")
    rng = np.random.default_rng(0)
    model.fit(rng.normal(size=(8, 3)), rng.integers(0, 2, 8), epochs=1, batch_size=4)


def test_bad_sampling_interval():
    with pytest.raises(ValueError, match="every_batches must be a whole number >= 1, got 0"):
        nl.LayerMonitor(every_batches=0)


def _rows(layer, grad, dz, ratio, n=3):
    return [{"epoch": 1, "batch": k, "layer": layer, "grad_rms": grad, "dz_rms": dz,
             "update_ratio": ratio} for k in range(n)]


def test_flag_layers_on_constructed_rows():
    ok = _rows("a", 1e-2, 1e-1, 1e-3) + _rows("b", 1e-2, 2e-1, 1e-3)
    assert flag_layers(ok) == {"vanished": [], "exploded": []}
    vanished = _rows("a", 1e-6, 1e-5, 1e-3) + _rows("b", 1e-2, 1e-1, 1e-3)
    assert flag_layers(vanished) == {"vanished": ["a"], "exploded": []}
    frozen = _rows("a", 1e-2, 1e-1, 1e-8) + _rows("b", 1e-2, 1e-1, 1e-3)
    assert flag_layers(frozen) == {"vanished": ["a"], "exploded": []}
    exploded = _rows("a", 1e4, 1e3, 1e-3) + _rows("b", 1e-2, 1e-1, 2.0) + \
        _rows("c", math.nan, 1e-1, 1e-3)
    assert flag_layers(exploded) == {"vanished": [], "exploded": ["a", "b", "c"]}


def test_sums_of_squares_survive_float32_underflow_and_overflow():
    from nlayer.callbacks.layer_monitor import _sq
    tiny = np.full(100, 1e-25, dtype=np.float32)  # each square underflows float32
    huge = np.full(100, 1e25, dtype=np.float32)   # each square overflows float32
    assert _sq(tiny) == pytest.approx(100 * float(np.float32(1e-25)) ** 2, rel=1e-6)
    assert _sq(huge) == pytest.approx(100 * float(np.float32(1e25)) ** 2, rel=1e-6)
