"""benchmarks/bench_monitor.py's own logic (never its timings)."""

import sys
from pathlib import Path

import numpy as np

import nlayer as nl

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import bench_monitor  # noqa: E402


def _model():
    model = nl.MLP((8,), n_outputs=3)
    model.compile(optimizer=nl.SGD(lr=0.05, momentum=0.9), metrics=["accuracy"])
    model.build((None, 20), seed=0)
    return model


def test_clocked_monitor_records_and_times_its_hooks_without_changing_training():
    rng = np.random.default_rng(0)
    X, y = rng.random((256, 20), dtype=np.float32), rng.integers(0, 3, 256)
    monitored, plain = _model(), _model()
    monitor, clock = bench_monitor.clocked_monitor(every=2)
    monitored.fit(X, y, epochs=1, batch_size=32, seed=1, callbacks=[monitor])
    plain.fit(X, y, epochs=1, batch_size=32, seed=1)
    np.testing.assert_array_equal(monitored._flat_params, plain._flat_params)
    assert len(monitored.history.layer_stats) == 4 * 2  # steps 0, 2, 4, 6 x 2 Dense layers
    assert clock.seconds["monitor"] > 0


def test_report_gives_medians_over_all_and_quiet_pairs():
    runs = [{"probe": 1.0, "off": 1.0, "on": 1.02, "inside": 0.01},
            {"probe": 1.1, "off": 2.0, "on": 2.2, "inside": 0.02},
            {"probe": 3.0, "off": 4.0, "on": 2.0, "inside": 0.04}]
    text = bench_monitor.report(runs, 50, 1000, "test data")
    assert "| all (3) | 2.000 | 2.000 | +2.0% | 0.98% |" in text
    assert "| quiet (2) | 1.500 | 1.610 | +6.0% | 0.94% |" in text
