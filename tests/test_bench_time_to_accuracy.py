"""The time-to-accuracy benchmark's own logic (never its timings)."""

import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("rich")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
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


def test_peers_copy_the_nlayer_recipe_and_its_cycle():
    cfg, cycle = tta.recipe()
    assert cfg["dev_split"] == 0.0 and cfg["patience"] == 0
    assert cycle.max_lr == cfg["lr"] and cycle.epochs == cfg["epochs"]
    assert tta.recipe(max_epochs=2)[0]["epochs"] == 2


def test_nlayer_worker_trains_the_recipe_until_the_target():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, size=3000)
    X = (rng.random((3000, 784)) < 0.1).astype(np.float32) + np.eye(10, 784)[y] * 3
    spec = {"target": 0.6, "max_epochs": 3}
    result = tta.worker_nlayer(spec, (X, y, X[:500], y[:500]))
    assert result["epochs_to_target"] is not None and result["epochs_to_target"] <= 3
    assert len(result["test_accuracy"]) == result["epochs_to_target"]
    assert result["recipe"]["epochs"] == 3
