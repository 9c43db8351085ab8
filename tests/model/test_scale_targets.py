"""compile(scale_targets=True): regression targets standardised inside the model.

Off by default (a plain Sequential is the method's math); on, the network learns
(Y - mean) / std of the training rows, predictions come back in the original units,
and the statistics travel with the model file and the ONNX graph.
"""

import numpy as np
import pytest

import nlayer as nl


def big_targets(rng, n=200):
    """A smooth non-linear function of 5 features, in the thousands (like prices)."""
    X = rng.normal(size=(n, 5))
    y = 5000 + 1500 * np.tanh(X[:, 0]) + 800 * X[:, 1] * X[:, 2] - 300 * X[:, 3]
    return X, y


def regressor(scale_targets, dtype="float32"):
    model = nl.MLP(hidden=(32,), activation="relu", output="linear", dtype=dtype)
    model.compile(optimizer=nl.SGD(lr=0.01, momentum=0.9), metrics=["mse", "mae", "r2"],
                  normalize="standard", scale_targets=scale_targets)
    return model


def test_targets_in_the_thousands_diverge_without_scaling_and_fit_with_it(rng):
    X, y = big_targets(rng)
    with pytest.raises(nl.TrainingDivergedError, match=r"Try standardised regression targets "
                                                       r"\(compile\(\.\.\., scale_targets=True\)\)"):
        regressor(False).fit(X, y, epochs=50, batch_size=32, seed=0)
    model = regressor(True)
    model.fit(X, y, epochs=200, batch_size=32, seed=0)
    P = model.predict(X)[:, 0]
    assert 1 - np.sum((P - y) ** 2) / np.sum((y - y.mean()) ** 2) > 0.9  # in original units
    np.testing.assert_allclose(model.target_scaler.shift, [y.mean()])
    np.testing.assert_allclose(model.target_scaler.scale, [y.std()])


def test_loss_is_on_standardised_targets_and_metrics_in_original_units(rng):
    X, y = big_targets(rng, 64)
    model = regressor(True, dtype="float64")
    model.fit(X, y, epochs=5, batch_size=16, seed=0)
    got = model.evaluate(X, y)
    P = model.predict(X)[:, 0]
    np.testing.assert_allclose(got["mse"], np.mean((P - y) ** 2), rtol=1e-9)
    np.testing.assert_allclose(got["mae"], np.mean(np.abs(P - y)), rtol=1e-9)
    z = (y - y.mean()) / y.std()
    Pz = (P - y.mean()) / y.std()
    np.testing.assert_allclose(got["loss"], np.mean((Pz - z) ** 2) + model._l2_term(64),
                               rtol=1e-9)
    assert got["loss"] < got["mse"] / 1000  # the scales differ by std^2 (~1e6)


def test_statistics_come_from_the_training_rows_only(rng):
    X, y = big_targets(rng, 100)
    model = regressor(True, dtype="float64")
    model.fit(X, y, epochs=1, batch_size=16, seed=0, validation_data=(X[:10], y[:10] + 1e6))
    np.testing.assert_allclose(model.target_scaler.shift, [y.mean()])
    assert model.history.history["val_mse"][0] > 1e11  # dev targets are not rescaled into range


def test_multi_output_targets_get_one_mean_and_std_each(rng):
    X = rng.normal(size=(50, 3))
    Y = np.column_stack([X[:, 0] * 1000, X[:, 1] * 0.001 + 7])
    model = regressor(True, dtype="float64")
    model.fit(X, Y, epochs=1, batch_size=10, seed=0)
    np.testing.assert_allclose(model.target_scaler.shift, Y.mean(axis=0))
    np.testing.assert_allclose(model.target_scaler.scale, Y.std(axis=0))
    assert model.target_scaler.shift.shape == (2,)


def test_classification_losses_refuse_it():
    with pytest.raises(ValueError, match="scale_targets=True is for regression"):
        nl.MLP(hidden=(4,), output="softmax").compile(scale_targets=True)


def test_off_by_default_and_recorded_in_the_config(rng):
    model = nl.MLP(hidden=(4,), output="linear")
    model.compile()
    assert model.target_scaler is None and model.get_config()["compile"]["scale_targets"] is False


def test_saved_and_loaded_exactly(tmp_path, rng):
    X, y = big_targets(rng, 64)
    model = regressor(True)
    model.fit(X, y, epochs=3, batch_size=16, seed=0)
    model.save(tmp_path / "m.nlayer")
    with np.load(tmp_path / "m.nlayer") as npz:
        np.testing.assert_array_equal(npz["target_shift"], model.target_scaler.shift)
        np.testing.assert_array_equal(npz["target_scale"], model.target_scaler.scale)
    loaded = nl.load(tmp_path / "m.nlayer")
    assert loaded.get_config()["compile"]["scale_targets"] is True
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    # training continues from the same statistics (not refitted on new rows)
    loaded.fit(X[:10] + 100, y[:10] * 3, epochs=1, batch_size=5, seed=1)
    np.testing.assert_array_equal(loaded.target_scaler.shift, model.target_scaler.shift)


def test_a_model_without_it_stores_no_target_arrays(tmp_path, rng):
    model = regressor(False)
    model.fit(rng.normal(size=(20, 5)), rng.normal(size=20), epochs=1, seed=0)
    model.save(tmp_path / "m.nlayer")
    with np.load(tmp_path / "m.nlayer") as npz:
        assert not {"target_shift", "target_scale"} & set(npz.files)


def test_onnx_graph_returns_original_units(tmp_path, rng):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    X, y = big_targets(rng, 64)
    model = regressor(True)
    model.fit(X, y, epochs=3, batch_size=16, seed=0)
    model.to_onnx(tmp_path / "m.onnx")
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    got = session.run(None, {"X": X.astype(np.float32)})[0]
    np.testing.assert_allclose(got, model.predict(X), rtol=1e-6, atol=1e-6 * np.abs(y).max())
    ops = [node.op_type for node in __import__("onnx").load(tmp_path / "m.onnx").graph.node]
    assert ops[-2:] == ["Mul", "Add"]
