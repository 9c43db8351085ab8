"""A training run: the MLP its settings describe, ``fit`` with the run's callbacks, the test
score and the run directory. The one path of ``nlayer train`` and of every sweep trial."""

import dataclasses
import time
from pathlib import Path

import numpy as np

import nlayer as nl

from . import data, members, monitoring, plots, rundir, summary as summary_mod, tracking
from .interrupt import KeepBestOnInterrupt, StopOnInterrupt

__all__ = ["build_model", "learning_rate", "early_stopping", "augmentation", "plateau", "checkpointer", "fit",
           "write_run", "n_outputs", "finish", "train_and_write"]


def build_model(cfg, task, n_outputs=None):
    """The MLP and compile settings a resolved config describes."""
    classification = task == "classification"
    model = nl.MLP(hidden=cfg["hidden"], activation=cfg["activation"],
                   output="softmax" if classification else "linear", n_outputs=n_outputs,
                   batchnorm=cfg["batchnorm"], dropout=cfg["dropout"], init=cfg["init"],
                   dtype=cfg["dtype"])
    model.compile(optimizer=nl.optimizers.from_settings(cfg["optimizer"], learning_rate(cfg),
                                                        cfg["momentum"], cfg["nesterov"],
                                                        cfg["weight_decay"]),
                  loss="categorical_crossentropy" if classification else "mean_squared_error",
                  l2=cfg["l2"],
                  metrics=["accuracy"] if classification else ["mse", "mae", "r2"],
                  normalize=None if cfg["normalize"] == "none" else cfg["normalize"],
                  scale_targets=not classification and cfg.get("scale_targets", True))
    return model


def learning_rate(cfg):
    """The constant rate, or the schedule the settings describe (peak rate ``lr``)."""
    cycle = cfg["schedule"] == "onecycle" and cfg["optimizer"] == "sgd" and \
        cfg["momentum"] > 0 and cfg["cycle_momentum"]
    schedule = nl.schedules.from_settings(
        cfg["schedule"], cfg["lr"], cfg["epochs"], warmup=cfg["warmup"],
        factor=cfg["lr_factor"], every=cfg["lr_every"], min_lr=cfg["min_lr"],
        momentum_range=(max(0.0, cfg["momentum"] - 0.1), cfg["momentum"]) if cycle else None)
    return cfg["lr"] if schedule is None else schedule


def early_stopping(cfg):
    """EarlyStopping with the run's patience; without one, a keeper of the best dev epoch
    for Ctrl-C; None without a development set."""
    if cfg["dev_split"] <= 0:
        return None
    if cfg["patience"] > 0:
        return nl.EarlyStopping(monitor=cfg["monitor_metric"], patience=cfg["patience"],
                                restore_best_weights=True)
    return KeepBestOnInterrupt(cfg["monitor_metric"])


def augmentation(cfg):
    """The Augmentation of the settings' ``augment`` text (``shift=2,flip``), or None."""
    return None if cfg.get("augment") is None else nl.Augmentation.parse(cfg["augment"])


def plateau(cfg):
    if cfg["schedule"] != "plateau":
        return None
    return nl.ReduceLROnPlateau(monitor=cfg["monitor_metric"], factor=cfg["lr_factor"] or 0.1,
                                patience=cfg["lr_patience"], min_lr=cfg["min_lr"])


def checkpointer(cfg, out, every_seconds=None):
    every = cfg["checkpoint_every"]
    return nl.ModelCheckpoint(out / rundir.CHECKPOINT, every_epochs=every,
                              every_seconds=every_seconds) if every else None


def fit(model, ds, cfg, reporter=None, out=None, resume=False, monitor=None, callbacks=(),
        checkpoint_seconds=None, validation=None):
    """Train with Ctrl-C handling; returns (history, stopper, interrupted, seconds).

    ``reporter`` is a callback that shows progress (the command line's), or None.
    With ``out`` the run checkpoints there (every ``checkpoint_every`` epochs, at most
    every ``checkpoint_seconds`` if given); ``resume`` continues from its checkpoint.
    ``callbacks`` come after the run's own (a ``runs_last`` one after its checkpoint).
    ``validation``: (X_dev, y_dev) instead of splitting ``dev_split`` off (ensembles).
    """
    stopper = early_stopping(cfg)
    saver = checkpointer(cfg, out, checkpoint_seconds) if out is not None else None
    callbacks = [cb for cb in (plateau(cfg), stopper, reporter, monitor, saver, *callbacks)
                 if cb is not None]
    start = time.perf_counter()
    with StopOnInterrupt(model) as guard:
        history = model.fit(ds.X_train, ds.y_train, epochs=cfg["epochs"],
                            batch_size=cfg["batch_size"],
                            validation_split=0.0 if validation else cfg["dev_split"],
                            validation_data=validation,
                            seed=cfg["seed"], callbacks=[guard, *callbacks],
                            class_weight=None if cfg["class_weight"] == "none" else
                            cfg["class_weight"], augment=augmentation(cfg),
                            adversarial=cfg.get("adversarial"),
                            resume_from=out / rundir.CHECKPOINT if resume else None)
    interrupted = guard.requested and history.interrupted
    return history, stopper, interrupted, time.perf_counter() - start


def fit_ensemble(first, ds, cfg, reporter=None, out=None, resume=False, callbacks=(),
                 checkpoint_seconds=None, announce=None):
    """``cfg["ensemble"]`` members trained one after another (see :mod:`.members`);
    returns (merged model, first member's history and stopper, interrupted, seconds,
    what summary.json says of the ensemble). ``announce(text)`` shows which member starts."""
    count, seeds = cfg["ensemble"], [cfg["seed"] + k for k in range(cfg["ensemble"])]
    (X, y), dev = members.split(ds, cfg)
    part = dataclasses.replace(ds, X_train=X, y_train=y)
    trained = members.finished(out, count) if resume and out is not None else []
    current = members.checkpoint_member(out, cfg) if resume and out is not None else None
    seconds, interrupted, first_stopper = 0.0, False, None
    for k in range(len(trained), count):
        if announce is not None:
            announce(f"member {k + 1}/{count} (seed {seeds[k]})")
        model = first if k == 0 else build_model(cfg, ds.task, n_outputs(ds))
        _, stopper, interrupted, spent = fit(model, part, {**cfg, "seed": seeds[k]}, reporter,
                                             out, current == k, None, callbacks,
                                             checkpoint_seconds, dev)
        if k == 0:
            first_stopper = stopper
        seconds += spent
        trained.append(model)
        if interrupted:
            break
        if out is not None:
            members.save_member(out, k, model)
    model, report = members.merge(trained, seeds[:len(trained)], (X, y), dev)
    return model, model.history, first_stopper, interrupted, seconds, report


def write_run(out, model, ds, cfg, summary):
    """Everything a run leaves behind; returns the file names written."""
    files = ["model.nlayer", "config.toml", "history.csv", "learning_curves.png"]
    model.save(out / "model.nlayer")
    rundir.write_config(out / "config.toml", cfg)
    history = model.history
    rundir.write_history(out / "history.csv", history.history)
    metric = "accuracy" if ds.task == "classification" else "mae"
    plots.learning_curves(out / "learning_curves.png", history.history,
                          summary["best_epoch"], metric)
    if ds.task == "classification":
        predicted = model.predict(ds.X_test).argmax(axis=1)
        counts = plots.confusion_counts(ds.y_test, predicted, len(ds.class_names))
        plots.confusion_matrix(out / "confusion_matrix.png", counts, ds.class_names)
        files.append("confusion_matrix.png")
    return files + ["summary.json"]


def n_outputs(ds):
    """Output units: one per class, or per regression target (a 2-D y of --npy)."""
    if ds.class_names:
        return len(ds.class_names)
    return ds.y_train.shape[1] if ds.y_train.ndim == 2 else 1


def finish(model, ds, cfg, out, training, started, shown_as=None):
    """Score on the test set, record metadata, write the run directory; returns the summary."""
    test_metrics = model.evaluate(ds.X_test, ds.y_test)
    model.metadata = {**data.describe(ds, cfg), "config": cfg,
                      "training": {**training, "test": test_metrics}}
    rundir.make(out)
    summary = summary_mod.build(ds=ds, cfg=cfg, history=model.history,
                                test_metrics=test_metrics, training=training,
                                run_dir=shown_as or out)
    summary["files"] = write_run(out, model, ds, cfg, summary)
    summary["wall_seconds"] = round(time.perf_counter() - started, 3)
    rundir.write_json(out / "summary.json", summary)
    return summary


def train_and_write(model, ds, cfg, out, reporter=None, started=None, checkpoints=False,
                    resume=False, callbacks=(), checkpoint_seconds=None, shown_as=None):
    """Fit, score on the test set and write the run directory; returns the summary.

    The one path of ``nlayer train`` and of every ``nlayer sweep`` trial (data in memory).
    With ``checkpoints`` the run checkpoints into ``out`` (``resume``: continues from there;
    ``checkpoint_seconds``: at most that often); ``callbacks`` are added to the run's own;
    ``cfg["monitor"]`` (every N batches) adds a LayerMonitor and its files;
    ``cfg["tensorboard"]`` and ``cfg["mlflow"]`` the tracking of :mod:`.tracking`; ``reporter``
    is the callback that shows progress (the command line's), or None.
    ``shown_as`` is the run directory the summary names when ``out`` is a staging folder
    (see :func:`nlayer.runs.rundir.staged`).
    """
    started = time.perf_counter() if started is None else started
    monitor = nl.LayerMonitor(cfg["monitor"]) if cfg.get("monitor") else None
    board, logger = tracking.callbacks(cfg, out, Path(shown_as or out).name)
    callbacks = [*callbacks, *(cb for cb in (board, logger) if cb is not None)]
    ensemble = None
    try:
        with np.errstate(all="ignore"):  # overflow surfaces as TrainingDivergedError instead
            if cfg.get("ensemble", 1) > 1:
                model, history, stopper, interrupted, seconds, ensemble = fit_ensemble(
                    model, ds, cfg, reporter, out if checkpoints else None, resume, callbacks,
                    checkpoint_seconds, getattr(reporter, "announce", None))
            else:
                history, stopper, interrupted, seconds = fit(
                    model, ds, cfg, reporter, out if checkpoints else None, resume, monitor,
                    callbacks, checkpoint_seconds)
    except BaseException as exc:  # fit did not end: neither does the MLflow run by itself
        if logger is not None:
            logger.end_run("KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED")
        raise
    training = summary_mod.training_summary(history, stopper, interrupted, seconds)
    if ensemble is not None:
        training["ensemble"] = ensemble
    summary = finish(model, ds, cfg, out, training, started, shown_as)
    if monitor is not None:
        summary = monitoring.write(out, model.history, summary, monitor.activation_samples)
    if logger is not None:
        summary = tracking.log_run(logger, out, summary)
    return summary
