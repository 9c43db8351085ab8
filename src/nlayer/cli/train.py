"""``nlayer train``: resolve the settings, build the MLP, run ``fit``, write the run directory."""

import time
from pathlib import Path

import numpy as np

import nlayer as nl

from . import config, data, monitoring, plots, report, rundir
from .interrupt import StopOnInterrupt
from .progress import EpochReporter


def build_model(cfg, task, n_outputs=None):
    """The MLP and compile settings a resolved config describes."""
    classification = task == "classification"
    model = nl.MLP(hidden=cfg["hidden"], activation=cfg["activation"],
                   output="softmax" if classification else "linear", n_outputs=n_outputs,
                   batchnorm=cfg["batchnorm"], dropout=cfg["dropout"], init=cfg["init"],
                   dtype=cfg["dtype"])
    model.compile(optimizer=nl.optimizers.from_settings(cfg["optimizer"], cfg["lr"],
                                                        cfg["momentum"], cfg["nesterov"]),
                  loss="categorical_crossentropy" if classification else "mean_squared_error",
                  l2=cfg["l2"],
                  metrics=["accuracy"] if classification else ["mae", "r2"],
                  normalize=None if cfg["normalize"] == "none" else cfg["normalize"])
    return model


def early_stopping(cfg):
    if cfg["patience"] > 0 and cfg["dev_split"] > 0:
        return nl.EarlyStopping(patience=cfg["patience"], restore_best_weights=True)
    return None


def fit(model, ds, cfg, console, show_progress, monitor=None):
    """Train with Ctrl-C handling; returns (history, stopper, interrupted, seconds)."""
    stopper = early_stopping(cfg)
    reporter = EpochReporter(console) if show_progress else None
    callbacks = [cb for cb in (stopper, reporter, monitor) if cb is not None]
    start = time.perf_counter()
    with StopOnInterrupt(model) as guard:
        try:
            history = model.fit(ds.X_train, ds.y_train, epochs=cfg["epochs"],
                                batch_size=cfg["batch_size"], validation_split=cfg["dev_split"],
                                seed=cfg["seed"], callbacks=[guard, *callbacks])
        finally:
            if reporter is not None:
                reporter.close()
    return history, stopper, guard.requested, time.perf_counter() - start


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


def describe_start(console, ds, cfg):
    """Two lines before training: the data, then the network and the recipe."""
    widths = " → ".join(map(str, [ds.n_features, *cfg["hidden"], n_outputs(ds)]))
    classes = f", {len(ds.class_names)} classes" if ds.class_names else ""
    extras = "".join([", batchnorm" if cfg["batchnorm"] else "",
                      f", dropout {cfg['dropout']:g}" if cfg["dropout"] else ""])
    opt = f"{cfg['optimizer']} lr={cfg['lr']:g}"
    if cfg["optimizer"] == "sgd":
        opt += f" momentum={cfg['momentum']:g}" + (" nesterov" if cfg["nesterov"] else "")
    for line in (f"nlayer train: {ds.name} ({ds.task}: {len(ds.y_train)} train+dev rows, "
                 f"{len(ds.y_test)} test rows, {ds.n_features} features{classes})",
                 f"network {widths} ({cfg['activation']}, {cfg['init']}{extras}); {opt}, "
                 f"l2={cfg['l2']:g}, batch {cfg['batch_size']}, up to {cfg['epochs']} epochs, "
                 f"patience {cfg['patience']}, dev split {cfg['dev_split']:g}"):
        console.print(line, markup=False, soft_wrap=True)


def n_outputs(ds):
    return len(ds.class_names) if ds.class_names else 1


def finish(model, ds, cfg, out, training, started):
    """Score on the test set, record metadata, write the run directory; returns the summary."""
    test_metrics = model.evaluate(ds.X_test, ds.y_test)
    model.metadata = {**data.describe(ds, cfg), "config": cfg,
                      "training": {**training, "test": test_metrics}}
    rundir.make(out)
    summary = report.build(ds=ds, cfg=cfg, history=model.history, test_metrics=test_metrics,
                           training=training, run_dir=out)
    summary["files"] = write_run(out, model, ds, cfg, summary)
    summary["wall_seconds"] = round(time.perf_counter() - started, 3)
    rundir.write_json(out / "summary.json", summary)
    return summary


def run(args, console):
    """The train command; returns the exit code."""
    started = time.perf_counter()
    explicit = {k: v for k, v in vars(args).items() if k in config.CHECKS}
    cfg = config.resolve(explicit, args.config)
    out = rundir.choose(args.out, Path(cfg["csv"]).stem if cfg["csv"] else cfg["dataset"],
                        args.overwrite)
    ds = data.load_for_training(cfg)
    model = build_model(cfg, ds.task, n_outputs(ds))
    verbose = not (args.quiet or args.json)
    every = getattr(args, "monitor", None)  # --monitor [BATCHES]
    monitor = nl.LayerMonitor(every) if every is not None else None
    if verbose:
        describe_start(console, ds, cfg)
    with np.errstate(all="ignore"):  # overflow surfaces as TrainingDivergedError instead
        history, stopper, interrupted, seconds = fit(model, ds, cfg, console, verbose, monitor)
    training = report.training_summary(history, stopper, interrupted, seconds)
    summary = finish(model, ds, cfg, out, training, started)
    if monitor is not None:
        summary = monitoring.write(out, model.history, summary, monitor.activation_samples)
    if args.json:
        report.print_json(summary)
    else:
        report.print_summary(console, summary)
        monitoring.print_flags(console, summary)
    return 0
