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


NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize("cls, kwargs, error, message", [
    (nl.SGD, {"lr": "fast"}, TypeError,
     "SGD lr (learning rate) must be a positive number or a schedule from nl.schedules, "
     "got 'fast' (str)"),
    (nl.SGD, {"lr": None}, TypeError, "got None (NoneType)"),
    (nl.SGD, {"lr": True}, TypeError, "got True (bool)"),
    (nl.SGD, {"lr": NAN}, ValueError, "SGD lr (learning rate) must be a number in (0, inf), got nan"),
    (nl.SGD, {"lr": INF}, ValueError, "SGD lr (learning rate) must be a number in (0, inf), got inf"),
    (nl.SGD, {"lr": -0.1}, ValueError, "in (0, inf), got -0.1"),
    (nl.SGD, {"momentum": -0.5}, ValueError, "SGD momentum must be a number in [0, 1), got -0.5"),
    (nl.SGD, {"momentum": NAN}, ValueError, "SGD momentum must be a number in [0, 1), got nan"),
    (nl.SGD, {"momentum": "0.9"}, TypeError, "SGD momentum must be a number, got '0.9' (str)"),
    (nl.SGD, {"nesterov": "yes"}, TypeError, "SGD nesterov must be True or False, got 'yes'"),
    (nl.SGD, {"weight_decay": -1}, ValueError,
     "SGD weight_decay must be a number in [0, inf), got -1.0"),
    (nl.SGD, {"weight_decay": INF}, ValueError, "SGD weight_decay must be a number in [0, inf), got inf"),
    (nl.SGD, {"weight_decay": [0.1]}, TypeError, "SGD weight_decay must be a number, got [0.1] (list)"),
    (nl.Adam, {"epsilon": -1}, ValueError, "Adam epsilon must be a number in (0, inf), got -1.0"),
    (nl.Adam, {"epsilon": 0}, ValueError, "Adam epsilon must be a number in (0, inf), got 0.0"),
    (nl.Adam, {"beta_1": 1.0}, ValueError, "Adam beta_1 must be a number in [0, 1), got 1.0"),
    (nl.Adam, {"beta_2": NAN}, ValueError, "Adam beta_2 must be a number in [0, 1), got nan"),
    (nl.Adam, {"beta_2": None}, TypeError, "Adam beta_2 must be a number, got None (NoneType)"),
    (nl.Adam, {"lr": INF}, ValueError, "Adam lr (learning rate) must be a number in (0, inf)"),
    (nl.AdamW, {"weight_decay": -0.01}, ValueError,
     "AdamW weight_decay must be a number in [0, inf), got -0.01"),
    (nl.AdamW, {"epsilon": INF}, ValueError, "AdamW epsilon must be a number in (0, inf), got inf"),
    (nl.RMSprop, {"rho": 1.5}, ValueError, "RMSprop rho must be a number in [0, 1), got 1.5"),
    (nl.RMSprop, {"rho": "high"}, TypeError, "RMSprop rho must be a number, got 'high' (str)"),
    (nl.RMSprop, {"epsilon": NAN}, ValueError, "RMSprop epsilon must be a number in (0, inf), got nan"),
])
def test_every_hyperparameter_is_checked_by_name_value_and_range(cls, kwargs, error, message):
    with pytest.raises(error) as err:
        cls(**kwargs)
    assert message in str(err.value)


def test_numpy_scalars_are_accepted():
    opt = nl.SGD(lr=np.float32(0.5), momentum=np.float64(0.9), nesterov=np.bool_(True))
    assert (opt.lr, opt.momentum, opt.nesterov) == (0.5, 0.9, True)
    assert type(opt.lr) is float


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


# -- weight decay against PyTorch (float64, to 1e-12) -----------------------------------------

def _quadratic_run(step, w0, steps=25):
    """Minimise 0.5 w'Hw - b'w from w0 with ``step(w, g)``; returns every iterate."""
    rng = np.random.default_rng(7)
    Q = rng.normal(size=(w0.size, w0.size))
    H, b = Q @ Q.T / w0.size + np.eye(w0.size), rng.normal(size=w0.size)
    w, out = w0.copy(), []
    for _ in range(steps):
        w = step(w, H @ w - b)
        out.append(w.copy())
    return np.array(out)


TORCH_CASES = [
    (nl.SGD, {"lr": 0.05, "weight_decay": 0.1}, "SGD", {"lr": 0.05, "weight_decay": 0.1}),
    (nl.SGD, {"lr": 0.05, "momentum": 0.9, "weight_decay": 0.3}, "SGD",
     {"lr": 0.05, "momentum": 0.9, "weight_decay": 0.3}),
    (nl.SGD, {"lr": 0.05, "momentum": 0.8, "nesterov": True, "weight_decay": 0.2}, "SGD",
     {"lr": 0.05, "momentum": 0.8, "nesterov": True, "weight_decay": 0.2}),
    (nl.Adam, {"lr": 0.02, "epsilon": 1e-8, "weight_decay": 0.5}, "Adam",
     {"lr": 0.02, "eps": 1e-8, "weight_decay": 0.5}),
    (nl.AdamW, {"lr": 0.02, "beta_1": 0.8, "beta_2": 0.99, "epsilon": 1e-8, "weight_decay": 0.5},
     "AdamW", {"lr": 0.02, "betas": (0.8, 0.99), "eps": 1e-8, "weight_decay": 0.5}),
    (nl.RMSprop, {"lr": 0.01, "rho": 0.9, "epsilon": 1e-8, "weight_decay": 0.4}, "RMSprop",
     {"lr": 0.01, "alpha": 0.9, "eps": 1e-8, "weight_decay": 0.4}),
]


@pytest.mark.parametrize("cls, kwargs, torch_name, torch_kwargs", TORCH_CASES,
                         ids=[f"{c[2]}-{i}" for i, c in enumerate(TORCH_CASES)])
def test_weight_decay_matches_pytorch(cls, kwargs, torch_name, torch_kwargs):
    torch = pytest.importorskip("torch")
    w0 = np.random.default_rng(3).normal(size=6)

    opt = cls(**kwargs)

    def ours(w, g):
        opt.step([w], [g], scale=1.0)  # g is dJ/dw itself
        return w

    param = torch.nn.Parameter(torch.tensor(w0, dtype=torch.float64))
    topt = getattr(torch.optim, torch_name)([param], **torch_kwargs)

    def theirs(w, g):
        param.grad = torch.tensor(g, dtype=torch.float64)
        topt.step()
        return param.detach().numpy().copy()

    mine, ref = _quadratic_run(ours, w0), _quadratic_run(theirs, w0)
    np.testing.assert_allclose(mine, ref, rtol=0, atol=1e-12)
    # the decay changed the path: without it the iterates differ by far more than 1e-12
    plain = cls(**{**kwargs, "weight_decay": 0.0})
    assert np.abs(_quadratic_run(lambda w, g: (plain.step([w], [g], 1.0), w)[1], w0) - ref).max() > 1e-3


def test_sgd_weight_decay_equals_l2_lambda_over_m():
    """Coupled decay wd and the method's L2 term (lambda/m) W agree on kernels when wd = lambda/m."""
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 5)), rng.integers(0, 3, size=40)
    kw = dict(epochs=3, batch_size=40, shuffle=False, seed=0)  # one batch: m = 40
    a = nl.MLP(hidden=(8,), dtype="float64", n_outputs=3)
    a.compile(optimizer=nl.SGD(lr=0.1, momentum=0.9), l2=2.0)
    a.fit(X, y, **kw)
    b = nl.MLP(hidden=(8,), dtype="float64", n_outputs=3)
    b.compile(optimizer=nl.SGD(lr=0.1, momentum=0.9, weight_decay=2.0 / 40))
    b.fit(X, y, **kw)
    # kernels follow the same path only if biases have no decay too: compare the first
    # update, where biases start at zero and the decay of a zero bias is zero
    c = nl.MLP(hidden=(8,), dtype="float64", n_outputs=3)
    c.compile(optimizer=nl.SGD(lr=0.1, momentum=0.9, weight_decay=2.0 / 40))
    c.fit(X, y, **{**kw, "epochs": 1})
    d = nl.MLP(hidden=(8,), dtype="float64", n_outputs=3)
    d.compile(optimizer=nl.SGD(lr=0.1, momentum=0.9), l2=2.0)
    d.fit(X, y, **{**kw, "epochs": 1})
    for wc, wd in zip(c.get_weights(), d.get_weights()):
        np.testing.assert_allclose(wc, wd, rtol=1e-12, atol=1e-15)
    # later the biases (decayed by wd only) part ways
    assert max(np.abs(wa - wb).max() for wa, wb in zip(a.get_weights(), b.get_weights())) > 1e-6


def test_weight_decay_is_saved_in_the_config():
    for opt in (nl.SGD(lr=0.1, weight_decay=0.01), nl.Adam(weight_decay=0.02), nl.AdamW(),
                nl.RMSprop(weight_decay=0.03)):
        again = optimizers.get(opt.get_config())
        assert type(again) is type(opt) and again.weight_decay == opt.weight_decay
    assert nl.AdamW().weight_decay == 0.01 and "weight_decay" not in nl.SGD().get_config()


def test_one_optimiser_instance_is_not_shared_by_two_models():
    opt = nl.SGD(lr=0.1, momentum=0.9)
    first = nl.MLP((4,), n_outputs=2)
    first.compile(optimizer=opt)
    with pytest.raises(ValueError, match="already compiled into another model .*its own optimiser"):
        nl.MLP((4,), n_outputs=2).compile(optimizer=opt)
    first.compile(optimizer=opt, l2=1e-3)  # the same model may compile it again


def test_an_optimiser_whose_model_is_gone_starts_afresh():
    import gc
    X, y = np.random.default_rng(0).random((20, 3)), np.arange(20) % 2
    opt = nl.Adam(lr=0.01)
    first = nl.MLP((4,), n_outputs=2)
    first.compile(optimizer=opt)
    first.fit(X, y, epochs=1, batch_size=5, seed=0)
    assert opt.iterations == 4 and opt.state
    del first
    gc.collect()
    second = nl.MLP((4,), n_outputs=2)
    second.compile(optimizer=opt)
    assert opt.iterations == 0 and opt.state == {}


def test_a_copied_model_owns_its_copied_optimiser():
    import copy
    model = nl.MLP((4,), n_outputs=2)
    model.compile(optimizer=nl.SGD(lr=0.1))
    twin = copy.deepcopy(model)
    twin.compile(optimizer=twin.optimizer)  # not refused: the copy belongs to the twin
    with pytest.raises(ValueError, match="already compiled"):
        twin.compile(optimizer=model.optimizer)
