"""MLflowLogger: a ``fit`` as an MLflow run: parameters, metrics per epoch, the model file.

It logs into whatever tracking URI is set (``mlflow.set_tracking_uri`` or
``MLFLOW_TRACKING_URI``; else MLflow's default, ``mlflow.db`` or an existing ``mlruns``
folder in the working directory) and needs ``pip install "nlayer[mlflow]"``, imported only
when a fit begins. It starts a run when none is active and ends only a run it started;
inside ``with mlflow.start_run():`` it logs into that run and leaves it open.
"""

import math
import os
import tempfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..utils.checks import is_real
from .base import Callback
from .optional import require

__all__ = ["MLflowLogger", "model_params", "MODEL_ARTIFACT"]

#: the artifact of the final model: ``<run>/artifacts/model/model.nlayer``
MODEL_ARTIFACT = "model/model.nlayer"
#: MLflow's limits: characters of a parameter value, entries per log_batch call
MAX_PARAM_CHARS, BATCH = 6000, 100


class MLflowLogger(Callback):
    """Log ``fit`` to MLflow: ``params`` (default: the model's compile and fit settings, see
    :func:`model_params`), every History key per epoch (step = the epoch) and, with
    ``log_model``, the final model (nlayer's file, at :data:`MODEL_ARTIFACT`).

    ``run_id`` names the run once training began; :meth:`log_files` and
    :meth:`log_metrics` add to it, also after ``fit`` (the command line logs its run
    directory so). A fit that raises leaves a run it started open: call
    :meth:`end_run` with ``"FAILED"``.

    Parameters
    ----------
    params : dict, optional
        The run's parameters; None logs the model's settings.
    run_name : str, optional
        The name of the run it starts (when no run is active).
    log_model : bool, default True

    Raises
    ------
    TypeError
        If an argument is of the wrong type.
    ImportError
        When training begins, if mlflow is missing.

    Examples
    --------
    >>> model.fit(X, y, epochs=10, callbacks=[nl.MLflowLogger()])    # doctest: +SKIP
    """

    #: after every other callback: the model logged is the final one (best weights restored)
    runs_last = True

    def __init__(self, params: dict[str, Any] | None = None, run_name: str | None = None,
                 log_model: bool = True) -> None:
        if params is not None and not isinstance(params, dict):
            raise TypeError(f"params must be a dict of parameter names to values (or None for "
                            f"the model's settings), got {type(params).__name__}")
        if run_name is not None and not isinstance(run_name, str):
            raise TypeError(f"run_name must be a string or None, got {run_name!r}")
        if not isinstance(log_model, bool):
            raise TypeError(f"log_model must be True or False, got {log_model!r}")
        self.params, self.run_name, self.log_model = params, run_name, log_model
        self.run_id: str | None = None
        self._started = False
        # the mlflow module and its MlflowClient once a run starts (an optional extra)
        self._mlflow: Any = None
        self._client: Any = None

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._mlflow = mlflow = require("mlflow", "mlflow", "nl.MLflowLogger")
        run = mlflow.active_run()
        self._started = run is None
        if run is None:
            run = mlflow.start_run(run_name=self.run_name)
        self.run_id = run.info.run_id
        self._client = mlflow.MlflowClient()
        params = self.params if self.params is not None else model_params(self.model, logs)
        entity = require("mlflow.entities", "mlflow", "nl.MLflowLogger").Param
        self._log_batch(params=[entity(str(k), _param_text(v)) for k, v in params.items()])

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.log_metrics(logs or {}, step=epoch)

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        if self.log_model:
            with tempfile.TemporaryDirectory(prefix="nlayer-mlflow-") as tmp:
                path = Path(tmp) / Path(MODEL_ARTIFACT).name
                self.model.save(path)  # nlayer's own file, written atomically
                self.log_files([path], artifact_path=str(Path(MODEL_ARTIFACT).parent))
        self.end_run()

    # -- adding to the run ---------------------------------------------------------------
    def log_metrics(self, metrics: Mapping[str, Any], step: int = 0) -> None:
        """Log the finite numbers of ``metrics`` at ``step``."""
        entity = require("mlflow.entities", "mlflow", "nl.MLflowLogger").Metric
        now = int(time.time() * 1000)
        self._log_batch(metrics=[entity(str(k), float(v), now, int(step))
                                 for k, v in metrics.items() if is_real(v) and math.isfinite(v)])

    def log_files(self, paths: Iterable[str | os.PathLike[str]],
                  artifact_path: str | None = None) -> None:
        """Log each file of ``paths`` as an artifact of the run (under ``artifact_path``)."""
        self._require_run()
        for path in paths:
            self._client.log_artifact(self.run_id, str(path), artifact_path)

    def end_run(self, status: str = "FINISHED") -> None:
        """End the run if this logger started it and it is still open (no-op otherwise)."""
        if not self._started:
            return
        self._started = False
        active = self._mlflow.active_run()
        if active is not None and active.info.run_id == self.run_id:
            self._mlflow.end_run(status)
        else:  # the user switched runs meanwhile: end ours without touching theirs
            self._client.set_terminated(self.run_id, status)

    def _require_run(self):
        if self.run_id is None:
            raise RuntimeError("MLflowLogger has no run yet: pass it to fit(callbacks=[...]) "
                               "first; its run begins with the training")

    def _log_batch(self, metrics=(), params=()):
        self._require_run()
        for i in range(0, max(len(metrics), len(params)), BATCH):
            self._client.log_batch(self.run_id, metrics=metrics[i:i + BATCH],
                                   params=params[i:i + BATCH])


def model_params(model, logs=None):
    """The model's compile and fit settings as flat MLflow parameters: ``optimizer`` and
    ``optimizer.lr`` etc., ``loss``, ``l2``, ``metrics``, ``normalize``, ``layers`` (one line),
    ``epochs``, ``batch_size`` and the training ``rows``."""
    config = model.get_config()
    params = _flat(config.get("compile", {}))
    params["layers"] = " > ".join(_layer_text(c) for c in config["layers"])
    state = model._fit_state
    if state is not None:
        params.update(epochs=state.epochs, batch_size=state.batch_size)
    if logs and "samples" in logs:
        params["rows"] = logs["samples"]
    return params


def _flat(settings, prefix=""):
    """Nested dicts as dotted keys; a dict's ``name`` is the value of its own key."""
    out = {}
    for key, value in settings.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            if "name" in value:
                out[name] = value["name"]
            out.update(_flat({k: v for k, v in value.items() if k != "name"}, f"{name}."))
        else:
            out[name] = value
    return out


def _layer_text(config):
    """``Dense(units=256, activation=relu, ...)`` from a layer's config."""
    fields = ", ".join(f"{k}={v.get('name') if isinstance(v, dict) else v}"
                       for k, v in config.items() if k not in ("class", "name"))
    return f"{config['class']}({fields})"


def _param_text(value):
    text = " ".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
    return text[:MAX_PARAM_CHARS]
