"""nl.MLflowLogger against a real local sqlite tracking store: parameters, the metric history per
epoch, the model artifact (which loads to the same predictions), and whose run it ends."""

import os
import sys

import numpy as np
import pytest

import nlayer as nl

mlflow = pytest.importorskip("mlflow", reason='nl.MLflowLogger needs mlflow '
                             '(pip install "nlayer[mlflow]")')


@pytest.fixture
def tracking(tmp_path, monkeypatch):
    """A fresh sqlite tracking store for the test; the earlier tracking URI afterwards. From
    tmp_path: the store keeps artifacts in ./mlruns."""
    monkeypatch.chdir(tmp_path)
    # set_tracking_uri keeps the URI in MLFLOW_TRACKING_URI too; None unsets both (the default
    # resolved by get_tracking_uri would be an absolute path that later tests inherit)
    previous = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    try:
        yield mlflow.MlflowClient()
    finally:
        while mlflow.active_run() is not None:
            mlflow.end_run()
        mlflow.set_tracking_uri(previous)


def _fit(digits, callbacks, epochs=3):
    model = nl.MLP(hidden=(16,))
    model.compile(optimizer=nl.SGD(lr=0.05, momentum=0.9), l2=1e-3, metrics=["accuracy"])
    model.fit(digits[0], digits[1], epochs=epochs, batch_size=64, validation_split=0.1, seed=0,
              callbacks=callbacks)
    return model


def test_params_metrics_per_epoch_and_the_model_that_loads(digits, tracking, tmp_path):
    logger = nl.MLflowLogger(run_name="digits")
    model = _fit(digits, [logger])
    run = tracking.get_run(logger.run_id)
    assert run.info.status == "FINISHED" and run.info.run_name == "digits"
    assert mlflow.active_run() is None  # the run it started is ended
    params = run.data.params
    assert {k: params[k] for k in ("optimizer", "optimizer.lr", "optimizer.momentum", "loss",
                                   "l2", "metrics", "epochs", "batch_size", "rows")} == {
        "optimizer": "sgd", "optimizer.lr": "0.05", "optimizer.momentum": "0.9",
        "loss": "categorical_crossentropy", "l2": "0.001", "metrics": "accuracy",
        "epochs": "3", "batch_size": "64", "rows": "1293"}
    assert params["layers"].startswith("Dense(units=16, activation=relu")
    for key, values in model.history.history.items():
        logged = tracking.get_metric_history(logger.run_id, key)
        assert [(m.step, m.value) for m in sorted(logged, key=lambda m: m.step)] == \
            list(zip([1, 2, 3], values)), key
    assert [a.path for a in tracking.list_artifacts(logger.run_id, "model")] == \
        ["model/model.nlayer"]
    path = tracking.download_artifacts(logger.run_id, "model/model.nlayer", str(tmp_path))
    np.testing.assert_array_equal(nl.load(path).predict(digits[2]), model.predict(digits[2]))
    found = mlflow.search_runs(output_format="list")
    assert [r.info.run_id for r in found] == [logger.run_id]


def test_inside_an_active_run_it_logs_there_and_leaves_it_open(digits, tracking):
    with mlflow.start_run() as outer:
        logger = nl.MLflowLogger(params={"note": "mine"}, log_model=False)
        _fit(digits, [logger], epochs=1)
        assert logger.run_id == outer.info.run_id
        assert mlflow.active_run().info.run_id == outer.info.run_id
    run = tracking.get_run(outer.info.run_id)
    assert run.data.params == {"note": "mine"}
    assert tracking.list_artifacts(outer.info.run_id) == []
    assert run.data.metrics["loss"] > 0


def test_the_model_logged_has_the_best_weights_early_stopping_restored(digits, tracking,
                                                                         tmp_path):
    logger = nl.MLflowLogger()
    stopper = nl.EarlyStopping(patience=1, restore_best_weights=True)
    model = _fit(digits, [logger, stopper], epochs=40)  # the logger is listed first
    path = tracking.download_artifacts(logger.run_id, "model/model.nlayer", str(tmp_path))
    np.testing.assert_array_equal(nl.load(path).predict(digits[2]), model.predict(digits[2]))


class Fails(nl.Callback):
    def on_epoch_end(self, epoch, logs=None):
        raise RuntimeError("a failure in the middle of fit")


def test_end_run_closes_a_run_a_failed_fit_left_open(digits, tracking):
    logger = nl.MLflowLogger()
    with pytest.raises(RuntimeError, match="middle of fit"):
        _fit(digits, [logger, Fails()], epochs=2)
    assert mlflow.active_run().info.run_id == logger.run_id
    logger.end_run("FAILED")
    assert mlflow.active_run() is None
    assert tracking.get_run(logger.run_id).info.status == "FAILED"


@pytest.mark.parametrize("kwargs, words", [
    ({"params": ["lr"]}, "params must be a dict"),
    ({"run_name": 3}, "run_name must be a string"),
    ({"log_model": "yes"}, "log_model must be True or False"),
])
def test_bad_settings_are_named(kwargs, words):
    with pytest.raises(TypeError, match=words):
        nl.MLflowLogger(**kwargs)


def test_files_cannot_be_logged_before_a_run(tmp_path):
    with pytest.raises(RuntimeError, match="pass it to fit"):
        nl.MLflowLogger().log_files([tmp_path])


def test_without_mlflow_the_error_names_the_extra(monkeypatch, digits):
    monkeypatch.setitem(sys.modules, "mlflow", None)  # as if not installed
    with pytest.raises(ImportError, match=r'pip install "nlayer\[mlflow\]"'):
        _fit(digits, [nl.MLflowLogger()], epochs=1)
