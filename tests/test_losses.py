import numpy as np
import pytest

from nlayer import activations, losses


def test_cross_entropy_from_logits_matches_the_definition(rng):
    Z = rng.normal(size=(6, 4))
    A = activations.get("softmax").forward(Z)
    Y = np.eye(4)[[0, 1, 2, 3, 0, 1]]
    cce = losses.get("categorical_crossentropy")
    expected = -np.mean(np.sum(Y * np.log(A), axis=1))
    assert cce.loss(Z, A, Y) == pytest.approx(expected, rel=1e-12)
    assert cce.loss(None, A, Y) == pytest.approx(expected, rel=1e-9)


def test_cross_entropy_stays_finite_for_huge_logits():
    Z = np.array([[1e4, -1e4, 0.0]], dtype=np.float32)
    A = activations.get("softmax").forward(Z)
    J = losses.get("categorical_crossentropy").loss(Z, A, np.array([[0, 1, 0]], dtype=np.float32))
    assert J == pytest.approx(2e4, rel=1e-6)


@pytest.mark.parametrize("gap", [0.0, 30.0, 80.0, 86.0, 95.0, 120.0])
def test_cross_entropy_is_exact_on_both_sides_of_the_underflow_of_a_y(gap):
    """a_y = e^-gap / S is read off A while it is a normal float32, recomputed from Z after."""
    Z = np.array([[gap, 0.0, -1.0], [1.0, 2.0, 3.0]], dtype=np.float32)
    Y = np.array([[0, 1, 0], [0, 0, 1]], dtype=np.float32)
    A = activations.get("softmax").forward(Z)
    Z64 = Z.astype(np.float64)
    lse = np.log(np.exp(Z64 - Z64.max(axis=1, keepdims=True)).sum(axis=1)) + Z64.max(axis=1)
    expected = np.mean(lse - (Y * Z64).sum(axis=1))
    assert losses.get("categorical_crossentropy").loss(Z, A, Y) == pytest.approx(expected, rel=1e-6)


def test_binary_cross_entropy_from_logits(rng):
    Z = rng.normal(size=(5, 1)) * 3
    A = 1 / (1 + np.exp(-Z))
    Y = np.array([[0], [1], [1], [0], [1]], dtype=float)
    expected = -np.mean(Y * np.log(A) + (1 - Y) * np.log(1 - A))
    bce = losses.get("binary_crossentropy")
    assert bce.loss(Z, A, Y) == pytest.approx(expected, rel=1e-10)
    np.testing.assert_allclose(bce.dZ(A, Y), (A - Y) / 5)


@pytest.mark.parametrize("name", ["categorical_crossentropy", "binary_crossentropy", "mse"])
def test_dA_matches_finite_differences(name, rng):
    loss = losses.get(name)
    A = rng.uniform(0.1, 0.9, size=(4, 3))
    Y = np.eye(3)[[0, 1, 2, 1]] if name != "mse" else rng.normal(size=(4, 3))
    eps, numeric = 1e-6, np.zeros_like(A)
    for idx in np.ndindex(A.shape):
        Ap, Am = A.copy(), A.copy()
        Ap[idx] += eps
        Am[idx] -= eps
        numeric[idx] = (loss.loss(None, Ap, Y) - loss.loss(None, Am, Y)) / (2 * eps)
    np.testing.assert_allclose(loss.dA(A, Y), numeric, rtol=1e-6, atol=1e-9)


def test_labels_as_ids_or_one_hot_give_the_same_targets():
    cce = losses.get("categorical_crossentropy")
    a = cce.prepare_targets(np.array([2, 0, 1]), 3, np.float32)
    b = cce.prepare_targets(np.eye(3)[[2, 0, 1]], 3, np.float32)
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.float32


@pytest.mark.parametrize("y, match", [
    (np.array([0.5, 1.0]), "integer class ids"),
    (np.array([-1, 0]), ">= 0"),
    (np.array([0, 7]), "class id 7 is beyond the output layer's 3 units"),
    (np.array([[0.2, 0.8, 0.0], [1, 0, 0]]), "one-hot"),
    (np.array(["cat", "dog"]), "integer class ids"),
    (np.array([0, np.nan]), "NaN"),
])
def test_bad_labels_are_named(y, match):
    with pytest.raises(ValueError, match=match):
        losses.get("categorical_crossentropy").prepare_targets(y, 3, np.float32)


def test_binary_labels_must_be_zero_or_one():
    with pytest.raises(ValueError, match="0 or 1"):
        losses.get("binary_crossentropy").prepare_targets(np.array([0, 2]), 1, np.float32)


def test_regression_targets_must_be_finite_numbers():
    mse = losses.get("mse")
    assert mse.prepare_targets(np.array([1.5, 2.0]), 1, np.float64).shape == (2, 1)
    with pytest.raises(ValueError, match="NaN or inf"):
        mse.prepare_targets(np.array([1.0, np.inf]), 1, np.float64)
    with pytest.raises(ValueError, match="2 columns but the output layer has 1"):
        mse.prepare_targets(np.ones((3, 2)), 1, np.float64)


def test_unknown_loss_lists_valid_names():
    with pytest.raises(ValueError, match="unknown loss 'hinge'.*categorical_crossentropy"):
        losses.get("hinge")
