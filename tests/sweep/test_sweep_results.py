"""The sweep's table: rows, ranking by the mean dev metric (never test), best.toml, sweep.png."""

import csv
import tomllib

import pytest

from nlayer.sweep import expand, parse
from nlayer.sweep import results

SPEC = parse({"epochs": 4, "grid": {"lr": [0.01, 0.02, 0.03]}, "sweep": {"seeds": 2}})
TRIALS = expand(SPEC)


def record(trial, dev=None, test=None, status="ok", error=None):
    return {"trial": trial.id, "point": trial.point_id, "index": trial.index,
            "settings": trial.point, "seed": trial.seed, "status": status, "error": error,
            "dev": None if dev is None else {"accuracy": dev, "loss": 1 - dev},
            "test": None if test is None else {"accuracy": test, "loss": 1 - test},
            "epochs": 4, "best_epoch": 3, "seconds": 1.5, "worker": "tcp://127.0.0.1:1"}


def records():
    t = TRIALS  # points: lr 0.01 (t0, t1), 0.02 (t2, t3), 0.03 (t4, t5)
    return [record(t[0], 0.90, 0.99), record(t[1], 0.92, 0.99),   # best on test only
            record(t[2], 0.95, 0.80), record(t[3], 0.93, 0.82),   # best on dev: mean 0.94
            record(t[4], 0.99, 0.90),
            record(t[5], status="failed", error="TrainingDivergedError: nan")]


def test_the_best_point_has_the_best_mean_dev_metric_whatever_its_test_score():
    best = results.best(records(), "accuracy")
    assert best["settings"] == {"lr": 0.02}
    assert best["dev_mean"] == pytest.approx(0.94) and best["dev_std"] == pytest.approx(0.01)
    assert best["test_mean"] == pytest.approx(0.81)


def test_points_with_a_failed_seed_rank_after_complete_ones_and_lower_is_better_for_loss():
    ranked = results.points(records(), "accuracy")
    assert [p["settings"]["lr"] for p in ranked] == [0.02, 0.01, 0.03]
    assert ranked[-1]["ok"] == 1 and ranked[-1]["errors"] == ["TrainingDivergedError: nan"]
    by_loss = results.points(records(), "loss")
    assert [p["settings"]["lr"] for p in by_loss] == [0.02, 0.01, 0.03]
    assert by_loss[0]["dev_mean"] == pytest.approx(0.06)


def test_no_finished_trial_means_no_best():
    failed = [record(t, status="failed", error="X: y") for t in TRIALS]
    assert results.best(failed, "accuracy") is None


def test_rows_and_csv_keep_every_trial_in_order(tmp_path):
    table = results.rows(list(reversed(records())), SPEC.swept)
    assert [r["trial"] for r in table] == [t.id for t in TRIALS]
    assert list(table[0]) == ["trial", "point", "status", "lr", "seed", "dev_accuracy",
                              "dev_loss", "test_accuracy", "test_loss", "epochs", "best_epoch",
                              "resumed_from", "seconds", "worker", "error", "restart_reason"]
    results.write_csv(tmp_path / "sweep.csv", table)
    with open(tmp_path / "sweep.csv", newline="") as fh:
        back = list(csv.DictReader(fh))
    assert float(back[2]["dev_accuracy"]) == 0.95 and back[2]["lr"] == "0.02"
    assert back[5]["status"] == "failed" and back[5]["dev_accuracy"] == ""
    assert back[5]["error"] == "TrainingDivergedError: nan"


def test_best_toml_holds_the_full_settings_of_the_best_point():
    best = results.best(records(), "accuracy")
    text = results.best_toml(best, TRIALS, "accuracy", 2)
    settings = tomllib.loads(text)
    # None is left out, except settings a dataset's recipe would turn on again (written off)
    assert settings == {**{k: v for k, v in TRIALS[2].cfg.items() if v is not None},
                        "augment": "none", "adversarial": 0}
    assert settings["lr"] == 0.02 and settings["epochs"] == 4 and settings["seed"] == 0
    assert text.startswith("# nlayer sweep: the best point by mean dev accuracy over 2 of 2 "
                           "seeds: 0.9400 (std 0.0100); chosen on the dev set only")
    assert "# its mean test accuracy (not used to choose): 0.8100" in text


def test_the_figure_has_a_panel_per_swept_setting(tmp_path):
    mpimg = pytest.importorskip("matplotlib.image")
    from nlayer.sweep import figure
    spec = parse({"grid": {"lr": [0.01, 0.1], "hidden": [[8], [16, 8]]}})
    trials = expand(spec)
    recs = [record(t, 0.9 + 0.01 * t.index, 0.9) for t in trials]
    figure.draw(tmp_path / "sweep.png", results.points(recs, "accuracy"), spec.swept, "accuracy")
    image = mpimg.imread(tmp_path / "sweep.png")
    assert image.shape[:2] == (400, 1000)  # two panels of 5 x 4 inches at 100 dpi


def test_best_toml_of_a_sweep_on_arrays_names_no_dataset():
    best = results.best(records(), "accuracy")
    settings = tomllib.loads(results.best_toml(best, TRIALS, "accuracy", 2, with_data=False))
    assert "dataset" not in settings and "download" not in settings
    assert settings["lr"] == 0.02


def test_a_point_whose_every_seed_was_lost_has_no_mean_seconds(tmp_path):
    lost = [{**record(t, status="lost", error="KilledWorker: x"), "seconds": None,
             "epochs": None} for t in TRIALS[:2]]
    ranked = results.points([*lost, *records()[2:]], "accuracy")
    assert ranked[-1]["point"] == TRIALS[0].point_id and ranked[-1]["seconds_mean"] is None
    assert ranked[-1]["ok"] == 0 and ranked[0]["seconds_mean"] == 1.5


def test_resumed_and_restarted_trials_show_in_the_csv(tmp_path):
    recs = [{**record(TRIALS[0], 0.9, 0.9), "resumed_from": 12, "restart_reason": None},
            {**record(TRIALS[1], 0.9, 0.9), "resumed_from": None,
             "restart_reason": "CheckpointMismatchError: batch_size: 64 now, 32 in the checkpoint"},
            record(TRIALS[2], 0.9, 0.9)]  # written before trials checkpointed: no such keys
    results.write_csv(tmp_path / "sweep.csv", results.rows(recs, SPEC.swept))
    with open(tmp_path / "sweep.csv", newline="") as fh:
        back = list(csv.DictReader(fh))
    assert [r["resumed_from"] for r in back] == ["12", "", ""]
    assert [r["restart_reason"] for r in back] == [
        "", "CheckpointMismatchError: batch_size: 64 now, 32 in the checkpoint", ""]
