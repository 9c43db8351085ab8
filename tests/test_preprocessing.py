import numpy as np
import pytest

import nlayer as nl
from nlayer.preprocessing import get_normalizer, one_hot, train_dev_split


def test_standardizer_zero_mean_unit_variance_and_constant_features(rng):
    X = np.column_stack([rng.normal(5, 3, size=500), np.full(500, 7.0)])
    s = nl.Standardizer().fit(X)
    Xs = s.transform(X)
    np.testing.assert_allclose(Xs[:, 0].mean(), 0, atol=1e-12)
    np.testing.assert_allclose(Xs[:, 0].std(), 1, rtol=1e-12)
    np.testing.assert_array_equal(Xs[:, 1], 0.0)  # constant column: no division by zero
    np.testing.assert_allclose(s.inverse_transform(Xs), X)


def test_minmax_maps_training_range_to_unit_interval(rng):
    X = rng.uniform(-3, 9, size=(100, 3))
    m = nl.MinMaxScaler().fit(X)
    Xm = m.transform(X)
    np.testing.assert_allclose(Xm.min(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(Xm.max(axis=0), 1)


def test_transform_keeps_float32():
    X = np.ones((3, 2), dtype=np.float32)
    assert nl.Standardizer().fit(X).transform(X).dtype == np.float32


def test_transform_errors():
    with pytest.raises(RuntimeError, match="not fitted"):
        nl.Standardizer().transform(np.ones((2, 2)))
    s = nl.Standardizer().fit(np.ones((2, 2)))
    with pytest.raises(ValueError, match="3 features but the normaliser was fit on 2"):
        s.transform(np.ones((2, 3)))
    with pytest.raises(ValueError, match="unknown normalize 'robust'"):
        get_normalizer("robust")


def test_stratified_split_keeps_class_shares():
    y = np.array([0] * 90 + [1] * 10)
    train, dev = train_dev_split(100, 0.2, np.random.default_rng(0), strata=y)
    assert np.bincount(y[dev]).tolist() == [18, 2]
    assert sorted(np.concatenate([train, dev]).tolist()) == list(range(100))


def test_split_is_seeded_and_rejects_bad_fractions():
    a = train_dev_split(50, 0.3, np.random.default_rng(1))
    b = train_dev_split(50, 0.3, np.random.default_rng(1))
    np.testing.assert_array_equal(a[1], b[1])
    for bad in (0.0, 1.0, -0.1):
        with pytest.raises(ValueError, match=r"\(0, 1\)"):
            train_dev_split(50, bad, np.random.default_rng(0))
    with pytest.raises(ValueError, match="empty"):
        train_dev_split(2, 0.1, np.random.default_rng(0))


def test_one_hot():
    np.testing.assert_array_equal(one_hot([2, 0], 3), [[0, 0, 1], [1, 0, 0]])
