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


def test_global_standardizer_uses_one_mean_and_std_over_every_feature(rng, tmp_path):
    from nlayer.preprocessing import GlobalStandardizer
    X = np.column_stack([rng.uniform(0, 1, 400), np.zeros(400), rng.uniform(0, 3, 400)])
    g = GlobalStandardizer().fit(X)
    np.testing.assert_allclose(g.shift, X.mean(), rtol=1e-12)
    np.testing.assert_allclose(g.scale, X.std(), rtol=1e-12)
    assert g.transform(X).mean() == pytest.approx(0, abs=1e-12)
    # a weight of 2 counts a row twice
    w = np.r_[np.full(200, 2.0), np.ones(200)]
    doubled = np.concatenate([X[:200], X])
    np.testing.assert_allclose(GlobalStandardizer().fit(X, sample_weight=w).scale,
                               doubled.std(), rtol=1e-12)
    # the column that is always 0 keeps 0 as "below the mean" as every other pixel would
    np.testing.assert_allclose(g.transform(X)[:, 1], -X.mean() / X.std(), rtol=1e-12)
    model = nl.MLP(hidden=(4,), n_outputs=2)
    model.compile(optimizer=nl.SGD(lr=0.1), normalize="global")
    model.fit(X, (X[:, 0] > 0.5).astype(int), epochs=1, seed=0)
    model.save(tmp_path / "m.nlayer")
    again = nl.load(tmp_path / "m.nlayer")
    assert again.normalizer.name == "global"
    np.testing.assert_array_equal(again.predict(X), model.predict(X))


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


def test_split_positions_are_four_byte_and_the_same_for_ids_and_their_names():
    """Small integer ids are counted without sorting (np.bincount), any other labels with
    np.unique: both give the same split, as 4-byte positions of the ascending rows."""
    ids = np.random.default_rng(3).integers(0, 10, 3_000_001).astype(np.uint8)
    ids[ids == 4] = 5  # a class absent: the classes present are counted, in order
    by_id = train_dev_split(ids.size, 0.1, np.random.default_rng(0), strata=ids)
    by_name = train_dev_split(ids.size, 0.1, np.random.default_rng(0), strata=ids.astype(str))
    for a, b in zip(by_id, by_name):
        np.testing.assert_array_equal(a, b)
        assert a.dtype == np.int32 and np.all(np.diff(a) > 0)
    assert by_id[0].size + by_id[1].size == ids.size
    assert np.bincount(ids[by_id[1]], minlength=10)[4] == 0


def test_split_is_seeded_and_rejects_bad_fractions():
    a = train_dev_split(50, 0.3, np.random.default_rng(1))
    b = train_dev_split(50, 0.3, np.random.default_rng(1))
    np.testing.assert_array_equal(a[1], b[1])
    for bad in (0.0, 1.0, -0.1):
        with pytest.raises(ValueError, match=r"\(0, 1\)"):
            train_dev_split(50, bad, np.random.default_rng(0))
    with pytest.raises(ValueError, match="empty"):
        train_dev_split(1, 0.5, np.random.default_rng(0))
    with pytest.raises(ValueError, match="test_size must be"):
        train_dev_split(50, 1.5, np.random.default_rng(0), name="test_size")


@pytest.mark.parametrize("n, fraction, expected", [(30, 0.1, 3), (10, 0.25, 3), (1000, 0.2, 200),
                                                   (7, 0.5, 4)])
def test_dev_size_is_the_ceiling_as_in_keras_and_scikit_learn(n, fraction, expected):
    for strata in (None, np.arange(n) % 3):
        train, dev = train_dev_split(n, fraction, np.random.default_rng(0), strata=strata)
        assert dev.size == expected and train.size == n - expected
        assert np.all(np.diff(train) > 0) and np.all(np.diff(dev) > 0)  # ascending, disjoint
        assert np.union1d(train, dev).tolist() == list(range(n))


def test_every_class_gets_its_share_to_within_one_row():
    rng = np.random.default_rng(5)
    y = rng.integers(0, 7, size=997) ** 2  # uneven classes, ids need not be 0..k-1
    train, dev = train_dev_split(y.size, 0.15, np.random.default_rng(1), strata=y)
    assert dev.size == 150
    for cls in np.unique(y):
        share = np.count_nonzero(y == cls) * 150 / y.size
        assert abs(np.count_nonzero(y[dev] == cls) - share) < 1


def test_no_class_gives_all_its_rows_to_the_development_set():
    y = np.array([0] * 10 + [1])
    train, dev = train_dev_split(11, 0.5, np.random.default_rng(0), strata=y)
    assert 1 in y[train] and 1 not in y[dev]


def test_one_hot():
    np.testing.assert_array_equal(one_hot([2, 0], 3), [[0, 0, 1], [1, 0, 0]])


@pytest.mark.parametrize("scaler", [nl.Standardizer, nl.MinMaxScaler])
def test_rows_whose_weights_are_all_zero_fit_no_normaliser(scaler):
    """No row counts: no statistics (MinMaxScaler raised AttributeError, Standardizer got
    0 / 0), but the error saying so."""
    with pytest.raises(ValueError, match="weights are all zero"):
        scaler().fit(np.ones((4, 2)), sample_weight=np.zeros(4))
