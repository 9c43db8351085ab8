"""The tracking a run's settings ask for: TensorBoard event files in the run directory
(``tensorboard = true``, ``nlayer train --tensorboard``) and an MLflow run (``mlflow = true``,
``--mlflow``), both the library's callbacks (:class:`nlayer.TensorBoard`,
:class:`nlayer.MLflowLogger`)."""

from pathlib import Path

import nlayer as nl
from nlayer.callbacks.optional import require

from . import rundir
from .errors import UserError

__all__ = ["check", "callbacks", "log_run", "PACKAGES"]

#: the setting, the package it needs and the extra that installs it
PACKAGES = (("tensorboard", "tensorboardX", "tensorboard"), ("mlflow", "mlflow", "mlflow"))


def check(cfg):
    """A UserError before any training when a package the settings need is missing."""
    for key, module, extra in PACKAGES:
        if cfg.get(key):
            try:
                require(module, extra, f"--{key}")
            except ImportError as exc:
                raise UserError(str(exc)) from None


def callbacks(cfg, out, name):
    """(TensorBoard or None, MLflowLogger or None) for the run written into ``out``; the MLflow
    run is named ``name`` and gets the whole config as parameters (the model file comes from
    the run directory: :func:`log_run`)."""
    board = nl.TensorBoard(Path(out) / rundir.TENSORBOARD) if cfg.get("tensorboard") else None
    logger = nl.MLflowLogger(params=cfg, run_name=name, log_model=False) \
        if cfg.get("mlflow") else None
    return board, logger


def log_run(logger, out, summary):
    """The test metrics and the run directory's files (model, config, history, figures,
    summary) into the logger's MLflow run, whose id the summary then names."""
    logger.log_metrics({f"test_{k}": v for k, v in summary["metrics"]["test"].items()})
    summary["mlflow_run_id"] = logger.run_id
    rundir.write_json(Path(out) / "summary.json", summary)
    logger.log_files([Path(out) / f for f in summary["files"] if (Path(out) / f).is_file()])
    return summary
