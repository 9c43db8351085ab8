import numpy as np
import pytest

import nlayer as nl
from nlayer import layers


def built(layer, n_in, dtype=np.float64, seed=0):
    layer.name = layer.name or "layer"
    layer.build(n_in, np.dtype(dtype), np.random.default_rng(seed))
    return layer


def test_dense_forward_is_affine_then_activation(rng):
    d = built(nl.Dense(3, activation="relu"), 4)
    X = rng.normal(size=(5, 4))
    d.params["bias"][:] = [0.1, -0.2, 0.3]
    np.testing.assert_allclose(d.forward(X), np.maximum(X @ d.params["kernel"] + d.params["bias"], 0))
    assert d.params["kernel"].shape == (4, 3) and d.params["bias"].shape == (3,)


def test_dense_biases_start_at_zero():
    d = built(nl.Dense(7), 3)
    np.testing.assert_array_equal(d.params["bias"], np.zeros(7))


def test_dense_backward_formulas(rng):
    d = built(nl.Dense(3), 4)
    d.l2 = 0.5
    X, dZ = rng.normal(size=(6, 4)), rng.normal(size=(6, 3))
    d.forward(X, training=True)
    dA_prev = d.backward(dZ)
    W = d.params["kernel"]
    np.testing.assert_allclose(d.grads["kernel"], X.T @ dZ + 0.5 / 6 * W)
    np.testing.assert_allclose(d.grads["bias"], dZ.sum(axis=0))
    np.testing.assert_allclose(dA_prev, dZ @ W.T)
    assert d.backward(dZ, need_dA_prev=False) is None


def test_dense_without_bias_has_only_a_kernel():
    d = built(nl.Dense(3, use_bias=False), 2)
    assert list(d.params) == ["kernel"] and d.count_params() == 6


def test_batchnorm_normalises_in_training_and_uses_moving_stats_at_inference(rng):
    bn = built(nl.BatchNorm(momentum=0.9), 3)
    Z = rng.normal(loc=5.0, scale=3.0, size=(200, 3))
    out = bn.forward(Z, training=True)
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-10)
    np.testing.assert_allclose(out.var(axis=0), Z.var(axis=0) / (Z.var(axis=0) + 1e-3), rtol=1e-10)
    np.testing.assert_allclose(bn.params["moving_mean"], 0.1 * Z.mean(axis=0))
    np.testing.assert_allclose(bn.params["moving_variance"], 0.9 + 0.1 * Z.var(axis=0))
    inf = bn.forward(Z, training=False)
    expected = (Z - bn.params["moving_mean"]) / np.sqrt(bn.params["moving_variance"] + 1e-3)
    np.testing.assert_allclose(inf, expected)


def test_batchnorm_backward_matches_finite_differences(rng):
    bn = built(nl.BatchNorm(), 3)
    bn.params["gamma"][:] = [0.5, 2.0, -1.0]
    bn.params["beta"][:] = [0.1, 0.0, 0.3]
    Z, dout = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    bn.forward(Z, training=True)
    dZ = bn.backward(dout.copy())  # backward overwrites its input
    eps, numeric = 1e-6, np.zeros_like(Z)

    def out(z):
        mu, var = z.mean(0), z.var(0)
        return ((z - mu) / np.sqrt(var + 1e-3)) * bn.params["gamma"] + bn.params["beta"]
    for idx in np.ndindex(Z.shape):
        Zp, Zm = Z.copy(), Z.copy()
        Zp[idx] += eps
        Zm[idx] -= eps
        numeric[idx] = np.sum(dout * (out(Zp) - out(Zm))) / (2 * eps)
    np.testing.assert_allclose(dZ, numeric, rtol=1e-6, atol=1e-9)
    Z_hat = (Z - Z.mean(0)) / np.sqrt(Z.var(0) + 1e-3)
    np.testing.assert_allclose(bn.grads["gamma"], np.sum(dout * Z_hat, axis=0))
    np.testing.assert_allclose(bn.grads["beta"], dout.sum(axis=0))


def test_dropout_is_inverted_and_off_at_inference(rng):
    drop = built(nl.Dropout(0.25), 1000)
    X = np.ones((200, 1000))
    out = drop.forward(X, training=True, rng=np.random.default_rng(0))
    kept = out != 0
    assert kept.mean() == pytest.approx(0.75, abs=0.01)
    np.testing.assert_allclose(out[kept], 1 / 0.75)
    assert out.mean() == pytest.approx(1.0, abs=0.01)  # expected activation unchanged
    np.testing.assert_array_equal(drop.backward(np.ones_like(X)), out)
    assert drop.forward(X, training=False) is X


def test_set_weights_checks_shapes():
    d = built(nl.Dense(3), 2)
    with pytest.raises(ValueError, match=r"kernel: expected shape \(2, 3\), got \(3, 2\)"):
        d.set_weights([np.zeros((3, 2)), np.zeros(3)])
    with pytest.raises(ValueError, match="expects 2 arrays"):
        d.set_weights([np.zeros((2, 3))])


@pytest.mark.parametrize("make, match", [
    (lambda: nl.Dense(0), "positive integer"),
    (lambda: nl.Dropout(1.0), r"\[0, 1\)"),
    (lambda: nl.BatchNorm(momentum=1.5), "momentum"),
    (lambda: nl.Dense(3, activation="swish"), "unknown activation 'swish'"),
])
def test_bad_layer_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_config_round_trip():
    for layer in (nl.Dense(4, activation={"name": "leaky_relu", "alpha": 0.2}, init="xavier",
                           use_bias=False, name="d"),
                  nl.BatchNorm(momentum=0.9, epsilon=1e-5, name="bn"), nl.Dropout(0.3, name="x"),
                  nl.Activation("tanh", name="a")):
        again = layers.from_config(layer.get_config())
        assert again.get_config() == layer.get_config()


@pytest.mark.parametrize("make", [lambda: layers.Dense(5), lambda: layers.Dense(5, use_bias=False),
                                  lambda: layers.BatchNorm(), lambda: layers.Dropout(0.5),
                                  lambda: layers.Activation("relu")])
def test_weight_shapes_are_what_build_allocates(make):
    layer = make()
    shapes, width = layer.weight_shapes(7)
    assert layer.params == {}  # nothing allocated
    assert width == layer.build(7, np.float32, np.random.default_rng(0))
    assert shapes == [(k, layer.params[k].shape) for k in layer.weight_names]


@pytest.mark.parametrize("make, words", [
    (lambda: layers.Dense(True), "Dense units must be a positive integer, got True"),
    (lambda: layers.Dropout(0.99999999), "rounds to 1 at dropout's resolution of 1/65536"),
])
def test_arguments_that_would_train_something_else_are_refused(make, words):
    with pytest.raises(ValueError, match=words):
        make()


def test_the_largest_dropout_rate_still_passes_some_units():
    drop = layers.Dropout(65535 / 65536)
    A = np.ones((64, 1024), dtype=np.float32)
    out = drop.forward(A, training=True, rng=np.random.default_rng(0))
    assert np.isfinite(out).all() and 0 < (out > 0).sum() < A.size


def test_batch_norm_refuses_batches_of_one_row():
    X, y = np.random.default_rng(0).random((10, 3)).astype(np.float32), np.arange(10) % 2
    model = nl.MLP((4,), n_outputs=2, batchnorm=True)
    model.compile()
    with pytest.raises(ValueError, match="batches of 1 row leave nothing to normalise"):
        model.fit(X, y, epochs=1, batch_size=1)
    model.fit(X, y, epochs=1, batch_size=2, seed=0)  # two rows are enough


class BatchSizes(nl.Callback):
    def __init__(self):
        self.sizes = []

    def on_batch_end(self, batch, logs=None):
        self.sizes.append(logs["size"])


@pytest.mark.parametrize("batchnorm, sizes", [(True, [32, 33]), (False, [32, 32, 1])])
def test_a_last_batch_of_one_row_joins_the_one_before_under_batch_norm(batchnorm, sizes):
    """Alone, the row would be its own mean: nothing learned, and a variance of 0 pulling
    the moving variance down. Without batch norm the batches stay as they are."""
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(65, 3)).astype(np.float32), np.arange(65) % 2
    model = nl.MLP((4,), n_outputs=2, batchnorm=batchnorm)
    model.compile()
    recorder = BatchSizes()
    history = model.fit(X, y, epochs=2, batch_size=32, seed=0, callbacks=[recorder])
    assert recorder.sizes == sizes * 2 and history.params["steps"] == len(sizes)
