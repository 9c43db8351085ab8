"""benchmarks/bench_live_plot.py's own logic (never its timings)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import bench_live_plot  # noqa: E402


def test_report_gives_each_pair_the_share_spent_drawing_and_the_load():
    pairs = [{"off": 10.0, "on": 10.5, "draws": 2, "drawing": 0.42},
             {"off": 10.0, "on": 10.2, "draws": 1, "drawing": 0.30}]
    text = bench_live_plot.report(pairs, 10, 60000, "test data", "a machine",
                                  (1.5, 1.25, 1.0), (2.0, 1.5, 1.0))
    assert "| 1 | 10.00 | 10.50 | 2 | 0.42 | 4.00% | +5.0% |" in text
    assert "| 2 | 10.00 | 10.20 | 1 | 0.30 | 2.94% | +2.0% |" in text
    assert "at start 1.50 / 1.25 / 1.00, at end 2.00 / 1.50 / 1.00" in text
    assert "Median share of the run spent redrawing: 3.47%" in text
