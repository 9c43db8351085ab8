import numpy as np
import pytest

import nlayer as nl
from nlayer.training import targets

rng = np.random.default_rng(0)
X = rng.normal(size=(60, 5))
Y_CLASS = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 1)
Y_BINARY = (X[:, 0] - X[:, 3] > 0).astype(int)
Y_VALUE = np.column_stack([X[:, 0] * X[:, 1], X[:, 2]])
W = rng.integers(0, 4, size=60)

CASES = {
    "softmax": (lambda: nl.Dense(3, activation="softmax"), Y_CLASS),
    "sigmoid": (lambda: nl.Dense(1, activation="sigmoid"), Y_BINARY),
    "linear": (lambda: nl.Dense(2), Y_VALUE),
}


def model(output, optimizer, l2=0.0, batchnorm=False):
    hidden = [nl.Dense(7, use_bias=False), nl.BatchNorm(), nl.Activation("tanh")] if batchnorm \
        else [nl.Dense(7, activation="tanh")]
    m = nl.Sequential([*hidden, output()], dtype="float64")
    metrics = ["accuracy"] if output().activation.name != "linear" else ["mae", "r2"]
    m.compile(optimizer=optimizer, l2=l2, metrics=metrics)
    return m


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("optimizer", [lambda: nl.SGD(lr=0.1, momentum=0.9), lambda: nl.Adam(0.01)])
def test_integer_weights_equal_repeated_rows(case, optimizer):
    """Holds exactly only for full batches without shuffling: with mini-batches the
    repeated rows would fall into other batches (scikit-learn's own check is run on
    its MLP with settings of the same kind)."""
    output, y = CASES[case]
    weighted = model(output, optimizer(), l2=0.05)
    weighted.fit(X, y, sample_weight=W, epochs=15, batch_size=1000, shuffle=False, seed=0)
    repeated = model(output, optimizer(), l2=0.05)
    repeated.fit(np.repeat(X, W, axis=0), np.repeat(y, W, axis=0), epochs=15, batch_size=1000,
                 shuffle=False, seed=0)
    for a, b in zip(weighted.get_weights(), repeated.get_weights()):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-10)
    for key, values in weighted.history.history.items():
        if key != "seconds":
            np.testing.assert_allclose(values, repeated.history.history[key], rtol=1e-10)
    scores = weighted.evaluate(X, y, sample_weight=W)
    again = weighted.evaluate(np.repeat(X, W, axis=0), np.repeat(y, W, axis=0))
    assert scores == pytest.approx(again, rel=1e-12)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("batchnorm", [False, True])
def test_gradients_of_the_weighted_loss_are_right(case, batchnorm):
    output, y = CASES[case]
    m = model(output, "sgd", l2=0.3, batchnorm=batchnorm)
    weights = rng.uniform(0, 3, size=20)
    assert nl.check_gradients(m, X[:20], y[:20], sample_weight=weights) < 1e-7


def test_rows_of_weight_zero_teach_nothing():
    """Weights that were ignored would pass the gradient check too; this would not."""
    weighted = model(CASES["softmax"][0], "sgd")
    weighted.fit(X[:20], Y_CLASS[:20], epochs=2, batch_size=20, shuffle=False, seed=0,
                 sample_weight=np.r_[np.ones(10), np.zeros(10)])
    first = model(CASES["softmax"][0], "sgd")
    first.fit(X[:10], Y_CLASS[:10], epochs=2, batch_size=20, shuffle=False, seed=0)
    for a, b in zip(weighted.get_weights(), first.get_weights()):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-15)


def test_balanced_class_weight_is_scikit_learns():
    utils = pytest.importorskip("sklearn.utils.class_weight")
    y = np.array([0] * 50 + [1] * 8 + [2] * 2)
    expected = utils.compute_class_weight("balanced", classes=np.arange(3), y=y)
    m = model(CASES["softmax"][0], "sgd")
    Y = m.loss.prepare_targets(y, 3, m.dtype)
    np.testing.assert_allclose(targets.class_weights(m, Y, "balanced"), expected)
    np.testing.assert_allclose(targets.class_weights(m, Y, {2: 5.0}), [1, 1, 5])


def test_balanced_class_weight_lifts_the_minority_class():
    r = np.random.default_rng(1)
    Xi = r.normal(size=(1000, 2))
    yi = (Xi[:, 0] + 0.5 * r.normal(size=1000) > 1.6).astype(int)  # about 6 % positives
    recalls = {}
    for cw in (None, "balanced"):
        m = nl.MLP(hidden=(8,), output="softmax", n_outputs=2)
        m.compile(optimizer=nl.SGD(lr=0.1, momentum=0.9), metrics=["accuracy"])
        m.fit(Xi, yi, epochs=20, batch_size=50, seed=0, class_weight=cw)
        recalls[cw] = (m.predict(Xi).argmax(axis=1)[yi == 1] == 1).mean()
    assert recalls["balanced"] > recalls[None] + 0.2


def test_weighted_evaluate_matches_the_formula():
    m = model(CASES["softmax"][0], "sgd")
    m.fit(X, Y_CLASS, epochs=3, seed=0)
    w = rng.uniform(0, 2, size=60)
    A = m.predict(X)
    losses = -np.log(A[np.arange(60), Y_CLASS])
    hits = A.argmax(axis=1) == Y_CLASS
    scores = m.evaluate(X, Y_CLASS, sample_weight=w)
    assert scores["loss"] == pytest.approx(np.sum(w * losses) / w.sum(), rel=1e-12)
    assert scores["accuracy"] == pytest.approx(np.sum(w * hits) / w.sum(), rel=1e-12)


def test_development_rows_keep_their_weights():
    m = model(CASES["softmax"][0], "sgd")
    w = np.where(Y_CLASS == 0, 0.0, 1.0)
    h = m.fit(X, Y_CLASS, epochs=2, validation_split=0.3, seed=0, sample_weight=w)
    dev = m.evaluate(X, Y_CLASS, sample_weight=w)  # not the same rows, but class 0 never counts
    assert np.isfinite(h.history["val_loss"]).all() and np.isfinite(dev["loss"])


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(sample_weight=-W), ValueError, "sample_weight must be finite and >= 0"),
    (dict(sample_weight=W[:10]), ValueError, r"sample_weight must be 60 numbers >= 0, one per row"),
    (dict(sample_weight=np.zeros(60)), ValueError, "the row weights are all zero"),
    (dict(sample_weight=np.full(60, np.nan)), ValueError, "must be finite"),
    (dict(class_weight="even"), ValueError, "class_weight must be 'balanced', a dict"),
    (dict(class_weight=[1, 2, 3]), TypeError, "class_weight must be 'balanced', a dict"),
    (dict(class_weight={3: 1.0}), ValueError, r"class_weight key 3 is not a class id in 0..2"),
    (dict(class_weight={1: -1.0}), ValueError, r"class_weight\[1\] must be a finite number >= 0"),
])
def test_bad_weights_are_named(kwargs, error, message):
    with pytest.raises(error, match=message):
        model(CASES["softmax"][0], "sgd").fit(X, Y_CLASS, **kwargs)


def test_class_weight_is_for_classification():
    with pytest.raises(ValueError, match="class_weight is for classification"):
        model(CASES["linear"][0], "sgd").fit(X, Y_VALUE, class_weight="balanced")


def test_a_resume_with_other_weights_is_refused(tmp_path):
    path = tmp_path / "ck.nlayer"

    class Stop(nl.Callback):
        def on_batch_end(self, batch, logs=None):
            self.model.stop_training = True

    m = model(CASES["softmax"][0], "sgd")
    m.fit(X, Y_CLASS, epochs=3, batch_size=10, seed=0, sample_weight=W,
          callbacks=[nl.ModelCheckpoint(path), Stop()])
    with pytest.raises(ValueError, match="the training data differs"):
        model(CASES["softmax"][0], "sgd").fit(X, Y_CLASS, epochs=3, batch_size=10,
                                              sample_weight=W + 1, resume_from=path,
                                              callbacks=[nl.ModelCheckpoint(path)])


@pytest.mark.parametrize("normalize", ["standard", "minmax"])
def test_normalisers_and_target_scaling_count_weighted_rows(normalize):
    """A row of weight w counts w times in the statistics too, so the equivalence holds
    with input normalisation and standardised targets."""
    y = Y_VALUE[:, 0] * 100 + 50

    def fit(X_, y_, w=None):
        m = nl.Sequential([nl.Dense(6, activation="tanh"), nl.Dense(1)], dtype="float64")
        m.compile(optimizer=nl.SGD(0.05, momentum=0.9), l2=0.01, normalize=normalize,
                  scale_targets=True)
        m.fit(X_, y_, sample_weight=w, epochs=10, batch_size=1000, shuffle=False, seed=0)
        return m

    weighted, repeated = fit(X, y, W), fit(np.repeat(X, W, axis=0), np.repeat(y, W))
    np.testing.assert_allclose(weighted.normalizer.shift, repeated.normalizer.shift, atol=1e-12)
    np.testing.assert_allclose(weighted.normalizer.scale, repeated.normalizer.scale, atol=1e-12)
    np.testing.assert_allclose(weighted.predict(X), repeated.predict(X), rtol=1e-10)
