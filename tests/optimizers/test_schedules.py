import math

import numpy as np
import pytest

import nlayer as nl
from nlayer import optimizers, schedules
from nlayer.schedules import CosineDecay, ExponentialDecay, OneCycle, StepDecay


def rates(schedule, n):
    return np.array([schedule(t) for t in range(n)])


def test_step_decay_drops_at_epoch_boundaries():
    s = StepDecay(0.1, factor=0.5, every=2, steps_per_epoch=3)
    np.testing.assert_allclose(rates(s, 13), [0.1] * 6 + [0.05] * 6 + [0.025], rtol=1e-15)


def test_exponential_decay_smooth_and_staircase():
    s = ExponentialDecay(0.2, rate=0.5, every=1, steps_per_epoch=4)
    assert s(2) == pytest.approx(0.2 * 0.5 ** 0.5, rel=1e-15)
    s = ExponentialDecay(0.2, rate=0.5, every=1, staircase=True, steps_per_epoch=4)
    np.testing.assert_allclose(rates(s, 9), [0.2] * 4 + [0.1] * 4 + [0.05])


def test_cosine_decay_with_warmup():
    s = CosineDecay(1.0, epochs=10, final_lr=0.1, warmup=2, steps_per_epoch=1)
    r = rates(s, 12)
    np.testing.assert_allclose(r[:2], [0.5, 1.0])  # linear warm-up, full rate at its end
    assert r[2] == 1.0
    assert r[6] == pytest.approx(0.1 + 0.9 * (1 + math.cos(math.pi * 4 / 8)) / 2, rel=1e-15)
    np.testing.assert_allclose(r[10:], 0.1)  # T and past it: the final rate
    assert np.all(np.diff(r[2:]) <= 0)


def test_one_cycle_matches_pytorch_one_cycle_lr():
    torch = pytest.importorskip("torch")
    epochs, steps = 3, 7
    ours = OneCycle(0.4, epochs=epochs, warmup=0.25, div=20, final_div=100,
                    momentum_range=(0.8, 0.95), steps_per_epoch=steps)
    param = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    opt = torch.optim.SGD([param], lr=0.4, momentum=0.9)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=0.4, epochs=epochs, steps_per_epoch=steps, pct_start=0.25,
        div_factor=20, final_div_factor=100, base_momentum=0.8, max_momentum=0.95,
        anneal_strategy="cos", three_phase=False)
    lr, mom = [], []
    for _ in range(epochs * steps):
        lr.append(opt.param_groups[0]["lr"])
        mom.append(opt.param_groups[0]["momentum"])
        opt.step()
        sched.step()
    n = epochs * steps
    np.testing.assert_allclose(rates(ours, n), lr, rtol=1e-12, atol=0)
    np.testing.assert_allclose([ours.momentum(t) for t in range(n)], mom, rtol=1e-12)
    assert ours(n + 5) == ours(n - 1) == pytest.approx(0.4 / 20 / 100)


def test_the_optimizer_follows_its_schedule_step_by_step():
    s = StepDecay(0.1, factor=0.5, every=1, steps_per_epoch=2)
    opt = nl.SGD(lr=s, momentum=0.9)
    w = np.zeros(3)
    seen = []
    for _ in range(5):
        seen.append(opt.lr)
        opt.step([w], [np.ones(3) * opt.lr], scale=opt.gradient_scale)
    assert seen == [0.1, 0.1, 0.05, 0.05, 0.025]
    assert type(opt.lr) is float


def test_one_cycle_cycles_sgd_momentum_and_only_sgd():
    s = OneCycle(0.1, epochs=2, steps_per_epoch=5, momentum_range=(0.85, 0.95))
    opt = nl.SGD(lr=s)
    assert opt.momentum == 0.95
    w = np.zeros(2)
    for _ in range(3):
        opt.step([w], [np.ones(2) * opt.lr], scale=opt.lr)
    assert opt.momentum == pytest.approx(s.momentum(3)) and opt.momentum < 0.95
    with pytest.raises(ValueError, match="Adam cannot cycle momentum"):
        nl.Adam(lr=OneCycle(0.01, momentum_range=(0.85, 0.95)))


def _data():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(60, 4))
    return X, (X[:, 0] + X[:, 1] > 0).astype(int)


def _model(lr):
    model = nl.MLP(hidden=(6,), dtype="float64")
    model.compile(optimizer=nl.SGD(lr=lr, momentum=0.9), metrics=["accuracy"])
    return model


def test_fit_tells_the_schedule_its_length_and_history_logs_the_rate():
    X, y = _data()
    model = _model(OneCycle(0.2))
    history = model.fit(X, y, epochs=4, batch_size=16, seed=0)  # 4 batches per epoch
    s = model.optimizer.schedule
    assert (s.steps_per_epoch, s.epochs) == (4, 4.0)
    np.testing.assert_allclose(history.history["lr"], [s(4 * e) for e in (1, 2, 3, 4)],
                               rtol=1e-15)
    assert max(history.history["lr"]) <= 0.2 and history.history["lr"][-1] < 1e-4
    # what the user gave is kept; only what was missing is filled in
    assert s.get_config()["epochs"] is None


def test_epoch_schedules_outside_fit_say_what_they_need():
    with pytest.raises(ValueError, match="needs steps_per_epoch; give it, or train with fit"):
        StepDecay(0.1)(3)
    with pytest.raises(ValueError, match="OneCycle needs epochs"):
        OneCycle(0.1, steps_per_epoch=3)(0)


def test_schedule_config_round_trips_through_the_model_file(tmp_path):
    X, y = _data()
    model = _model(CosineDecay(0.1, warmup=1, final_lr=0.001))
    model.fit(X, y, epochs=2, batch_size=16, seed=0)
    model.save(tmp_path / "m.nlayer")
    again = nl.load(tmp_path / "m.nlayer")
    assert again.optimizer.schedule.get_config() == model.optimizer.schedule.get_config()
    assert again.get_config() == model.get_config()
    assert again.optimizer.iterations == model.optimizer.iterations == 8


def test_a_resumed_run_continues_bit_identically():
    """Two fits of 3 epochs on a schedule given its length equal one fit of 6 epochs."""
    X, y = _data()
    kw = dict(batch_size=16, shuffle=False, seed=0)
    whole = _model(OneCycle(0.3, epochs=6, momentum_range=(0.85, 0.95)))
    whole.fit(X, y, epochs=6, **kw)
    part = _model(OneCycle(0.3, epochs=6, momentum_range=(0.85, 0.95)))
    part.fit(X, y, epochs=3, **kw)
    state = part.optimizer.get_state()
    # a fresh optimiser given the state takes over exactly
    fresh = optimizers.get(part.optimizer.get_config())
    fresh.set_state(state)
    assert fresh.lr == part.optimizer.lr and fresh.momentum == part.optimizer.momentum
    part.optimizer = fresh
    part.fit(X, y, epochs=3, **kw)
    for a, b in zip(whole.get_weights(), part.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert part.optimizer.lr == whole.optimizer.lr


@pytest.mark.parametrize("spec, error, message", [
    ("onecycle", TypeError, "a schedule needs its settings"),
    ({"name": "warp"}, ValueError, "unknown schedule 'warp'; valid names: step, exponential"),
    ({"name": "onecycle", "max_lr": -1}, ValueError, "OneCycle max_lr must be a number in (0, inf)"),
    ({"name": "onecycle", "max_lr": 1, "warmup": 1.0}, ValueError, "OneCycle warmup must be a number in (0, 1)"),
    ({"name": "onecycle", "max_lr": 1, "momentum_range": (0.95, 0.85)}, ValueError, "low <= high"),
    ({"name": "cosine", "lr": 1, "epochs": 2, "warmup": 2}, ValueError, "must be shorter than epochs"),
    ({"name": "cosine", "lr": 1, "final_lr": 2}, ValueError, "CosineDecay final_lr must be a number in [0, 1]"),
    ({"name": "step", "lr": 1, "factor": "half"}, TypeError, "StepDecay factor must be a number, got 'half'"),
    ({"name": "step", "lr": 1, "steps_per_epoch": 0}, ValueError, "steps_per_epoch must be a whole number >= 1"),
])
def test_bad_schedules(spec, error, message):
    with pytest.raises(error) as err:
        schedules.get(spec)
    assert message in str(err.value)


def test_reset_starts_the_schedule_again():
    opt = nl.SGD(lr=OneCycle(0.1, epochs=1, steps_per_epoch=10, momentum_range=(0.8, 0.9)))
    w = np.zeros(2)
    for _ in range(4):
        opt.step([w], [np.ones(2) * opt.lr], scale=opt.lr)
    assert opt.lr > 0.1 / 25 and opt.momentum < 0.9
    opt.reset()
    assert (opt.iterations, opt.lr, opt.momentum, opt.state) == (0, 0.1 / 25, 0.9, {})
