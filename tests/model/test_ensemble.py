"""nlayer.ensemble: K trained networks as one plain model whose output Z is their mean."""

import numpy as np
import pytest

import nlayer as nl


@pytest.fixture
def data(rng):
    X = rng.normal(loc=1.0, scale=3.0, size=(300, 6))
    return X, (X[:, 0] > 1).astype(int) + (X[:, 1] > 1)


def members(X, y, count=3, **mlp):
    out = []
    for seed in range(count):
        m = nl.MLP(**mlp)
        m.compile(optimizer=nl.SGD(lr=0.1, momentum=0.9), normalize="standard",
                  metrics=["accuracy"])
        m.fit(X[seed * 20:], y[seed * 20:], epochs=3, batch_size=32, seed=seed)
        out.append(m)  # each on other rows: each normaliser is its own
    return out


def mean_logits_softmax(models, X):
    logits = np.mean([np.log(m.predict(X).astype(np.float64)) for m in models], axis=0)
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("mlp", [{"hidden": (8,)}, {"hidden": (8, 5), "dropout": 0.1},
                                 {"hidden": (8, 5), "batchnorm": True}])
def test_the_merged_model_outputs_the_softmax_of_the_mean_logits(data, mlp, tmp_path):
    X, y = data
    models = members(X, y, **mlp)
    merged = nl.ensemble(models)
    np.testing.assert_allclose(merged.predict(X), mean_logits_softmax(models, X), atol=2e-6)
    assert [type(l) for l in merged.layers] == [type(l) for l in models[0].layers]
    hidden = [l.units for l in merged.layers if isinstance(l, nl.Dense)]
    assert hidden == [3 * u for u in mlp["hidden"]] + [3]
    merged.save(tmp_path / "ensemble.nlayer")  # a plain model: saved and read back
    np.testing.assert_array_equal(nl.load(tmp_path / "ensemble.nlayer").predict(X),
                                  merged.predict(X))


def test_members_of_other_widths_merge_and_regression_averages_predictions(data):
    X, _ = data
    y = 5 * X[:, 0] + 3
    models = []
    for seed, width in enumerate((8, 4, 6)):
        m = nl.MLP(hidden=(width,), output="linear")
        m.compile(optimizer=nl.SGD(lr=0.02), loss="mse", normalize="standard",
                  scale_targets=True)
        m.fit(X[seed * 20:], y[seed * 20:], epochs=3, seed=seed)
        models.append(m)
    merged = nl.ensemble(models)
    np.testing.assert_allclose(merged.predict(X),
                               np.mean([m.predict(X) for m in models], axis=0), rtol=1e-5,
                               atol=1e-4)


def test_members_that_are_not_alike_are_refused(data):
    X, y = data
    a, b = members(X, y, 2, hidden=(8,))
    with pytest.raises(ValueError, match="at least 2 trained models, got 1"):
        nl.ensemble([a])
    other = nl.MLP(hidden=(8,), activation="tanh")
    other.compile(optimizer=nl.SGD(lr=0.1), normalize="standard")
    other.fit(X, y, epochs=1, seed=0)
    with pytest.raises(ValueError, match="member 1 differs from member 0 in more than its "
                                         "layer widths"):
        nl.ensemble([a, other])
    untrained = nl.MLP(hidden=(8,))
    with pytest.raises(ValueError, match="member 1 is not a trained"):
        nl.ensemble([a, untrained])
