"""End-to-end tests of the commands on a saved model (``evaluate``, ``predict``, ``info``,
``export``), run in subprocesses on the shared digits run (``conftest.py``) and small CSV files.
"""

import csv
import json

import numpy as np
import pytest

pytest.importorskip("rich")
pytest.importorskip("sklearn")
mpimg = pytest.importorskip("matplotlib.image")

import nlayer as nl  # noqa: E402
from cli_run import (FAST, assert_one_line_error, cli, read_csv_dicts,  # noqa: E402
                     write_classification_csv)
from nlayer.datasets import load_dataset  # noqa: E402



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


def test_corrupt_model_file(tmp_path):
    broken = tmp_path / "broken.nlayer"
    broken.write_bytes(b"PK\x03\x04 definitely not a model")
    assert_one_line_error(cli("evaluate", broken), "broken.nlayer")
    assert_one_line_error(cli("info", broken), "broken.nlayer")


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
