"""nlayer.targets: labels as the loss's Y, the output width, class ids and row weights."""

import numpy as np
import pytest

import nlayer as nl
from nlayer.training import targets
from nlayer.training.order import RowsBut


def model(output="softmax", units=None, loss=None):
    m = nl.Sequential([nl.Dense(4, activation="relu"), nl.Dense(units, activation=output)])
    m.compile(optimizer="sgd", loss=loss)
    return m


def test_check_rows_names_the_problem():
    X = np.zeros((3, 2))
    with pytest.raises(ValueError, match="y is None; pass the targets"):
        targets.check_rows(None, X)
    with pytest.raises(ValueError, match="X has 3 rows but y has 2; they must match"):
        targets.check_rows([0, 1], X)
    targets.check_rows([0, 1, 1], X)


def test_prepare_one_hot_and_the_width_check():
    m = model(units=3)
    Y = targets.prepare(m, np.array([2, 0, 1]))
    np.testing.assert_array_equal(Y, np.eye(3)[[2, 0, 1]])
    assert Y.dtype == np.float32
    with pytest.raises(ValueError, match="targets have 3 columns but the output layer has 2 units"):
        targets.prepare(model(units=2, output="linear", loss="mse"), np.ones((4, 3)))


def test_an_unsized_output_takes_the_width_of_y_and_needs_two_classes():
    m = model()
    targets.infer_output_units(m, targets.prepare_rows(m, np.array([0, 3, 1])))
    assert m.layers[-1].units == 4
    with pytest.raises(ValueError, match=r"y holds a single class \(2\); a classifier needs "
                                         "at least two classes"):
        unsized = model()
        targets.infer_output_units(unsized, targets.prepare_rows(unsized, np.array([2, 2, 2])))


def test_strata_are_class_ids_and_none_for_regression():
    y = np.array([1, 0, 2, 2])
    m = model(units=3)
    np.testing.assert_array_equal(targets.strata(m, targets.prepare(m, y)), y)
    binary = model(output="sigmoid", units=1)
    Yb = targets.prepare(binary, np.array([1, 0, 1]))
    np.testing.assert_array_equal(targets.strata(binary, Yb), [1, 0, 1])
    assert targets.strata(model(output="linear", units=1, loss="mse"), np.ones((3, 1))) is None


def test_row_weights_combine_sample_and_class_weights():
    m = model(units=2)
    Y = targets.prepare(m, np.array([0, 1, 1, 1]))
    per_class = targets.class_weights(m, Y, "balanced")  # 4 / (2 * [1, 3])
    np.testing.assert_allclose(per_class, [2.0, 2 / 3])
    W = targets.row_weights(m, Y, np.array([1.0, 1.0, 2.0, 0.0]), per_class)
    np.testing.assert_allclose(W, [2.0, 2 / 3, 4 / 3, 0.0], rtol=1e-6)
    assert targets.row_weights(m, Y, None, None) is None
    with pytest.raises(ValueError, match="class_weight is for classification"):
        reg = model(output="linear", units=1, loss="mse")
        targets.class_weights(reg, np.ones((3, 1)), "balanced")


def test_class_ids_stay_ids_and_make_the_same_one_hot_rows_a_batch_at_a_time():
    import tracemalloc

    from nlayer.preprocessing import one_hot
    from nlayer.training import targets
    model = nl.MLP(hidden=(4,), n_outputs=10)
    model.compile(optimizer=nl.SGD(lr=0.1))
    y = np.random.default_rng(0).integers(0, 10, 200_000)
    Y = targets.prepare_rows(model, y)
    assert isinstance(Y, targets.OneHotRows) and Y.ids is y  # integer labels: no copy
    assert targets.prepare_rows(model, y.astype(float)).ids.dtype == np.uint8  # converted
    assert Y.shape == (200_000, 10) and Y.dtype == np.float32
    rows = np.array([5, 0, 199_999, 5])
    np.testing.assert_array_equal(Y[rows], one_hot(y[rows], 10, np.float32))
    out = np.full((6, 10), 7.0, np.float32)  # a reused batch buffer: old values cleared
    np.testing.assert_array_equal(Y.gather(rows, out=out), one_hot(y[rows], 10, np.float32))
    np.testing.assert_array_equal(Y.subset(rows[:2])[np.arange(2)], one_hot(y[[5, 0]], 10))
    np.testing.assert_array_equal(Y.subset(RowsBut(200_000, np.array([0, 3])))[[0, 2]],
                                  one_hot(y[[1, 4]], 10))
    # fit holds the ids (1 byte a row), not the one-hot rows (40 bytes a row: 8 MB here)
    X = np.zeros((200_000, 2), np.float32)
    tracemalloc.start()
    model.fit(X, y, epochs=1, batch_size=1000, seed=0, shuffle=False)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 6_000_000, peak  # ids, labels and row order: ~5 MB; one-hot alone 8 MB


def fit_peak(n, shuffle):
    """tracemalloc's peak during fit on n rows of labels with a 1 % development split."""
    import tracemalloc
    X = np.zeros((n, 2), np.float32)
    y = np.random.default_rng(0).integers(0, 10, n).astype(np.uint8)
    model = nl.MLP(hidden=(4,), n_outputs=10)
    model.compile(optimizer=nl.SGD(lr=0.1), normalize=None)
    tracemalloc.start()
    model.fit(X, y, epochs=1, batch_size=1000, seed=0, validation_split=0.01, shuffle=shuffle)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def test_what_fit_holds_per_row_is_the_dev_rows_and_an_exact_shuffles_order(monkeypatch):
    """Bytes a row more for 2,000,000 rows than for 1,000,000: the development rows (1 % of
    rows of 8 bytes, one-hot targets of 40: 0.48 a row) and, when exactly shuffled, the
    epoch's order (4); the labels are the caller's, the training rows are not listed, a
    block-shuffled epoch's order is made a window at a time. It was 28 bytes a row."""
    from nlayer.training import order
    monkeypatch.setattr(order, "SHUFFLE_RUN_BYTES", 8192)  # windows of 64 x 1024 rows
    exact = (fit_peak(2_000_000, True) - fit_peak(1_000_000, True)) / 1_000_000
    blocks = (fit_peak(2_000_000, "blocks") - fit_peak(1_000_000, "blocks")) / 1_000_000
    assert 4.0 < exact < 5.0, exact
    assert blocks < 0.6, blocks  # flat beside the development rows
