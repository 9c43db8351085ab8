"""benchmarks/bench_augmentation.py and recipe_search.py: their logic, never their timings."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import bench_augmentation as bench  # noqa: E402
import recipe_search  # noqa: E402


def test_the_cost_table_gives_each_ratio_and_judges_shifts_and_flips(monkeypatch, tmp_path):
    rng = np.random.default_rng(0)
    X, y = rng.random((256, 784), dtype=np.float32), rng.integers(0, 10, 256)
    seconds = bench.measure(X, y, rounds=2, cases=("none", "shift=2,flip", "adversarial=0.01"))
    assert {k: len(v) for k, v in seconds.items()} == \
        {"none": 2, "shift=2,flip": 2, "adversarial=0.01": 2}
    assert bench.batch_ms(X, "shift=2,flip", repeats=3) > 0
    text = bench.report({"none": [1.0, 1.2], "shift=2,flip": [1.5, 1.5]},
                        {"shift=2,flip": 0.2}, "test data", 2, (0.1, 0.2))
    assert "| `shift=2,flip` | 1.50 | 1.50-1.50 | 1.36 (target <= 1.3: MISS) | 0.20 |" in text
    text = bench.report({"none": [1.0], "shift=2,flip": [1.2]}, {"shift=2,flip": 0.2},
                        "test data", 1, (0.1, 0.2))
    assert "1.20 (target <= 1.3: PASS)" in text
    text = bench.report({"none": [1.0], "adversarial=0.01": [2.1]}, {}, "test data", 1,
                        (0.1, 0.2))
    assert "| `adversarial=0.01` | 2.10 | 2.10-2.10 | 2.10 | - |" in text


def test_recipe_search_scores_candidates_on_the_development_split_only(tmp_path, capsys):
    pytest.importorskip("sklearn")
    out = tmp_path / "scores.jsonl"
    recipe_search.main(['epochs=3; hidden=[16]; augment="shift=1"; normalize="global"',
                        "--dataset", "digits", "--out", str(out), "--seed", "0", "1"])
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["seed"] for line in lines] == [0, 1] and all(
        len(line["dev_curve"]) == 3 and 0 < line["dev_last"] <= 1 for line in lines)
    assert capsys.readouterr().out.count("\n") == 2
    cfg = recipe_search.candidate("digits", 'epochs=3; augment="shift=1"', 4, None)
    assert cfg["augment"] == "shift=1" and cfg["seed"] == 4 and cfg["epochs"] == 3
