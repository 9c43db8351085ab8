import warnings

import numpy as np
import pytest

from nlayer import activations

ALL = activations.NAMES


@pytest.mark.parametrize("name", ALL)
def test_stable_for_huge_inputs_in_float32(name):
    Z = np.array([[-1e4, -50.0, 0.0, 50.0, 1e4]], dtype=np.float32)
    g = activations.get(name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any overflow/invalid warning fails the test
        A = g.forward(Z)
        dZ = g.backward(Z, A, np.ones_like(A))
    assert A.dtype == np.float32 and dZ.dtype == np.float32
    assert np.all(np.isfinite(A)) and np.all(np.isfinite(dZ))


@pytest.mark.parametrize("name", ALL)
def test_backward_matches_finite_differences(name, rng):
    g = activations.get(name)
    Z = rng.normal(size=(4, 5))
    dA = rng.normal(size=(4, 5))
    A = g.forward(Z.copy())
    analytic = g.backward(Z, A, dA.copy())  # backward overwrites its dA
    eps, numeric = 1e-6, np.zeros_like(Z)
    for idx in np.ndindex(Z.shape):
        Zp, Zm = Z.copy(), Z.copy()
        Zp[idx] += eps
        Zm[idx] -= eps
        numeric[idx] = np.sum(dA * (g.forward(Zp) - g.forward(Zm))) / (2 * eps)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)


def test_known_values():
    Z = np.array([[-2.0, 0.0, 3.0]])
    np.testing.assert_allclose(activations.get("sigmoid").forward(Z), 1 / (1 + np.exp(-Z)))
    np.testing.assert_allclose(activations.get("relu").forward(Z), [[0, 0, 3]])
    np.testing.assert_allclose(activations.get("leaky_relu").forward(Z), [[-0.02, 0, 3]])
    np.testing.assert_allclose(activations.get({"name": "leaky_relu", "alpha": 0.2}).forward(Z),
                               [[-0.4, 0, 3]])
    S = activations.get("softmax").forward(Z)
    np.testing.assert_allclose(S.sum(axis=1), 1.0)
    np.testing.assert_allclose(S, np.exp(Z) / np.exp(Z).sum())


def test_sigmoid_derivative_is_at_most_a_quarter():
    # why deep sigmoid stacks vanish: each layer multiplies the gradient by <= 0.25
    g = activations.get("sigmoid")
    Z = np.linspace(-10, 10, 1001)[None, :]
    d = g.backward(Z, g.forward(Z), np.ones_like(Z))
    assert d.max() == pytest.approx(0.25)


def test_unknown_name_lists_valid_ones():
    with pytest.raises(ValueError, match="unknown activation 'relu6'.*sigmoid.*leaky_relu"):
        activations.get("relu6")
    with pytest.raises(ValueError, match="alpha"):
        activations.get({"name": "leaky_relu", "alpha": 2})
