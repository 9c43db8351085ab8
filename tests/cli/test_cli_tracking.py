"""``nlayer train --tensorboard`` and ``--mlflow`` (or the same keys in a TOML config): event
files in the run directory holding history.csv's numbers, and an MLflow run holding the config,
the metrics per epoch, the model and the figures."""

import json
import os

import numpy as np
import pytest

import nlayer as nl
from cli_run import FAST, assert_one_line_error, cli, read_csv_dicts  # tests/helpers


def _history(out):
    return read_csv_dicts(out / "history.csv")


def test_train_tensorboard_writes_the_runs_numbers_into_the_run_directory(tmp_path):
    pytest.importorskip("tensorboardX", reason='--tensorboard needs "nlayer[tensorboard]"')
    accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    out = tmp_path / "run"
    result = cli("train", *FAST, "--epochs", "3", "--tensorboard", "--monitor", "5", "--out", out)
    assert result.returncode == 0, result.stderr
    rows = _history(out)
    train = accumulator.EventAccumulator(str(out / "tensorboard" / "train"))
    dev = accumulator.EventAccumulator(str(out / "tensorboard" / "validation"))
    batches = accumulator.EventAccumulator(str(out / "tensorboard" / "train_batches"))
    for acc in (train, dev, batches):
        acc.Reload()
    for acc, tag, column in ((train, "epoch_loss", "loss"), (dev, "epoch_accuracy", "val_accuracy"),
                             (train, "epoch_learning_rate", "lr")):
        assert [(e.step, e.value) for e in acc.Scalars(tag)] == \
            [(int(r["epoch"]), np.float32(r[column])) for r in rows], tag
    assert "dense_1/dW" in train.Tags()["histograms"]
    stats = read_csv_dicts(out / "layer_stats.csv")
    dense = [r for r in stats if r["layer"] == "dense_1"]
    assert [e.value for e in batches.Scalars("dense_1/grad_rms")] == \
        [np.float32(r["grad_rms"]) for r in dense]
    assert "tensorboard = true" in (out / "config.toml").read_text()


def test_tensorboard_in_a_toml_config_and_a_replaced_run_replaces_its_event_files(tmp_path):
    pytest.importorskip("tensorboardX", reason='--tensorboard needs "nlayer[tensorboard]"')
    config, out = tmp_path / "c.toml", tmp_path / "run"
    config.write_text("tensorboard = true\nepochs = 2\nhidden = [16]\n")
    assert cli("train", "--config", config, "--out", out).returncode == 0
    first = sorted(p.name for p in (out / "tensorboard" / "train").iterdir())
    result = cli("train", "--config", config, "--out", out, "--overwrite")
    assert result.returncode == 0, result.stderr
    second = sorted(p.name for p in (out / "tensorboard" / "train").iterdir())
    assert len(first) == len(second) == 1 and first != second
    result = cli("train", "--config", config, "--no-tensorboard", "--out", out, "--overwrite")
    assert result.returncode == 0 and not (out / "tensorboard").exists()


def test_train_mlflow_logs_config_metrics_model_and_figures(tmp_path):
    mlflow = pytest.importorskip("mlflow", reason='--mlflow needs "nlayer[mlflow]"')
    uri, out = f"sqlite:///{tmp_path / 'mlflow.db'}", tmp_path / "run"
    result = cli("train", *FAST, "--epochs", "3", "--mlflow", "--out", out, "--json",
                 env={"MLFLOW_TRACKING_URI": uri}, timeout=300, cwd=tmp_path)  # ./mlruns
    assert result.returncode == 0, result.stderr
    summary = json.loads((out / "summary.json").read_text())
    client = mlflow.MlflowClient(tracking_uri=uri)
    [run] = client.search_runs([client.get_experiment_by_name("Default").experiment_id])
    assert run.info.run_id == summary["mlflow_run_id"] and run.info.status == "FINISHED"
    assert run.info.run_name == "run"
    params = run.data.params
    assert params["hidden"] == "32" and params["batch_size"] == "64" and \
        params["epochs"] == "3" and params["dataset"] == "digits" and params["mlflow"] == "True"
    rows = _history(out)
    for column in ("loss", "val_loss", "accuracy", "val_accuracy", "lr"):
        logged = sorted(client.get_metric_history(run.info.run_id, column), key=lambda m: m.step)
        assert [(m.step, m.value) for m in logged] == \
            [(int(r["epoch"]), float(r[column])) for r in rows], column
    assert run.data.metrics["test_accuracy"] == summary["test_accuracy"]
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"model.nlayer", "learning_curves.png", "confusion_matrix.png", "config.toml",
            "history.csv", "summary.json"} <= artifacts
    path = client.download_artifacts(run.info.run_id, "model.nlayer", str(tmp_path))
    X = np.random.default_rng(0).random((5, 64), dtype=np.float32)
    np.testing.assert_array_equal(nl.load(path).predict(X), nl.load(out / "model.nlayer").predict(X))


@pytest.mark.parametrize("flag, package, extra", [("--mlflow", "mlflow", "mlflow"),
                                                  ("--tensorboard", "tensorboardX", "tensorboard")])
def test_a_missing_package_is_a_one_line_error_before_training(tmp_path, flag, package, extra):
    shadow = tmp_path / "shadow"  # a package of that name that fails to import, found first
    (shadow / package).mkdir(parents=True)
    (shadow / package / "__init__.py").write_text("raise ImportError('not installed')\n")
    result = cli("train", flag, "--out", tmp_path / "run", cwd=tmp_path,
                 env={"PYTHONPATH": os.pathsep.join([str(shadow), os.environ["PYTHONPATH"]])
                      if os.environ.get("PYTHONPATH") else str(shadow)})
    assert_one_line_error(result, f'pip install "nlayer[{extra}]"')
    assert not (tmp_path / "run" / "config.toml").exists()  # nothing trained or written
