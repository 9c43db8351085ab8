"""End-to-end tests of ``nlayer train``, run in subprocesses: its output, the run directory,
CSV data, config files, schedules, Ctrl-C.

Runs are tiny (digits, a few epochs, small layers) so the file stays fast on a busy machine.
"""

import csv
import json
import tomllib
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("rich")
pytest.importorskip("sklearn")
mpimg = pytest.importorskip("matplotlib.image")

import nlayer as nl  # noqa: E402
from cli_run import (FAST, assert_one_line_error, cli, read_csv_dicts,  # noqa: E402
                     write_classification_csv)
from nlayer.datasets import load_dataset  # noqa: E402



def test_train_prints_plain_epoch_lines_and_summary(digits_run):
    _, result = digits_run
    epoch_lines = [l for l in result.stdout.splitlines() if l.startswith("epoch ")]
    assert 1 <= len(epoch_lines) <= 4
    assert "dev loss" in epoch_lines[0] and "acc" in epoch_lines[0]
    assert "\x1b[" not in result.stdout  # no colours or cursor moves in a pipe
    assert "test accuracy:" in result.stdout
    assert result.stderr == ""


def test_run_directory_files(digits_run):
    out, _ = digits_run
    for name in ("model.nlayer", "config.toml", "history.csv", "learning_curves.png",
                 "confusion_matrix.png", "summary.json"):
        assert (out / name).is_file(), name
    summary = json.loads((out / "summary.json").read_text())
    assert summary["task"] == "classification" and summary["interrupted"] is False
    assert 0.5 < summary["test_accuracy"] <= 1.0
    assert summary["metrics"]["test"]["accuracy"] == summary["test_accuracy"]
    assert summary["best_epoch"] <= summary["stopped_epoch"] <= 4
    # what the float32 bits depend on: the BLAS threads and kernel set the run multiplied with
    from nlayer.training import threads
    assert summary["blas_kernel"] == threads.kernel() and summary["blas_threads"] >= 1
    with open(out / "config.toml", "rb") as fh:
        cfg = tomllib.load(fh)
    assert cfg["hidden"] == [32] and cfg["epochs"] == 4 and cfg["dataset"] == "digits"
    rows = read_csv_dicts(out / "history.csv")
    assert len(rows) == summary["epochs_run"]
    assert list(rows[0])[:3] == ["epoch", "loss", "val_loss"]
    assert {"accuracy", "val_accuracy", "lr", "seconds"} <= set(rows[0])
    assert [int(r["epoch"]) for r in rows] == list(range(1, len(rows) + 1))
    assert all(float(r["loss"]) > 0 for r in rows)


def test_plots_are_real_images(digits_run):
    out, _ = digits_run
    curves = mpimg.imread(out / "learning_curves.png")
    confusion = mpimg.imread(out / "confusion_matrix.png")
    assert curves.shape[:2] == (400, 1000)
    assert confusion.shape[:2] == (600, 700)
    assert curves.std() > 0.01 and confusion.std() > 0.01  # not blank


def test_existing_out_is_refused_then_overwritten(digits_run, tmp_path):
    out, _ = digits_run
    before = (out / "summary.json").read_text()
    refused = cli("train", *FAST, "--epochs", "1", "--out", out)
    assert_one_line_error(refused, "--overwrite", str(out))
    assert (out / "summary.json").read_text() == before
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    done = cli("train", *FAST, "--epochs", "1", "--out", other, "--overwrite", "--quiet")
    assert done.returncode == 0, done.stderr
    assert (other / "notes.txt").read_text() == "keep me"
    assert (other / "summary.json").is_file()


def test_no_arguments_trains_a_good_digits_model(tmp_path):
    result = cli(cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    accuracy = float(result.stdout.strip().splitlines()[-1].split(":")[1])
    assert accuracy >= 0.97
    (run,) = (tmp_path / "runs").iterdir()
    assert run.name.startswith("digits-")
    assert json.loads((run / "summary.json").read_text())["test_accuracy"] == \
        pytest.approx(accuracy, abs=1e-4)


# ---------------------------------------------------------------- CSV data

def test_csv_classification_end_to_end(tmp_path):
    data = tmp_path / "things.csv"
    write_classification_csv(data)
    out = tmp_path / "run"
    result = cli("train", "--csv", data, "--target", "kind", "--hidden", "16",
                 "--epochs", "60", "--out", out, "--quiet")
    assert result.returncode == 0, result.stderr
    assert not [l for l in result.stdout.splitlines() if l.startswith("epoch ")]
    assert "Accuracy" in result.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["task"] == "classification" and summary["class_names"] == ["big", "small"]
    assert summary["test_accuracy"] > 0.8
    assert mpimg.imread(out / "confusion_matrix.png").shape[:2] == (600, 700)

    new = tmp_path / "new.csv"
    with open(new, "w", newline="") as fh:
        csv.writer(fh).writerows([["colour", "weight", "size"], ["red", "2.0", "2.0"],
                                  ["blue", "-2.0", "-2.0"]])
    whole = cli("evaluate", out / "model.nlayer", "--csv", data, "--json")
    assert whole.returncode == 0, whole.stderr
    assert json.loads(whole.stdout)["rows"] == 240

    result = cli("predict", out / "model.nlayer", "--csv", new)
    assert result.returncode == 0, result.stderr
    rows = read_csv_dicts(result.stdout)
    assert list(rows[0]) == ["row", "p_big", "p_small", "predicted"]
    assert [r["predicted"] for r in rows] == ["big", "small"]

    bad = tmp_path / "bad.csv"
    bad.write_text("size,colour\n1.0,red\n")
    assert_one_line_error(cli("predict", out / "model.nlayer", "--csv", bad), "weight")


def test_csv_regression_diabetes(tmp_path):
    from sklearn.datasets import load_diabetes
    bunch = load_diabetes()
    data = tmp_path / "diabetes.csv"
    with open(data, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow([*bunch.feature_names, "progression"])
        for x, t in zip(bunch.data, bunch.target):
            writer.writerow([*(f"{v:.6f}" for v in x), f"{t:g}"])
    out = tmp_path / "run"
    result = cli("train", "--csv", data, "--target", "progression", "--out", out, "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["task"] == "regression"
    assert set(summary["metrics"]["test"]) == {"loss", "mse", "mae", "r2"}
    assert summary["test_r2"] > 0.3
    assert mpimg.imread(out / "learning_curves.png").shape[:2] == (400, 1000)
    assert not (out / "confusion_matrix.png").exists()
    result = cli("predict", out / "model.nlayer", "--csv", data)
    assert result.returncode == 0, result.stderr
    rows = read_csv_dicts(result.stdout)
    assert len(rows) == len(bunch.target) and list(rows[0]) == ["row", "predicted_progression"]


# ---------------------------------------------------------------- config and JSON

def test_config_file_with_flag_override(tmp_path):
    config = tmp_path / "settings.toml"
    config.write_text('dataset = "digits"\nhidden = [16]\nbatch-size = 128\nepochs = 5\n'
                      'optimizer = "adam"\nnormalize = "minmax"\n')
    result = cli("train", "--config", config, "--epochs", "2", "--out", tmp_path / "run",
                 "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)  # stdout is JSON and nothing else
    cfg = summary["config"]
    assert cfg["epochs"] == 2 and cfg["hidden"] == [16] and cfg["batch_size"] == 128
    assert cfg["optimizer"] == "adam" and cfg["lr"] == 0.001 and cfg["normalize"] == "minmax"
    assert summary["epochs_run"] <= 2


def test_config_unknown_key(tmp_path):
    config = tmp_path / "settings.toml"
    config.write_text("epochs = 2\nhiden = [3]\n")
    assert_one_line_error(cli("train", "--config", config), "'hiden'", "valid keys", "hidden")


def test_train_with_a_one_cycle_schedule_and_weight_decay(tmp_path):
    out = tmp_path / "run"
    result = cli("train", "--dataset", "digits", *FAST, "--epochs", "5", "--schedule", "onecycle",
                 "--lr", "0.2", "--weight-decay", "1e-4", "--monitor-metric", "val_accuracy",
                 "--out", out, "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["config"]["schedule"] == "onecycle" and summary["test_accuracy"] > 0.9
    rates = [float(row["lr"]) for row in read_csv_dicts(out / "history.csv")]
    model = nl.load(out / "model.nlayer")
    schedule = model.optimizer.schedule
    assert isinstance(schedule, nl.schedules.OneCycle) and model.optimizer.weight_decay == 1e-4
    steps = model.optimizer.iterations // 5  # batches per epoch (the file keeps the count)
    schedule.bind(steps, 5)
    np.testing.assert_allclose(rates, [schedule(steps * e) for e in range(1, 6)], rtol=1e-12)
    assert mpimg.imread(out / "learning_curves.png").shape[:2] == (400, 1000)


FASHION = Path("/usr/share/datasets/fashion-mnist")


@pytest.mark.skipif(not FASHION.is_dir(), reason="Fashion-MNIST files not installed")
def test_fashion_mnist_one_epoch(tmp_path):
    result = cli("train", "--dataset", "fashion-mnist", "--data-dir", FASHION, "--no-download",
                 "--hidden", "32", "--epochs", "1", "--out", tmp_path / "run", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["rows"] == {"train_and_dev": 60000, "test": 10000}
    assert summary["test_accuracy"] > 0.75
    assert summary["class_names"][0] == "T-shirt/top"


# ---------------------------------------------------------------- CSV files met in the wild

def test_headerless_pixels_and_numeric_labels_keep_every_row(digits_run, tmp_path):
    out, _ = digits_run
    ds = load_dataset("digits")
    X, y = ds.X_test[:12], ds.y_test[:12]
    model = nl.load(out / "model.nlayer")
    expected = model.predict(X).argmax(axis=1).tolist()
    bare = tmp_path / "bare.csv"  # no header: 64 numbers per line
    np.savetxt(bare, np.rint(X * 16), fmt="%d", delimiter=",")
    result = cli("predict", out / "model.nlayer", "--csv", bare)
    assert result.returncode == 0, result.stderr
    assert [int(r["predicted"]) for r in read_csv_dicts(result.stdout)] == expected  # all 12
    # the MNIST-as-CSV layout: no header, the label first; gzip-compressed, ';'-separated
    labelled = tmp_path / "labelled.csv.gz"
    import gzip
    lines = [";".join(map(str, [k, *row])) for k, row in zip(y, np.rint(X * 16).astype(int))]
    labelled.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    result = cli("evaluate", out / "model.nlayer", "--csv", labelled, "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["rows"] == 12


def test_regression_targets_are_standardised_by_default_and_the_flag_turns_it_off(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(150, 3))
    y = 10000 + 3000 * X[:, 0] + 500 * X[:, 1] ** 2
    data = tmp_path / "prices.csv"
    np.savetxt(data, np.column_stack([X, y]), delimiter=",", header="a,b,c,price", comments="")
    result = cli("train", "--csv", data, "--target", "price", "--optimizer", "sgd", "--lr",
                 "0.01", *FAST, "--epochs", "30", "--out", tmp_path / "on", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["test_r2"] > 0.8 and summary["config"]["scale_targets"] is True
    assert nl.load(tmp_path / "on" / "model.nlayer").target_scaler is not None
    assert_one_line_error(
        cli("train", "--csv", data, "--target", "price", "--optimizer", "sgd", "--lr", "0.01",
            *FAST, "--epochs", "30", "--out", tmp_path / "off", "--no-scale-targets"),
        "diverged", "Try --scale-targets (standardised regression targets)")


def test_train_with_augmentation_records_it_and_a_bad_spec_is_one_line(tmp_path):
    out = tmp_path / "run"
    result = cli("train", "--dataset", "digits", *FAST, "--epochs", "8", "--augment",
                 "shift=1, rotate=5", "--normalize", "global", "--out", out, "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["config"]["augment"] == "shift=1,rotate=5" and summary["test_accuracy"] > 0.8
    saved = tomllib.loads((out / "config.toml").read_text())
    assert saved["augment"] == "shift=1,rotate=5"
    again = cli("train", "--config", out / "config.toml", "--out",
                tmp_path / "again", "--json")  # the run's config file trains the same run
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["test_accuracy"] == summary["test_accuracy"]
    assert_one_line_error(cli("train", "--augment", "shift=1,wobble"),
                          "augment: unknown augmentation 'wobble'", "shift=PIXELS")
    assert_one_line_error(cli("compare", "--dataset", "digits", "--augment", "flip",
                              "--peers"), "augment (flip) is nlayer's alone", "drop --augment")


def test_train_with_adversarial_training_records_it_and_a_bad_epsilon_is_one_line(tmp_path):
    out = tmp_path / "run"
    result = cli("train", "--dataset", "digits", *FAST, "--epochs", "8", "--adversarial",
                 "0.05", "--out", out, "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["config"]["adversarial"] == 0.05 and summary["test_accuracy"] > 0.8
    assert tomllib.loads((out / "config.toml").read_text())["adversarial"] == 0.05
    again = cli("train", "--config", out / "config.toml", "--out",
                tmp_path / "again", "--json")  # the run's config file trains the same run
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["test_accuracy"] == summary["test_accuracy"]
    plain = cli("train", "--dataset", "digits", *FAST, "--epochs", "8", "--json")
    assert json.loads(plain.stdout)["test_loss"] != summary["test_loss"]  # it trained otherwise
    assert_one_line_error(cli("train", "--adversarial", "-1"),
                          "adversarial must be a number in [0, inf), got -1")
    assert_one_line_error(cli("compare", "--dataset", "digits", "--adversarial", "0.1",
                              "--peers"), "adversarial (0.1) is nlayer's alone",
                          "drop --adversarial")
