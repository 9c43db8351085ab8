"""End-to-end tests of the ``nlayer`` command line, run in subprocesses.

Runs are tiny (digits, a few epochs, small layers) so the file stays fast on a
busy machine. One training run is shared by the tests that inspect its files.
"""

import csv
import json
import os
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("rich")
pytest.importorskip("sklearn")
mpimg = pytest.importorskip("matplotlib.image")

import nlayer as nl  # noqa: E402
from nlayer.datasets import load_dataset  # noqa: E402

FAST = ["--hidden", "32", "--batch-size", "64"]
ENV = {**os.environ, "COLUMNS": "100", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


def cli(*args, cwd=None, timeout=120):
    """Run ``python -m nlayer.cli ARGS``; returns the CompletedProcess (text mode)."""
    return subprocess.run([sys.executable, "-m", "nlayer.cli", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout, env=ENV)


def assert_one_line_error(result, *words):
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("nlayer: error: ")
    assert "Traceback" not in result.stderr + result.stdout
    for word in words:
        assert word in lines[0], lines[0]


def read_csv_dicts(path_or_text):
    text = Path(path_or_text).read_text() if isinstance(path_or_text, Path) else path_or_text
    return list(csv.DictReader(text.splitlines()))


# ---------------------------------------------------------------- one shared digits run

@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "run"
    result = cli("train", "--dataset", "digits", *FAST, "--epochs", "4", "--patience", "2",
                 "--out", out)
    assert result.returncode == 0, result.stderr
    return out, result


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


def test_evaluate_matches_summary(digits_run):
    out, _ = digits_run
    summary = json.loads((out / "summary.json").read_text())
    result = cli("evaluate", out / "model.nlayer", "--json")
    assert result.returncode == 0, result.stderr
    metrics = json.loads(result.stdout)
    assert metrics["rows"] == summary["rows"]["test"]
    assert metrics["test_accuracy"] == pytest.approx(summary["test_accuracy"], abs=1e-12)
    assert metrics["test_loss"] == pytest.approx(summary["test_loss"], rel=1e-6)


def test_predict_round_trip(digits_run, tmp_path):
    out, _ = digits_run
    ds = load_dataset("digits")
    model = nl.load(out / "model.nlayer")
    X = ds.X_test[:25]
    pixels = tmp_path / "pixels.csv"
    with open(pixels, "w", newline="") as fh:  # raw 0..16 intensities, named pixel columns
        writer = csv.writer(fh)
        writer.writerow(ds.feature_names)
        writer.writerows(np.rint(X * 16).astype(int).tolist())
    preds = tmp_path / "preds.csv"
    result = cli("predict", out / "model.nlayer", "--csv", pixels, "--out", preds)
    assert result.returncode == 0, result.stderr
    rows = read_csv_dicts(preds)
    assert len(rows) == 25
    assert list(rows[0]) == ["row", *(f"p_{k}" for k in range(10)), "predicted"]
    expected = model.predict(X).argmax(axis=1)
    assert [int(r["predicted"]) for r in rows] == expected.tolist()
    assert all(abs(sum(float(r[f"p_{k}"]) for k in range(10)) - 1) < 1e-4 for r in rows)
    unnamed = tmp_path / "unnamed.csv"  # any column names, in order; values already in [0, 1]
    with open(unnamed, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow([f"c{j}" for j in range(64)])
        writer.writerows(np.rint(X * 16).astype(int) / 16)
    to_stdout = cli("predict", out / "model.nlayer", "--csv", unnamed)
    assert to_stdout.returncode == 0, to_stdout.stderr
    assert [r["predicted"] for r in read_csv_dicts(to_stdout.stdout)] == \
        [r["predicted"] for r in rows]
    short = tmp_path / "short.csv"
    short.write_text("a,b,c\n1,2,3\n")
    assert_one_line_error(cli("predict", out / "model.nlayer", "--csv", short), "64 pixel columns")


def test_info(digits_run):
    out, _ = digits_run
    result = cli("info", out / "model.nlayer", "--json")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["dataset"] == "digits" and info["normalizer"] == "standard"
    assert "Total params" in info["summary"]
    assert info["history"]["epochs_run"] >= 1
    text = cli("info", out / "model.nlayer")
    assert text.returncode == 0 and "Total params" in text.stdout and "digits" in text.stdout
    assert "Dense 32 relu → Dense 10 softmax" in text.stdout  # the activations are shown


def test_export_onnx(digits_run, tmp_path):
    pytest.importorskip("onnx")
    out, _ = digits_run
    target = tmp_path / "model.onnx"
    result = cli("export", out / "model.nlayer", target)
    assert result.returncode == 0, result.stderr
    assert target.is_file() and target.stat().st_size > 1000
    before = target.read_bytes()
    assert_one_line_error(cli("export", out / "model.nlayer", target), str(target),
                          "already exists; pass --overwrite")
    assert target.read_bytes() == before
    assert cli("export", out / "model.nlayer", target, "--overwrite").returncode == 0


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

def write_classification_csv(path, n=240, seed=0):
    """Two numeric features and a colour; the class follows a simple rule."""
    rng = np.random.default_rng(seed)
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["size", "weight", "colour", "kind"])
        for _ in range(n):
            size, weight = rng.normal(), rng.normal()
            colour = rng.choice(["red", "green", "blue"])
            score = size + weight + (1.5 if colour == "red" else -0.5)
            writer.writerow([f"{size:.4f}", f"{weight:.4f}", colour,
                             "big" if score > 0.3 else "small"])


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


def test_lr_find_plots_the_curve_and_writes_every_rate(tmp_path):
    out = tmp_path / "lr"
    result = cli("lr-find", "--dataset", "digits", *FAST, "--steps", "60", "--out", out)
    assert result.returncode == 0, result.stderr
    assert "suggested learning rate" in result.stdout and "heuristic" in result.stdout
    found = json.loads((out / "lr_find.json").read_text())
    rates = found["rates"]
    assert len(rates) == len(found["losses"]) == len(found["raw_losses"]) <= 60
    assert rates[0] == 1e-6 and rates[0] <= found["suggestion"] <= rates[-1]
    assert found["config"]["batch_size"] == 64
    assert mpimg.imread(out / "lr_find.png").shape[:2] == (500, 1000)


# ---------------------------------------------------------------- errors

@pytest.mark.parametrize("args, words", [
    (["train", "--dataset", "imagenet"], ["imagenet"]),
    (["train", "--epochs", "many"], ["--epochs", "many"]),
    (["train", "--dropout", "1.5"], ["dropout"]),
    (["train", "--csv", "no-such-file.csv", "--target", "y"], ["no-such-file.csv"]),
    (["evaluate", "no-such-model.nlayer"], ["no-such-model.nlayer"]),
    (["train", *FAST, "--lr", "1e4", "--epochs", "2"], ["diverged", "smaller --lr"]),
    (["train", "--target", "target"], ["--target target names a column of a CSV file",
                                        "pass --csv FILE"]),
    (["train", "--hidden", "1000000", "1000000", "--quiet"],
     ["the model needs about", "TB", "Use fewer or narrower --hidden layers"]),
    (["train", *FAST, "--epochs", "2", "--monitor-metric", "val_acc"],
     ["EarlyStopping monitors 'val_acc'", "val_accuracy, val_loss", "check the spelling"]),
    (["train", "--schedule", "sawtooth"], ["--schedule", "sawtooth"]),
    (["lr-find", "--start-lr", "1", "--end-lr", "0.1"], ["end_lr (0.1) must be larger"]),
])
def test_user_errors_are_one_line(args, words, tmp_path):
    assert_one_line_error(cli(*args, cwd=tmp_path), *words)


def test_corrupt_model_file(tmp_path):
    broken = tmp_path / "broken.nlayer"
    broken.write_bytes(b"PK\x03\x04 definitely not a model")
    assert_one_line_error(cli("evaluate", broken), "broken.nlayer")
    assert_one_line_error(cli("info", broken), "broken.nlayer")


def test_version():
    result = cli("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"nlayer {nl.__version__}"


# ---------------------------------------------------------------- Ctrl-C

@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_stops_and_saves(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "nlayer.cli", "train", *FAST, "--epochs", "100000",
         "--patience", "0", "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    try:
        deadline = time.monotonic() + 60
        for line in proc.stdout:
            if line.startswith("epoch ") or time.monotonic() > deadline:
                break
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr  # the shell's code for a run stopped by Ctrl-C
    assert "Traceback" not in stderr and "interrupted" in stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["interrupted"] is True
    assert summary["stopped_epoch"] < 100000
    assert (out / "model.nlayer").is_file() and (out / "learning_curves.png").is_file()


# ---------------------------------------------------------------- optional

def test_compare_with_sklearn(tmp_path):
    pytest.importorskip("nlayer.compare")
    out = tmp_path / "cmp"
    result = cli("compare", "--dataset", "digits", *FAST, "--epochs", "3", "--peers", "sklearn",
                 "--out", out, "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    names = [r["name"] for r in report["results"]]
    assert "nlayer" in names
    assert (out / "comparison.json").is_file()
    assert mpimg.imread(out / "comparison.png").shape[:2] == (500, 1000)


def test_compare_with_keras_prints_no_tensorflow_start_up_lines(tmp_path):
    pytest.importorskip("keras")
    result = cli("compare", "--dataset", "digits", *FAST, "--epochs", "1", "--peers", "keras",
                 "--out", tmp_path / "cmp", "--quiet", timeout=300)
    assert result.returncode == 0, result.stderr
    assert "keras" in result.stdout
    # TensorFlow's C++ start-up (oneDNN, CUDA drivers, absl) would write these to stderr
    for line in ("absl", "oneDNN", "cuda"):
        assert line not in result.stderr


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


def test_image_model_takes_class_ids_in_a_label_column(digits_run, tmp_path):
    out, _ = digits_run
    model = nl.load(out / "model.nlayer")
    names = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    model.metadata["class_names"] = names  # like Fashion-MNIST: names that are not numbers
    model.save(tmp_path / "named.nlayer")
    ds = load_dataset("digits")
    path = tmp_path / "ids.csv"
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["label", *ds.feature_names])
        writer.writerows([[k, *row] for k, row in zip(ds.y_test[:20], ds.X_test[:20])])
    result = cli("evaluate", tmp_path / "named.nlayer", "--csv", path, "--json")
    assert result.returncode == 0, result.stderr
    accuracy = json.loads(result.stdout)["test_accuracy"]
    assert accuracy == np.mean(model.predict(ds.X_test[:20]).argmax(axis=1) == ds.y_test[:20])
    bad = tmp_path / "bad.csv"
    bad.write_text(path.read_text().replace("\n7,", "\nseventy,", 1))
    assert_one_line_error(cli("evaluate", tmp_path / "named.nlayer", "--csv", bad),
                          f"{bad}: line", "unknown class 'seventy'")


def test_predict_says_which_rows_dropna_skipped(tmp_path):
    data = tmp_path / "t.csv"
    write_classification_csv(data, n=120)
    out = tmp_path / "run"
    assert cli("train", "--csv", data, "--target", "kind", *FAST, "--epochs", "2", "--out", out,
               "--quiet").returncode == 0
    lines = data.read_text().splitlines()
    first = lines[1].split(",")
    first[0] = ""
    lines[1] = ",".join(first)
    holes = tmp_path / "holes.csv"
    holes.write_text("\n".join(lines) + "\n")
    result = cli("predict", out / "model.nlayer", "--csv", holes, "--dropna")
    assert result.returncode == 0, result.stderr
    assert f"skipped 1 row(s) with missing values (--dropna): lines 2 of {holes}" in result.stderr
    assert len(read_csv_dicts(result.stdout)) == 119


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
