"""What the command line writes never destroys what it reads or what was there: an output that
is an input is refused, an existing output needs --overwrite, and a full disk leaves the
previous file whole (a real small tmpfs, mounted for the test)."""

import csv
import os
import subprocess
import uuid

import numpy as np
import pytest

pytest.importorskip("rich")
pytest.importorskip("sklearn")

from cli_run import FAST, assert_one_line_error, cli  # noqa: E402


@pytest.fixture(scope="module")
def model_and_csv(tmp_path_factory):
    """A small digits model and a CSV of 1,500 rows for it to predict."""
    from sklearn.datasets import load_digits
    folder = tmp_path_factory.mktemp("predict")
    result = cli("train", "--dataset", "digits", *FAST, "--epochs", "1", "--quiet",
                 "--out", folder / "run")
    assert result.returncode == 0, result.stderr
    X, y = load_digits(return_X_y=True)
    rows = folder / "rows.csv"
    with open(rows, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow([f"pixel{i}" for i in range(64)] + ["label"])
        writer.writerows([*map(int, x), int(t)] for x, t in zip(X[:1500], y[:1500]))
    return folder / "run" / "model.nlayer", rows


@pytest.mark.parametrize("which", ["csv", "model"])
def test_an_output_that_is_an_input_is_refused_even_with_overwrite(model_and_csv, which):
    model, rows = model_and_csv
    target = rows if which == "csv" else model
    before = target.read_bytes()
    result = cli("predict", model, "--csv", rows, "--out", target, "--overwrite")
    assert_one_line_error(result, str(target), "write the output to another file")
    assert target.read_bytes() == before


def test_an_existing_output_needs_overwrite(model_and_csv, tmp_path):
    model, rows = model_and_csv
    out = tmp_path / "p.csv"
    out.write_text("keep me\n")
    assert_one_line_error(cli("predict", model, "--csv", rows, "--out", out),
                          "already exists; pass --overwrite")
    assert out.read_text() == "keep me\n"
    assert cli("predict", model, "--csv", rows, "--out", out, "--overwrite").returncode == 0
    assert out.read_text().startswith("row,p_0,")


def test_export_refuses_to_write_over_its_model(model_and_csv):
    model, _ = model_and_csv
    before = model.read_bytes()
    assert_one_line_error(cli("export", model, model, "--overwrite"), "is the model file")
    assert model.read_bytes() == before


@pytest.fixture
def small_disk(tmp_path):
    """A 256 KiB tmpfs (root only; skipped where mounting is not allowed)."""
    mount = tmp_path / f"disk-{uuid.uuid4().hex[:6]}"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=False)


def test_a_full_disk_leaves_the_previous_predictions_whole(model_and_csv, small_disk):
    model, rows = model_and_csv
    out = small_disk / "predictions.csv"
    out.write_text("row,p_0\n0,1\n")
    filler = small_disk / "filler"
    filler.write_bytes(b"\0" * (256 * 1024 - 3 * 4096 - 8192))  # leave about 12 KiB free
    result = cli("predict", model, "--csv", rows, "--out", out, "--overwrite")
    assert_one_line_error(result, str(out), "the previous file is intact")
    assert out.read_text() == "row,p_0\n0,1\n"
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler", "predictions.csv"]
    filler.unlink()  # room again: the same command succeeds
    assert cli("predict", model, "--csv", rows, "--out", out, "--overwrite").returncode == 0
    assert len(out.read_text().splitlines()) == 1501
    np.testing.assert_equal(out.read_text().splitlines()[0].split(",")[0], "row")
