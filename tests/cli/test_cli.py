"""End-to-end tests of the ``nlayer`` command line as a whole: one-line errors, ``--version``,
``lr-find`` and ``compare``, run in subprocesses.
"""

import json
import signal
import subprocess
import sys
import time

import pytest

pytest.importorskip("rich")
pytest.importorskip("sklearn")
mpimg = pytest.importorskip("matplotlib.image")

import nlayer as nl  # noqa: E402
from cli_run import ENV, FAST, assert_one_line_error, cli  # noqa: E402



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
    (["train", "--target", "target"], ["--target target names a column of a CSV or Parquet "
                                        "file", "pass --csv FILE"]),
    (["train", "--hidden", "1000000", "1000000", "--quiet"],
     ["the model needs about", "TB", "Use fewer or narrower --hidden layers"]),
    (["train", *FAST, "--epochs", "2", "--monitor-metric", "val_acc"],
     ["EarlyStopping monitors 'val_acc'", "val_accuracy, val_data_loss, val_l2_penalty, val_loss",
      "check the spelling"]),
    (["train", "--schedule", "sawtooth"], ["--schedule", "sawtooth"]),
    (["lr-find", "--start-lr", "1", "--end-lr", "0.1"], ["end_lr (0.1) must be larger"]),
])
def test_user_errors_are_one_line(args, words, tmp_path):
    assert_one_line_error(cli(*args, cwd=tmp_path), *words)


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
    assert mpimg.imread(out / "comparison.png").shape[:2] == (500, 1400)  # curves | differences
    # scikit-learn's curves lie under nlayer's: comparison.json says by how much
    assert set(report["agreement"]["sklearn"]) == {"loss", "accuracy"}
    assert report["agreement"]["sklearn"]["loss"] < 1e-4


def test_compare_with_keras_prints_no_tensorflow_start_up_lines(tmp_path):
    pytest.importorskip("keras")
    result = cli("compare", "--dataset", "digits", *FAST, "--epochs", "1", "--peers", "keras",
                 "--out", tmp_path / "cmp", "--quiet", timeout=300)
    assert result.returncode == 0, result.stderr
    assert "keras" in result.stdout
    # TensorFlow's C++ start-up (oneDNN, CUDA drivers, absl) would write these to stderr
    for line in ("absl", "oneDNN", "cuda"):
        assert line not in result.stderr
