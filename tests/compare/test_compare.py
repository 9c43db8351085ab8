"""nlayer.compare: the same network trained in nlayer, Keras, PyTorch and scikit-learn.

The agreement tests run one epoch in float64 from identical weights over
identical batches and require every parameter to match nlayer's to a relative
error below 1e-6 (``max|a - b| / max(max|b|, 1e-12)`` per array).
"""

import numpy as np
import pytest

from nlayer import compare as C

TOL = 1e-6
MODULE = {"keras": "keras", "pytorch": "torch", "sklearn": "sklearn"}


def require(peer):
    """Skip unless the peer's library can be imported."""
    pytest.importorskip(MODULE[peer])


def synthetic(n, n_features=64, n_classes=10, seed=0):
    """Standardised Gaussian inputs with labels from a random linear teacher."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_features))
    teacher = rng.normal(size=(n_features, n_classes))
    y = np.argmax(X @ teacher + rng.normal(scale=2.0, size=(n, n_classes)), axis=1)
    return X, y


@pytest.fixture(scope="module")
def data():
    """Train rows (first 256), a dev set and a test set."""
    X, y = synthetic(256 + 96 + 96)
    return X[:256], y[:256], X[256:352], y[256:352], X[352:], y[352:]


@pytest.fixture(scope="module")
def std_digits():
    """scikit-learn's digits, standardised with the training rows' statistics."""
    datasets = pytest.importorskip("sklearn.datasets")
    X, y = datasets.load_digits(return_X_y=True)
    order = np.random.default_rng(1).permutation(len(X))
    X, y = X[order], y[order]
    tr, dev = slice(0, 1200), slice(1200, 1440)
    mu, sd = X[tr].mean(axis=0), X[tr].std(axis=0) + 1e-8
    X = (X - mu) / sd
    return X[tr], y[tr], X[dev], y[dev], X[1440:], y[1440:]


def spec64(**kw):
    """64 -> 32 -> 16 -> 10, SGD lr 0.05 momentum 0.9, l2 1e-3, batch 32, one epoch, float64."""
    base = dict(hidden=(32, 16), activation="relu", lr=0.05, momentum=0.9, l2=1e-3,
                batch_size=32, epochs=1, seed=3, dtype="float64")
    base.update(kw)
    return C.ComparisonSpec(**base)


def run_pair(peer, spec, data, n_train=None):
    X, y, Xd, yd, Xt, yt = data
    if n_train is not None:
        X, y = X[:n_train], y[:n_train]
    nl_res, peer_res = C.run_comparison(spec, X, y, Xd, yd, Xt, yt, peers=("nlayer", peer),
                                        torch_threads=1)
    assert nl_res.ok, nl_res.note
    assert peer_res.ok, peer_res.note
    return nl_res, peer_res


def named_errors(result, reference):
    return dict(zip(reference.weight_names, C.rel_errors(result.weights, reference.weights)))


# ---------------------------------------------------------------------------
# Agreement after one epoch (float64, identical weights and batches)
# ---------------------------------------------------------------------------
CASES = {
    # 256 rows / batch 32: eight equal batches
    "relu": (dict(activation="relu"), 256),
    "tanh-nesterov": (dict(activation="tanh", nesterov=True), 256),
    # 240 rows: seven batches of 32 and a last one of 16, whose L2 term uses m = 16
    "relu-partial-batch": (dict(activation="relu"), 240),
}


@pytest.mark.parametrize("peer", ["keras", "pytorch", "sklearn"])
@pytest.mark.parametrize("case", list(CASES))
def test_first_epoch_agreement(peer, case, data):
    require(peer)
    kw, n_train = CASES[case]
    spec = spec64(**kw)
    nl_res, res = run_pair(peer, spec, data, n_train)
    errors = named_errors(res, nl_res)
    assert max(errors.values()) < TOL, errors
    # the weights really moved from the shared start, and the bookkeeping agrees as well
    initial = C.build_model(spec, 64, 10).get_weights()
    assert min(C.rel_errors(nl_res.weights, initial)) > 1e-3
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        np.testing.assert_allclose(res.history[key], nl_res.history[key], rtol=1e-9)
    assert res.test_loss == pytest.approx(nl_res.test_loss, rel=1e-9)
    assert res.test_accuracy == nl_res.test_accuracy


@pytest.mark.parametrize("peer", ["keras", "pytorch"])
def test_first_epoch_agreement_batchnorm(peer, data):
    require(peer)
    nl_res, res = run_pair(peer, spec64(batchnorm=True), data, 256)
    errors = named_errors(res, nl_res)
    trainable = {k: v for k, v in errors.items() if not k.endswith("moving_variance")}
    # kernels, output bias, gamma, beta and moving_mean follow the same arithmetic
    assert max(trainable.values()) < TOL, errors
    assert any(k.endswith("/gamma") for k in errors) and any(k.endswith("/beta") for k in errors)
    moving_var = [i for i, k in enumerate(nl_res.weight_names) if k.endswith("moving_variance")]
    for i in moving_var:
        ref, got = nl_res.weights[i], res.weights[i]
        if peer == "keras":
            # Keras, like nlayer, averages the biased batch variance mean((Z - mu)^2)
            assert C.rel_errors([got], [ref])[0] < TOL
        else:
            # PyTorch's running_var averages the unbiased m/(m-1) variance: it must come
            # out a little larger everywhere, never equal
            assert np.all(got > ref)
            assert C.rel_errors([got], [ref])[0] < 0.05
    if peer == "pytorch":
        assert "running_var" in res.note


def test_sklearn_cannot_represent_batchnorm(data):
    require("sklearn")
    X, y, Xd, yd, Xt, yt = data
    (res,) = C.run_comparison(spec64(batchnorm=True), X, y, Xd, yd, Xt, yt, peers=("sklearn",))
    assert not res.available and "batch normalisation" in res.note


@pytest.mark.parametrize("peer", ["keras", "pytorch", "sklearn"])
def test_regression_agreement(peer):
    """Linear output + MSE with two targets (sklearn needs lr and alpha rescaled for this)."""
    require(peer)
    rng = np.random.default_rng(5)
    X = rng.normal(size=(320, 12))
    Y = np.tanh(X @ rng.normal(size=(12, 2)) / 3) + 0.1 * rng.normal(size=(320, 2))
    data = (X[:240], Y[:240], X[240:280], Y[240:280], X[280:], Y[280:])
    spec = C.ComparisonSpec(hidden=(16, 8), activation="tanh", output="linear", lr=0.02,
                            momentum=0.9, l2=1e-2, batch_size=32, epochs=1, seed=0,
                            dtype="float64")
    nl_res, res = run_pair(peer, spec, data)
    assert max(C.rel_errors(res.weights, nl_res.weights)) < TOL
    assert res.test_mse == pytest.approx(nl_res.test_mse, rel=1e-9)
    assert res.test_accuracy is None and res.test_r2 is not None


@pytest.mark.parametrize("peer", ["keras", "pytorch", "sklearn"])
def test_early_stopping_same_rule(peer, data):
    """A learning rate large enough to overshoot: every peer stops after the same epoch
    and restores the same best epoch's weights."""
    require(peer)
    spec = spec64(lr=0.3, epochs=8, patience=2)
    nl_res, res = run_pair(peer, spec, data, 240)
    assert nl_res.epochs_run < spec.epochs  # it did stop early
    assert (res.epochs_run, res.best_epoch) == (nl_res.epochs_run, nl_res.best_epoch)
    np.testing.assert_allclose(res.history["val_loss"], nl_res.history["val_loss"], rtol=1e-6)
    assert max(C.rel_errors(res.weights, nl_res.weights)) < TOL


# ---------------------------------------------------------------------------
# Weight interchange
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("batchnorm", [False, True])
def test_keras_weights_load_into_nlayer(batchnorm):
    keras = pytest.importorskip("keras")
    X, y = synthetic(200, n_features=20, n_classes=4, seed=2)
    X = X.astype(np.float32)
    spec = C.ComparisonSpec(hidden=(24, 12), activation="tanh", batchnorm=batchnorm,
                            dtype="float32", seed=0)
    model = C.build_model(spec, 20, 4)
    km = C.build_keras_model(model)  # Keras's own random initialisation
    if batchnorm:
        km.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1),
                   loss="categorical_crossentropy")
        km.fit(X, np.eye(4, dtype=np.float32)[y], batch_size=16, epochs=2, verbose=0)
    weights = km.get_weights()
    if batchnorm:  # moving statistics are no longer the initial 0 and 1
        names = C.weight_names(model)
        assert np.abs(weights[names.index("batchnorm_1/moving_mean")]).max() > 1e-2
        assert np.abs(weights[names.index("batchnorm_1/moving_variance")] - 1).max() > 1e-2
    model.set_weights(weights)
    expected = keras.ops.convert_to_numpy(km(X, training=False))
    np.testing.assert_allclose(model.predict(X), expected, atol=1e-5)


def test_torch_weights_round_trip():
    torch = pytest.importorskip("torch")
    spec = C.ComparisonSpec(hidden=(8,), batchnorm=True, dtype="float64", seed=4)
    model = C.build_model(spec, 5, 3)
    weights = [w + 0.1 * np.arange(w.size).reshape(w.shape) for w in model.get_weights()]
    model.set_weights(weights)
    module = C.build_torch_model(model)
    C.torch_set_weights(module, weights)
    assert max(C.rel_errors(C.torch_get_weights(module), weights)) == 0.0
    X = np.random.default_rng(0).normal(size=(10, 5))
    module.eval()
    with torch.no_grad():
        probs = torch.softmax(module(torch.from_numpy(X)), dim=1).numpy()
    np.testing.assert_allclose(probs, model.predict(X), rtol=1e-12, atol=1e-14)
    for wrong in (weights[:-1], [*weights, weights[0]]):  # too few was a bare StopIteration
        with pytest.raises(ValueError, match=f"holds {len(weights)} weight arrays, got "
                                             f"{len(wrong)}"):
            C.torch_set_weights(module, wrong)


# ---------------------------------------------------------------------------
# The whole comparison
# ---------------------------------------------------------------------------
def test_run_comparison_smoke_digits(std_digits):
    spec = C.ComparisonSpec(hidden=(64, 32), activation="relu", lr=0.05, momentum=0.9,
                            l2=1e-4, batch_size=32, epochs=3, patience=2, seed=0)
    events = []
    results = C.run_comparison(spec, *std_digits, torch_threads=1,
                               progress=lambda peer, epoch, logs: events.append((peer, epoch)))
    assert [r.name for r in results] == list(C.PEERS)
    notes = C.available_peers()
    for r in results:
        assert r.available == (notes[r.name] is None), (r.name, r.note)
        if not r.available:
            assert r.note
            continue
        assert r.ok, r.note
        assert r.test_accuracy > 0.8, (r.name, r.test_accuracy)
        assert r.test_loss > 0 and r.test_mse is None
        assert 1 <= r.best_epoch <= r.epochs_run <= spec.epochs
        for key in ("loss", "accuracy", "val_loss", "val_accuracy", "seconds"):
            assert len(r.history[key]) == r.epochs_run, key
        assert r.seconds_per_epoch > 0 and r.total_seconds >= r.seconds_per_epoch
        assert len(r.weights) == len(r.weight_names) == 6
        assert (r.name, 0) in events and (r.name, r.epochs_run) in events
    ran = [r for r in results if r.ok]
    nl_res = ran[0]
    for r in ran[1:]:  # float32 over three epochs: close, not bit-equal
        assert abs(r.test_accuracy - nl_res.test_accuracy) <= 0.01


def test_missing_and_unknown_peers_are_reported(monkeypatch, data):
    def fake_available():
        notes = {p: None for p in C.PEERS}
        notes["pytorch"] = 'torch not installed: pip install "nlayer[compare]"'
        return notes

    # patched where run_comparison looks it up
    monkeypatch.setattr(C.runner, "available_peers", fake_available)
    X, y, Xd, yd, Xt, yt = data
    results = C.run_comparison(spec64(epochs=2), X, y, Xd, yd, Xt, yt,
                               peers=("nlayer", "pytorch", "jax"))
    nl_res, torch_res, unknown = results
    assert nl_res.ok and nl_res.epochs_run == 2
    assert not torch_res.available and "pip install" in torch_res.note
    assert torch_res.test_loss is None and torch_res.weights == []
    assert not unknown.available and "unknown peer 'jax'" in unknown.note


def test_available_peers_shape():
    notes = C.available_peers()
    assert set(notes) == set(C.PEERS) and notes["nlayer"] is None
    assert all(v is None or isinstance(v, str) for v in notes.values())


def test_spec_validation(data):
    with pytest.raises(ValueError, match="activation"):
        C.ComparisonSpec(activation="swish")
    with pytest.raises(ValueError, match="output"):
        C.ComparisonSpec(output="sigmoid")
    with pytest.raises(ValueError, match="nesterov"):
        C.ComparisonSpec(momentum=0.0, nesterov=True)
    assert C.ComparisonSpec(hidden=7).hidden == (7,)
    X, y, _, _, Xt, yt = data
    with pytest.raises(ValueError, match="development set"):
        C.run_comparison(C.ComparisonSpec(patience=1), X, y, None, None, Xt, yt,
                         peers=("nlayer",))


def test_scores_shared_definition():
    Y = np.eye(3)[[0, 1, 2, 1]]
    P = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6], [0.6, 0.3, 0.1]])
    W = [np.ones((2, 3)), 2 * np.ones((3, 3))]
    out = C.scores(True, P, Y, W, l2=0.5)
    ce = -np.mean(np.log([0.7, 0.8, 0.6, 0.3]))
    assert out["loss"] == pytest.approx(ce + 0.5 / (2 * 4) * (6 + 36))
    assert out["accuracy"] == 0.75


def test_a_peer_result_prints_in_one_short_line():
    from nlayer.compare.spec import PeerResult
    text = repr(PeerResult("nlayer", True, history={"loss": [0.5] * 200}, weights=[np.zeros(9)]))
    assert text.startswith("PeerResult(name='nlayer'") and "0.5" not in text and len(text) < 300
