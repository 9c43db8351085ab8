"""The sweep benchmark's own logic (never its timings): the trials it times are the digits default."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
bench = pytest.importorskip("bench_sweep")

from nlayer.runs import config  # noqa: E402
from nlayer.sweep import expand  # noqa: E402


def test_the_benchmark_times_16_trials_of_the_digits_default():
    trials = expand(bench.spec(16))
    assert len(trials) == 16 and len({t.id for t in trials}) == 16
    default = config.resolve({"dataset": "digits"})
    for t in trials:
        differs = {k for k in default if t.cfg[k] != default[k]}
        assert differs <= {"lr", "l2", "seed"}, differs
    assert sorted({t.seed for t in trials}) == [0, 1]


def test_overhead_is_worker_time_outside_the_trials():
    records = [{"seconds": 2.0, "status": "ok", "dev": {"accuracy": 0.9}}] * 4
    row = bench.summary("dask", wall=5.0, records=records, workers=2)
    assert row["overhead"] == pytest.approx((2 * 5.0 - 8.0) / 4)
    assert row["trial_seconds"] == 8.0 and row["ok"] == 4
