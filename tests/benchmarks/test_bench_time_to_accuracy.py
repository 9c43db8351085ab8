"""The time-to-accuracy benchmark's own logic (never its timings)."""

import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("rich")
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import bench_time_to_accuracy as tta  # noqa: E402


def test_clock_reports_the_first_epoch_at_the_target():
    y = np.array([0, 1, 1, 0])
    clock = tta.Clock(None, y, target=0.75)
    wrong, right = np.eye(2)[1 - y], np.eye(2)[y]
    assert not clock.epoch(1.5, wrong) and not clock.epoch(2.0, wrong)
    assert clock.epoch(0.5, np.eye(2)[[0, 1, 1, 1]])  # 3 of 4 right: 0.75
    assert clock.epoch(1.0, right)
    result = clock.result()
    assert result["seconds_to_target"] == 4.0 and result["epochs_to_target"] == 3
    assert result["cumulative_seconds"] == [1.5, 3.5, 4.0, 5.0]
    assert result["test_accuracy"] == [0.0, 0.0, 0.75, 1.0]


def test_never_reached_is_none():
    clock = tta.Clock(None, np.array([0, 1]), target=0.9)
    clock.epoch(1.0, np.eye(2)[[1, 0]])
    assert clock.result()["seconds_to_target"] is None


def test_peers_train_nlayers_network_with_the_one_cycle_recipe():
    import nlayer as nl

    quick, rate = tta.recipe()
    cfg, _ = tta.recipe(name="fast")
    assert cfg["dev_split"] == quick["dev_split"] == 0.0 and cfg["patience"] == 0
    assert (cfg["optimizer"], cfg["schedule"]) == ("adam", "cosine")
    assert quick == {**cfg, "recipe": "quick", "dropout": 0.0, "epochs": 3}
    assert isinstance(rate, nl.schedules.CosineDecay) and rate.epochs == 3
    peer, cycle = tta.recipe(one_cycle=True)
    assert isinstance(cycle, nl.schedules.OneCycle) and cycle.max_lr == 0.1
    assert cycle.epochs == cfg["epochs"] and list(cycle.momentum_range) == [0.8, 0.9]
    assert (peer["hidden"], peer["dropout"], peer["batch_size"]) == \
        (cfg["hidden"], cfg["dropout"], cfg["batch_size"])
    assert tta.recipe(max_epochs=2)[0]["epochs"] == 2


def test_summary_is_the_median_over_repeats_and_none_when_a_run_missed():
    runs = [{"seconds_to_target": s, "epochs_to_target": e, "test_accuracy": [0.9] * e,
             "load_before": 0.5, "load_after": 0.7} for s, e in ((4.0, 4), (6.0, 5), (5.0, 4))]
    s = tta.summary(runs)
    assert (s["median"], s["min"], s["max"], s["epochs"]) == (5.0, 4.0, 6.0, [4, 4, 5])
    missed = tta.summary(runs + [{**runs[0], "seconds_to_target": None,
                                  "epochs_to_target": None}])
    assert missed["median"] is None and missed["max"] == 6.0
    assert tta.summary([{"skipped": "torch is not importable"}]) is None


def test_nlayer_worker_trains_the_recipe_until_the_target():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, size=3000)
    X = (rng.random((3000, 784)) < 0.1).astype(np.float32) + np.eye(10, 784)[y] * 3
    spec = {"target": 0.6, "max_epochs": 3}
    result = tta.worker_nlayer(spec, (X, y, X[:500], y[:500]))
    assert result["epochs_to_target"] is not None and result["epochs_to_target"] <= 3
    assert len(result["test_accuracy"]) == result["epochs_to_target"]
    assert result["recipe"]["epochs"] == 3


def test_torch_quick_steps_with_nlayers_cosine_rates_and_epsilon():
    torch = pytest.importorskip("torch")
    import nlayer as nl

    cfg, cosine = tta.recipe()
    net = torch.nn.Linear(3, 2)
    opt, sched = tta._torch_adam_cosine(torch, net, cfg, cosine, steps=4)
    assert opt.param_groups[0]["eps"] == nl.Adam().epsilon == 1e-7
    rates = []
    for _ in range(12):  # 3 epochs of 4 steps: the rate of each update, as nlayer's Adam has it
        rates.append(opt.param_groups[0]["lr"])
        net(torch.ones(1, 3)).sum().backward()
        opt.step()
        sched.step()
    assert rates == pytest.approx([cosine(k) for k in range(12)], rel=1e-12)
    assert rates[0] == cfg["lr"] and rates[6] == pytest.approx(cfg["lr"] / 2)


def test_torch_quick_runs_the_same_math_as_nlayers_quick_recipe(monkeypatch):
    """Same network, weights, batches, Adam and rates: in float64 (where rounding cannot
    tip Adam's sign-like first steps) the two give the same accuracy after every epoch."""
    pytest.importorskip("torch")
    recipe = tta.recipe
    monkeypatch.setattr(tta, "recipe", lambda *a, **k: (lambda cfg, rate: (
        {**cfg, "dtype": "float64"}, rate))(*recipe(*a, **k)))
    rng = np.random.default_rng(1)
    y = rng.integers(0, 10, size=2000)
    X = (rng.random((2000, 784)) < 0.1) + np.eye(10, 784)[y] * 0.5
    spec = {"target": 1.01, "max_epochs": 2}  # never reached: both train every epoch
    ours = tta.worker_nlayer(spec, (X, y, X[:600], y[:600]))
    theirs = tta.worker_torch(spec, (X, y, X[:600], y[:600]), quick=True)
    assert len(ours["test_accuracy"]) == len(theirs["test_accuracy"]) == 2
    assert ours["test_accuracy"] == theirs["test_accuracy"]
    assert 0.3 < ours["test_accuracy"][-1] < 1.0  # learning, not saturated
