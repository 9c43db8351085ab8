import copy
import pickle

import numpy as np
import pytest

import nlayer as nl


def classifier(hidden=(32,), dtype="float32", **compile_kw):
    model = nl.MLP(hidden=hidden, activation="relu", output="softmax", dtype=dtype)
    compile_kw.setdefault("optimizer", nl.SGD(lr=0.1, momentum=0.9))
    model.compile(metrics=["accuracy"], **compile_kw)
    return model


# -- it learns -----------------------------------------------------------------------
def test_xor():
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    y = np.array([0, 1, 1, 0])
    model = nl.Sequential([nl.Dense(8, activation="tanh"), nl.Dense(1, activation="sigmoid")])
    model.compile(optimizer=nl.SGD(lr=0.5, momentum=0.9), loss="binary_crossentropy",
                  metrics=["accuracy"])
    model.fit(X, y, epochs=500, batch_size=4, seed=0)
    np.testing.assert_array_equal((model.predict(X)[:, 0] > 0.5).astype(int), y)
    assert model.evaluate(X, y)["loss"] < 0.05


def test_overfits_a_tiny_batch_to_near_zero_loss(rng):
    X, y = rng.normal(size=(16, 10)), rng.integers(0, 4, size=16)
    model = classifier(hidden=(64, 64), optimizer=nl.Adam(lr=0.01))
    model.fit(X, y, epochs=300, batch_size=16, seed=0)
    assert model.evaluate(X, y)["loss"] < 1e-3
    assert model.evaluate(X, y)["accuracy"] == 1.0


def test_digits_reaches_97_percent(digits):
    X_train, y_train, X_test, y_test = digits
    model = nl.Sequential([
        nl.Dense(128, init="he_normal", use_bias=False), nl.BatchNorm(), nl.Activation("relu"),
        nl.Dropout(0.1), nl.Dense(64, activation="relu"), nl.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer=nl.SGD(lr=0.05, momentum=0.9), l2=1e-4, metrics=["accuracy"],
                  normalize="standard")
    history = model.fit(X_train, y_train, epochs=60, batch_size=64, validation_split=0.1, seed=0,
                        callbacks=[nl.EarlyStopping(patience=8)])
    assert model.evaluate(X_test, y_test)["accuracy"] >= 0.97
    assert history.best_epoch <= history.stopped_epoch


def test_regression_reaches_low_mse(rng):
    X = rng.uniform(-1, 1, size=(600, 3))
    y = np.sin(2 * X[:, 0]) + X[:, 1] * X[:, 2] + 0.5 * X[:, 2]
    model = nl.MLP(hidden=(64, 64), activation="tanh", output="linear")
    model.compile(optimizer=nl.Adam(lr=0.005), loss="mse", metrics=["mae", "r2"])
    model.fit(X[:500], y[:500], epochs=200, batch_size=32, seed=0)
    result = model.evaluate(X[500:], y[500:])
    assert result["loss"] < 0.01 * y.var() * 2 and result["r2"] > 0.97
    assert model.predict(X[500:]).shape == (100, 1)


def test_multi_output_regression(rng):
    X = rng.normal(size=(400, 4))
    Y = X @ rng.normal(size=(4, 2))
    model = nl.MLP(hidden=(16,), activation="linear", output="linear")
    model.compile(optimizer=nl.SGD(lr=0.05, momentum=0.9))
    model.fit(X, Y, epochs=100, batch_size=32, seed=0)
    assert model.evaluate(X, Y)["loss"] < 1e-4


# -- training control -------------------------------------------------------------------
def test_same_seed_gives_identical_weights_and_history(digits):
    X, y = digits[0][:300], digits[1][:300]

    def run():
        model = nl.MLP(hidden=(32,), batchnorm=True, dropout=0.2)
        model.compile(optimizer=nl.SGD(lr=0.05, momentum=0.9), metrics=["accuracy"])
        h = model.fit(X, y, epochs=3, batch_size=32, validation_split=0.2, seed=7)
        return model.get_weights(), {k: v for k, v in h.history.items() if k != "seconds"}

    (w1, h1), (w2, h2) = run(), run()
    assert h1 == h2
    for a, b in zip(w1, w2):
        np.testing.assert_array_equal(a, b)


def test_fit_uses_the_announced_batch_orders_and_the_last_partial_batch(rng):
    X, y = rng.normal(size=(10, 3)), rng.integers(0, 2, size=10)
    seen = []

    class Spy(nl.Callback):
        def on_batch_end(self, batch, logs=None):
            seen.append(logs["size"])

    model = classifier(hidden=(4,))
    model.fit(X, y, epochs=2, batch_size=4, seed=3, callbacks=[Spy()])
    assert seen == [4, 4, 2, 4, 4, 2]
    orders = nl.model.batch_orders(3, 10, 2)
    assert sorted(orders[0]) == list(range(10)) and not np.array_equal(orders[0], orders[1])


def test_validation_split_is_stratified_and_normaliser_sees_training_rows_only():
    X = np.arange(200, dtype=float).reshape(100, 2)
    y = np.array([0] * 80 + [1] * 20)
    model = classifier(hidden=(4,), normalize="standard")
    model.fit(X, y, epochs=1, batch_size=10, validation_split=0.25, seed=0)
    split_rng = nl.training.loop._generators(0)[0]  # fit's first generator draws the split
    train, dev = nl.preprocessing.train_dev_split(100, 0.25, split_rng, strata=y)
    assert np.bincount(y[dev]).tolist() == [20, 5]  # 25 % of each class
    np.testing.assert_allclose(model.normalizer.shift, X[train].mean(axis=0))
    assert not np.allclose(model.normalizer.shift, X.mean(axis=0))


def test_early_stopping_restores_the_best_epoch_including_batchnorm_statistics(digits):
    X, y = digits[0][:400], digits[1][:400]
    snapshots = {}

    class Keep(nl.Callback):
        def on_epoch_end(self, epoch, logs=None):
            snapshots[epoch] = self.model.get_weights()

    model = nl.MLP(hidden=(32,), batchnorm=True)
    model.compile(optimizer=nl.SGD(lr=0.8, momentum=0.9), metrics=["accuracy"])  # noisy on purpose
    h = model.fit(X, y, epochs=40, batch_size=16, validation_split=0.25, seed=0,
                  callbacks=[Keep(), nl.EarlyStopping(patience=2)])
    assert h.stopped_epoch < 40 and h.interrupted
    best = int(np.argmin(h.history["val_loss"])) + 1
    assert h.best_epoch == best
    names = [n for layer in model.layers for n in layer.weight_names]
    assert "moving_variance" in names
    for a, b in zip(model.get_weights(), snapshots[best]):
        np.testing.assert_array_equal(a, b)


def test_history_records_every_quantity():
    X, y = np.random.default_rng(0).normal(size=(50, 3)), np.arange(50) % 2
    model = classifier(hidden=(4,))
    h = model.fit(X, y, epochs=3, batch_size=10, validation_split=0.2, seed=0)
    assert set(h.history) == {"loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds"}
    assert all(len(v) == 3 for v in h.history.values())
    assert h.epoch == [1, 2, 3] and h.stopped_epoch == 3 and not h.interrupted
    assert h.history["lr"] == [0.1] * 3


def test_stop_training_flag_ends_after_the_current_batch():
    X, y = np.random.default_rng(0).normal(size=(100, 3)), np.arange(100) % 2
    count = []

    class Interrupt(nl.Callback):
        def on_batch_end(self, batch, logs=None):
            count.append(batch)
            if len(count) == 3:
                self.model.stop_training = True  # what the CLI's Ctrl-C handler does

    model = classifier(hidden=(4,))
    h = model.fit(X, y, epochs=5, batch_size=10, seed=0, callbacks=[Interrupt()])
    # the unfinished epoch is not recorded: its running average is not an epoch's loss
    assert count == [1, 2, 3] and h.interrupted and h.epoch == [] and h.history == {}
    assert model.optimizer.iterations == 3  # but its three batches did train


def test_divergence_raises_and_keeps_the_last_good_weights(rng):
    X = rng.normal(size=(64, 5)) * 100
    y = rng.normal(size=64) * 1e3
    model = nl.MLP(hidden=(16,), activation="relu", output="linear")
    model.compile(optimizer=nl.SGD(lr=10.0), loss="mse")
    good = []

    class Keep(nl.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            good.append(self.model.get_weights())

    with pytest.raises(nl.TrainingDivergedError, match=r"epoch \d+, batch \d+.*smaller learning rate") as err:
        model.fit(X, y, epochs=50, batch_size=8, seed=0, callbacks=[Keep()])
    assert err.value.epoch >= 1
    for a, b in zip(model.get_weights(), good[-1]):
        np.testing.assert_array_equal(a, b)
    assert all(np.isfinite(w).all() for w in model.get_weights())


# -- dtype -----------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dtype_is_kept_end_to_end(dtype, rng):
    X, y = rng.normal(size=(40, 6)), rng.integers(0, 3, size=40)
    model = nl.MLP(hidden=(8,), batchnorm=True, dtype=dtype)
    model.compile(optimizer=nl.Adam(), metrics=["accuracy"], normalize="standard")
    model.fit(X.astype(np.float64), y, epochs=2, batch_size=8, seed=0)
    assert all(w.dtype == dtype for w in model.get_weights())
    assert all(g.dtype == dtype for g in model.trainable_grads)
    assert all(a.dtype == dtype for s in model.optimizer.state.values() for a in s.values())
    assert model.predict(X).dtype == dtype


# -- building, weights, summary ----------------------------------------------------------------
def test_build_and_get_set_weights_in_keras_order():
    model = nl.Sequential([nl.Dense(5, use_bias=False), nl.BatchNorm(), nl.Activation("relu"),
                           nl.Dense(3, activation="softmax")])
    model.build((None, 4))
    shapes = [w.shape for w in model.get_weights()]
    assert shapes == [(4, 5), (5,), (5,), (5,), (5,), (5, 3), (3,)]
    new = [np.full(s, i, dtype=np.float32) for i, s in enumerate(shapes)]
    model.set_weights(new)
    for a, b in zip(model.get_weights(), new):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="expected 7 weight arrays, got 6"):
        model.set_weights(new[:-1])


def test_auto_init_follows_the_next_activation():
    model = nl.Sequential([nl.Dense(5, use_bias=False), nl.BatchNorm(), nl.Activation("relu"),
                           nl.Dense(3, activation="tanh")]).build((None, 4))
    assert model.layers[0].initializer.name == "he_normal"
    assert model.layers[3].initializer.name == "glorot_uniform"


def test_mlp_builds_the_documented_stack():
    model = nl.MLP(hidden=(256, 128), activation="relu", output="softmax", batchnorm=True,
                   dropout=0.2, init="auto")
    kinds = [type(l).__name__ for l in model.layers]
    assert kinds == ["Dense", "BatchNorm", "Activation", "Dropout"] * 2 + ["Dense"]
    assert model.layers[0].use_bias is False
    model.compile()
    assert model.loss.name == "categorical_crossentropy"
    model.fit(np.random.default_rng(0).normal(size=(20, 7)), np.arange(20) % 4, epochs=1, seed=0)
    assert model.n_outputs == 4 and model.layers[0].initializer.name == "he_normal"


def test_summary_lists_layers_shapes_and_counts():
    lines = []
    model = nl.MLP(hidden=(16,), batchnorm=True, n_outputs=3).build((None, 8))
    model.summary(print_fn=lines.append)
    text = lines[0]
    assert "dense_1 (Dense)" in text and "(None, 16)" in text and "128" in text
    assert "Total params: 243" in text and "Non-trainable params: 32" in text


# -- bad input --------------------------------------------------------------------------------------
@pytest.mark.parametrize("X, y, kwargs, error, match", [
    (np.zeros(10), np.zeros(10), {}, ValueError, "2-D.*reshape"),
    (np.zeros((0, 3)), np.zeros(0), {}, ValueError, "empty"),
    (np.full((4, 3), np.nan), np.zeros(4), {}, ValueError, "NaN or inf.*row 0, column 0"),
    (np.zeros((4, 3)), np.array([0, 1, np.nan, 0]), {}, ValueError, "NaN"),
    (np.zeros((4, 3)), np.zeros(5), {}, ValueError, "4 rows but y has 5"),
    (np.zeros((4, 3)), np.array([0.5, 1, 0, 1]), {}, ValueError, "integer class ids"),
    (np.zeros((4, 3)), np.array([0, 1, 2, 9]), {}, ValueError, "class id 9 is beyond"),
    (np.zeros((4, 3)), np.zeros(4), {"batch_size": 0}, ValueError, "batch_size must be"),
    (np.zeros((4, 3)), np.zeros(4), {"validation_split": 1.5}, ValueError, r"\(0, 1\)"),
    (np.array([["a", "b"]]), np.zeros(1), {}, TypeError, "numeric"),
])
def test_bad_input_is_named(X, y, kwargs, error, match):
    model = nl.MLP(hidden=(4,), n_outputs=3)
    model.compile()
    with pytest.raises(error, match=match):
        model.fit(X, y, epochs=1, **kwargs)


def test_feature_count_mismatch_at_predict(rng):
    model = classifier(hidden=(4,))
    model.fit(rng.normal(size=(10, 3)), np.arange(10) % 2, epochs=1)
    with pytest.raises(ValueError, match="2 features but the model was built for 3"):
        model.predict(np.zeros((1, 2)))


def test_unfitted_and_uncompiled_models_say_what_to_do():
    model = nl.MLP(hidden=(4,))
    with pytest.raises(RuntimeError, match="compile"):
        model.fit(np.zeros((2, 2)), [0, 1])
    with pytest.raises(nl.NotFittedError, match="fit"):
        model.predict(np.zeros((2, 2)))  # output width unknown until fit sees the labels


def test_predict_builds_a_model_whose_sizes_are_known():
    model = nl.MLP(hidden=(4,), n_outputs=3)
    P = model.predict(np.ones((2, 5)))
    assert model.built and model.n_features == 5 and P.shape == (2, 3)
    np.testing.assert_allclose(P.sum(axis=1), 1, rtol=1e-6)


@pytest.mark.parametrize("kwargs, match", [
    ({"optimizer": "lbfgs"}, "valid names: sgd, adam, rmsprop"),
    ({"loss": "hinge"}, "valid names"),
    ({"l2": -1}, "lambda"),
    ({"normalize": "robust"}, "standard, minmax, global, None"),
    ({"metrics": ["auc"]}, "accuracy, mse"),
])
def test_bad_compile_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        nl.MLP(hidden=(4,)).compile(**kwargs)


# -- memory and dtype guards (what the speed work relies on; no timing here) --------------------
def test_training_allocates_no_copy_of_the_data():
    """An epoch reuses its batch buffers: peak allocation stays far below one copy of X."""
    import tracemalloc

    rng = np.random.default_rng(0)
    X = rng.random((20000, 200), dtype=np.float32)  # 16 MB
    y = rng.integers(0, 10, size=20000)
    model = nl.MLP(hidden=(64, 32), batchnorm=True, dropout=0.1)
    model.compile(optimizer=nl.SGD(lr=0.05, momentum=0.9), metrics=["accuracy"])
    model.fit(X, y, epochs=1, batch_size=128, seed=0)  # builds the weights and buffers
    tracemalloc.start()
    try:
        model.fit(X, y, epochs=3, batch_size=128, seed=0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # targets as one-hot float32 (0.8 MB), the epoch's permutation (0.16 MB), buffers
    assert peak < 3_000_000, f"fit allocated {peak / 1e6:.1f} MB at its peak"


def test_parameters_live_in_one_buffer_that_the_optimiser_updates():
    model = nl.MLP(hidden=(8,), batchnorm=True, n_outputs=3).build((None, 4))
    flat = model._flat_params
    for layer in model.layers:
        for key in layer.trainable_names:
            assert np.shares_memory(layer.params[key], flat)
            assert layer.params[key].flags.c_contiguous
    assert not np.shares_memory(model.layers[1].params["moving_mean"], flat)
    before = model.get_weights()
    model.compile(optimizer=nl.SGD(lr=0.1))
    model.fit(np.random.default_rng(0).normal(size=(16, 4)), np.arange(16) % 3, epochs=1)
    assert not np.array_equal(before[0], model.get_weights()[0])


def test_explicit_validation_data_is_used_as_the_development_set(rng):
    X, y = rng.normal(size=(60, 4)), np.arange(60) % 3
    X_dev, y_dev = rng.normal(size=(20, 4)), np.arange(20) % 3
    model = classifier(hidden=(8,))
    h = model.fit(X, y, epochs=2, batch_size=16, validation_data=(X_dev, y_dev), seed=0)
    assert h.history["val_loss"][-1] == pytest.approx(model.evaluate(X_dev, y_dev)["loss"])
    with pytest.raises(ValueError, match="not both"):
        model.fit(X, y, validation_split=0.2, validation_data=(X_dev, y_dev))
    with pytest.raises(ValueError, match="pair"):
        model.fit(X, y, validation_data=X_dev)


def test_without_shuffling_batches_follow_the_row_order(rng):
    X, y = rng.normal(size=(12, 3)), np.arange(12) % 2
    firsts = []

    class FirstRow(nl.Callback):
        def on_batch_end(self, batch, logs=None):
            firsts.append(self.model.layers[0].A_prev[0].copy())

    model = classifier(hidden=(4,))
    model.fit(X, y, epochs=1, batch_size=4, shuffle=False, callbacks=[FirstRow()])
    np.testing.assert_allclose(np.array(firsts), X[[0, 4, 8]].astype(np.float32))


def test_backward_with_a_scale_gives_scaled_gradients_including_l2_and_batchnorm(rng):
    X, y = rng.normal(size=(16, 5)), rng.integers(0, 3, size=16)
    model = nl.MLP((8, 6), n_outputs=3, batchnorm=True, dtype="float64")
    model.compile(optimizer=nl.SGD(lr=0.1), l2=0.3)
    model.build((None, 5), seed=0)
    Y = model.loss.prepare_targets(y, 3, model.dtype)
    A = model.forward(X, training=True)
    model.backward(A, Y)
    plain = model._flat_grads.copy()
    A = model.forward(X, training=True)
    model.backward(A, Y, scale=0.01)
    np.testing.assert_allclose(model._flat_grads, 0.01 * plain, rtol=1e-10, atol=1e-15)
    assert np.abs(plain).max() > 0


def test_recompiling_with_another_loss_back_propagates_that_loss(rng):
    """The fused softmax + cross-entropy start is remembered per loss: a new loss must not reuse it."""
    X, y = rng.normal(size=(6, 4)), rng.integers(0, 3, size=6)

    def gradients(model):
        Y = model.loss.prepare_targets(np.eye(3)[y], 3, model.dtype)
        model.backward(model.forward(X, training=True), Y)
        return model._flat_grads.copy()

    model = nl.MLP((5,), n_outputs=3, dtype="float64").compile(loss="categorical_crossentropy")
    model.build((None, 4), seed=2)
    fused = gradients(model)
    model.compile(loss="mse")
    fresh = nl.MLP((5,), n_outputs=3, dtype="float64").compile(loss="mse")
    fresh.build((None, 4), seed=2)
    np.testing.assert_array_equal(gradients(model), gradients(fresh))
    assert not np.allclose(gradients(model), fused)


def test_sgd_training_equals_the_textbook_update_with_the_learning_rate_folded_in(rng):
    """fit() starts back propagation from lr * dZ; the weights must be those of w -= lr g."""
    X, y = rng.normal(size=(8, 4)), rng.integers(0, 2, size=8)
    model = nl.MLP((5,), n_outputs=2, dtype="float64")
    model.compile(optimizer=nl.SGD(lr=0.2), l2=0.1)
    model.build((None, 4), seed=1)
    twin = nl.MLP((5,), n_outputs=2, dtype="float64")
    twin.compile(optimizer=nl.SGD(lr=0.2), l2=0.1)
    twin.build((None, 4), seed=1)
    model.fit(X, y, epochs=1, batch_size=8, shuffle=False)
    Y = twin.loss.prepare_targets(y, 2, twin.dtype)
    twin.backward(twin.forward(X, training=True), Y)  # plain gradients, scale 1
    expected = twin._flat_params - 0.2 * twin._flat_grads
    np.testing.assert_allclose(model._flat_params, expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("copier", [copy.deepcopy, lambda m: pickle.loads(pickle.dumps(m))])
def test_a_copied_model_keeps_training_like_the_original(copier, rng):
    """Parameters are views into one packed buffer; a copy must be packed again."""
    X, y = rng.normal(size=(64, 5)), rng.integers(0, 3, size=64)
    model = nl.MLP((8,), n_outputs=3, batchnorm=True)
    model.compile(optimizer=nl.SGD(lr=0.1, momentum=0.9), l2=1e-3)
    model.fit(X, y, epochs=2, seed=0)
    twin = copier(model)
    model.fit(X, y, epochs=2, seed=1)
    twin.fit(X, y, epochs=2, seed=1)
    for a, b in zip(model.get_weights(), twin.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert np.shares_memory(twin.layers[0].params["kernel"], twin._flat_params)


def test_layers_are_named_per_type_in_order_even_after_the_list_is_changed():
    model = nl.Sequential([nl.Dense(2), nl.BatchNorm(), nl.Dense(3), nl.Dropout(0.1),
                           nl.Dense(1, name="out")])
    assert [l.name for l in model.layers] == ["dense_1", "batchnorm_1", "dense_2", "dropout_1",
                                              "out"]
    model.layers.pop()
    model.layers.pop(0)
    model.add(nl.Dense(4))  # two Dense left: dense_2 (named before) and this one
    assert model.layers[-1].name == "dense_2"


def test_naming_many_layers_is_linear():
    """20,000 layers: the old count over all earlier layers made 2e8 comparisons here."""
    model = nl.Sequential([nl.Dropout(0.0) for _ in range(20_000)])
    assert model.layers[-1].name == "dropout_20000" and model.layers[9].name == "dropout_10"


@pytest.mark.parametrize("batch_size", [-1, 0, True, 2.5])
def test_predict_and_evaluate_refuse_a_batch_size_that_is_not_a_whole_number(batch_size):
    X, y = np.random.default_rng(0).random((20, 3)).astype(np.float32), np.arange(20) % 2
    model = nl.MLP((4,), n_outputs=2)
    model.compile(metrics=["accuracy"])
    model.fit(X, y, epochs=1, seed=0)
    with pytest.raises(ValueError, match="batch_size must be None or a whole number >= 1"):
        model.predict(X, batch_size=batch_size)
    with pytest.raises(ValueError, match="batch_size must be None or a whole number >= 1"):
        model.evaluate(X, y, batch_size=batch_size)
    np.testing.assert_allclose(model.predict(X, batch_size=7), model.predict(X), rtol=1e-6)


def test_the_l2_penalty_is_recorded_apart_from_the_data_loss():
    rng = np.random.default_rng(0)
    X, y = rng.random((200, 5)).astype(np.float32), np.arange(200) % 3
    model = nl.MLP((8,), n_outputs=3)
    model.compile(l2=0.05, metrics=["accuracy"])
    h = model.fit(X, y, epochs=3, batch_size=32, validation_split=0.2, seed=0).history
    for prefix in ("", "val_"):
        total = np.add(h[f"{prefix}data_loss"], h[f"{prefix}l2_penalty"])
        np.testing.assert_allclose(total, h[f"{prefix}loss"], rtol=1e-12)
        assert min(h[f"{prefix}l2_penalty"]) > 0
    # the penalty is J's: lambda / (2m) sum ||W||^2, m the rows of a batch (a dev set)
    kernels = sum(float(np.sum(layer.params["kernel"].astype(np.float64) ** 2))
                  for layer in model.layers if "kernel" in layer.params)
    np.testing.assert_allclose(h["val_l2_penalty"][-1], 0.05 / (2 * 40) * kernels, rtol=1e-5)
    plain = nl.MLP((8,), n_outputs=3)
    plain.compile(metrics=["accuracy"])
    assert not {"data_loss", "l2_penalty"} & set(plain.fit(X, y, epochs=1).history)
    assert set(model.evaluate(X, y)) == {"loss", "accuracy"}
