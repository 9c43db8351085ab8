"""``nlayer train --monitor``: the files it writes and the summary's vanished/exploded layers."""

import csv
import json

import pytest

pytest.importorskip("rich")
pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")

from nlayer.callbacks.layer_monitor import STAT_KEYS  # noqa: E402

from cli_run import FAST, assert_one_line_error, cli  # noqa: E402


def test_train_monitor_writes_stats_figures_and_flags(tmp_path):
    out = tmp_path / "run"
    result = cli("train", "--dataset", "digits", *FAST, "--epochs", "2", "--patience", "0",
                 "--monitor", "5", "--out", out)
    assert result.returncode == 0, result.stderr
    with open(out / "layer_stats.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert tuple(rows[0]) == STAT_KEYS
    # digits: 1437 train+dev rows, dev split 0.1 -> 1293 train rows -> 21 batches of 64 per
    # epoch; 42 steps sampled every 5 -> steps 0, 5, ..., 40 = 9 samples of 2 Dense layers
    assert len(rows) == 18
    assert {r["layer"] for r in rows} == {"dense_1", "dense_2"}
    assert all(float(r["grad_rms"]) > 0 and float(r["update_ratio"]) > 0 for r in rows)
    assert [r["dead"] == "" for r in rows] == [r["layer"] == "dense_2" for r in rows]
    for name in ("gradients.png", "activations.png"):
        assert (out / name).read_bytes()[:4] == b"\x89PNG"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["gradients"] == {"vanished": [], "exploded": []}
    assert {"layer_stats.csv", "gradients.png", "activations.png"} <= set(summary["files"])
    assert "gradients: no layer vanished or exploded" in result.stdout


def test_train_monitor_names_vanished_layers(tmp_path):
    out = tmp_path / "run"
    result = cli("train", "--dataset", "digits", "--hidden", *["16"] * 8, "--activation",
                 "sigmoid", "--init", "random_normal", "--epochs", "1", "--patience", "0",
                 "--monitor", "--out", out)
    assert result.returncode == 0, result.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["gradients"]["vanished"][:3] == ["dense_1", "dense_2", "dense_3"]
    assert "gradients vanished in: dense_1, dense_2, dense_3" in result.stdout


def test_train_monitor_rejects_zero(tmp_path):
    result = cli("train", "--dataset", "digits", *FAST, "--monitor", "0", "--out", tmp_path / "r")
    assert_one_line_error(result, "monitor must be a whole number >= 1, got 0")
