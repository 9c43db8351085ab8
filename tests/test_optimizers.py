import numpy as np
import pytest

import nlayer as nl
from nlayer import optimizers


def run(opt, steps, grads):
    w = np.array([1.0, -2.0])
    for g in grads[:steps]:
        opt.step([w], [np.array(g, dtype=float)])  # a step consumes its gradient
    return w


def test_sgd_momentum_is_the_pytorch_keras_update():
    g1, g2 = np.array([0.5, -1.0]), np.array([0.2, 0.4])
    w = run(nl.SGD(lr=0.1, momentum=0.9), 2, [g1, g2])
    v1 = -0.1 * g1
    v2 = 0.9 * v1 - 0.1 * g2
    np.testing.assert_allclose(w, np.array([1.0, -2.0]) + v1 + v2)


def test_moving_average_form_maps_onto_momentum():
    """v = b v + (1-b) g; w -= a v  equals  mu = b, lr = a (1 - b)."""
    rng = np.random.default_rng(0)
    grads = rng.normal(size=(10, 2))
    a, b = 0.3, 0.9
    w_ma, v = np.array([1.0, -2.0]), np.zeros(2)
    for g in grads:
        v = b * v + (1 - b) * g
        w_ma = w_ma - a * v
    w = run(nl.SGD(lr=a * (1 - b), momentum=b), 10, grads)
    np.testing.assert_allclose(w, w_ma, rtol=1e-12)


def test_nesterov():
    g1, g2 = np.array([0.5, -1.0]), np.array([0.2, 0.4])
    w = run(nl.SGD(lr=0.1, momentum=0.9, nesterov=True), 2, [g1, g2])
    w0 = np.array([1.0, -2.0])
    v1 = -0.1 * g1
    w1 = w0 + 0.9 * v1 - 0.1 * g1
    v2 = 0.9 * v1 - 0.1 * g2
    np.testing.assert_allclose(w, w1 + 0.9 * v2 - 0.1 * g2)


def test_adam_first_step_moves_each_weight_by_lr():
    w = run(nl.Adam(lr=0.01), 1, [np.array([3.0, -0.001])])
    np.testing.assert_allclose(w, [1.0 - 0.01, -2.0 + 0.01], rtol=1e-4)


def test_rmsprop_matches_its_formula():
    g = np.array([0.5, -1.0])
    w = run(nl.RMSprop(lr=0.01, rho=0.9, epsilon=1e-7), 1, [g])
    s = 0.1 * g * g
    np.testing.assert_allclose(w, np.array([1.0, -2.0]) - 0.01 * g / (np.sqrt(s) + 1e-7))


@pytest.mark.parametrize("opt", [nl.SGD(lr=0.1, momentum=0.9), nl.Adam(lr=0.1), nl.RMSprop(lr=0.01)])
def test_minimises_a_quadratic(opt):
    w = np.array([3.0, -4.0])
    for _ in range(1000):
        opt.step([w], [2 * w])
    assert np.abs(w).max() < 1e-2


def test_updates_keep_float32():
    w = np.ones(3, dtype=np.float32)
    for opt in (nl.SGD(lr=0.1, momentum=0.9), nl.Adam(), nl.RMSprop()):
        opt.step([w], [np.full(3, 0.5, dtype=np.float32)])
        assert w.dtype == np.float32
        assert all(a.dtype == np.float32 for s in opt.state.values() for a in s.values())


@pytest.mark.parametrize("kwargs, match", [
    ({"lr": 0}, "learning rate"), ({"lr": -1}, "learning rate"),
    ({"lr": 0.1, "momentum": 1.0}, "momentum"), ({"lr": 0.1, "nesterov": True}, "nesterov"),
])
def test_bad_hyperparameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        nl.SGD(**kwargs)


def test_unknown_optimizer_lists_valid_names():
    with pytest.raises(ValueError, match="unknown optimizer 'lbfgs'.*sgd, adam, rmsprop"):
        optimizers.get("lbfgs")


def test_sgd_asks_for_gradients_scaled_by_its_learning_rate():
    assert nl.SGD(lr=0.05, momentum=0.9).gradient_scale == 0.05
    assert nl.Adam(lr=0.05).gradient_scale == 1.0


@pytest.mark.parametrize("make", [lambda: nl.SGD(lr=0.1), lambda: nl.SGD(lr=0.1, momentum=0.9),
                                  lambda: nl.SGD(lr=0.1, momentum=0.9, nesterov=True),
                                  lambda: nl.Adam(lr=0.1), lambda: nl.RMSprop(lr=0.01)])
@pytest.mark.parametrize("scale", [0.1, 4.0])
def test_a_step_told_the_gradient_scale_makes_the_same_update(make, scale):
    rng = np.random.default_rng(0)
    grads = rng.normal(size=(5, 3))
    plain, scaled = make(), make()
    w_plain, w_scaled = np.ones(3), np.ones(3)
    for g in grads:
        plain.step([w_plain], [g.copy()])
        scaled.step([w_scaled], [scale * g], scale=scale)
    np.testing.assert_allclose(w_scaled, w_plain, rtol=1e-12)


@pytest.mark.parametrize("scale", [0.0, -1.0, float("nan")])
def test_a_bad_gradient_scale_is_refused(scale):
    with pytest.raises(ValueError, match="gradient scale"):
        nl.SGD(lr=0.1).step([np.ones(2)], [np.ones(2)], scale=scale)


def test_from_settings_gives_momentum_to_sgd_only():
    sgd = optimizers.from_settings("SGD", 0.05, momentum=0.9, nesterov=True)
    assert isinstance(sgd, nl.SGD) and (sgd.lr, sgd.momentum, sgd.nesterov) == (0.05, 0.9, True)
    adam = optimizers.from_settings("adam", 0.01, momentum=0.9)
    assert isinstance(adam, nl.Adam) and adam.lr == 0.01
    with pytest.raises(ValueError, match="unknown optimizer 'lbfgs'"):
        optimizers.from_settings("lbfgs", 0.1)
