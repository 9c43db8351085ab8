"""``nlayer train``: resolve the settings, build the MLP, run ``fit``, write the run directory."""

import shlex
import sys
import time
from pathlib import Path

import numpy as np

import nlayer as nl

from . import config, data, monitoring, plots, report, rundir
from .errors import CLIError
from .interrupt import KeepBestOnInterrupt, StopOnInterrupt
from .progress import EpochReporter


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


def plateau(cfg):
    if cfg["schedule"] != "plateau":
        return None
    return nl.ReduceLROnPlateau(monitor=cfg["monitor_metric"], factor=cfg["lr_factor"] or 0.1,
                                patience=cfg["lr_patience"], min_lr=cfg["min_lr"])


def checkpointer(cfg, out, every_seconds=None):
    every = cfg["checkpoint_every"]
    return nl.ModelCheckpoint(out / rundir.CHECKPOINT, every_epochs=every,
                              every_seconds=every_seconds) if every else None


def fit(model, ds, cfg, console, show_progress, out=None, resume=False, monitor=None,
        callbacks=(), checkpoint_seconds=None):
    """Train with Ctrl-C handling; returns (history, stopper, interrupted, seconds).

    With ``out`` the run checkpoints there (every ``checkpoint_every`` epochs, at most
    every ``checkpoint_seconds`` if given); ``resume`` continues from its checkpoint.
    ``callbacks`` come after the run's own (a ``runs_last`` one after its checkpoint).
    """
    stopper = early_stopping(cfg)
    reporter = EpochReporter(console) if show_progress else None
    saver = checkpointer(cfg, out, checkpoint_seconds) if out is not None else None
    callbacks = [cb for cb in (plateau(cfg), stopper, reporter, monitor, saver, *callbacks)
                 if cb is not None]
    start = time.perf_counter()
    with StopOnInterrupt(model) as guard:
        try:
            history = model.fit(ds.X_train, ds.y_train, epochs=cfg["epochs"],
                                batch_size=cfg["batch_size"], validation_split=cfg["dev_split"],
                                seed=cfg["seed"], callbacks=[guard, *callbacks],
                                class_weight=None if cfg["class_weight"] == "none" else
                                cfg["class_weight"],
                                resume_from=out / rundir.CHECKPOINT if resume else None)
        finally:
            if reporter is not None:
                reporter.close()
    interrupted = guard.requested and history.interrupted
    return history, stopper, interrupted, time.perf_counter() - start


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
    if cfg["schedule"] != "constant":
        opt += f" ({cfg['schedule']})"
    if cfg["optimizer"] == "sgd":
        opt += f" momentum={cfg['momentum']:g}" + (" nesterov" if cfg["nesterov"] else "")
    if cfg["weight_decay"]:
        opt += f" weight_decay={cfg['weight_decay']:g}"
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


def train_and_write(model, ds, cfg, out, console=None, verbose=False, started=None,
                    checkpoints=False, resume=False, callbacks=(), checkpoint_seconds=None):
    """Fit, score on the test set and write the run directory; returns the summary.

    The one path of ``nlayer train`` and of every ``nlayer sweep`` trial (data in memory).
    With ``checkpoints`` the run checkpoints into ``out`` (``resume``: continues from there;
    ``checkpoint_seconds``: at most that often); ``callbacks`` are added to the run's own;
    ``cfg["monitor"]`` (every N batches) adds a LayerMonitor and its files.
    """
    started = time.perf_counter() if started is None else started
    monitor = nl.LayerMonitor(cfg["monitor"]) if cfg.get("monitor") else None
    with np.errstate(all="ignore"):  # overflow surfaces as TrainingDivergedError instead
        history, stopper, interrupted, seconds = fit(model, ds, cfg, console, verbose,
                                                     out if checkpoints else None, resume,
                                                     monitor, callbacks, checkpoint_seconds)
    training = report.training_summary(history, stopper, interrupted, seconds)
    summary = finish(model, ds, cfg, out, training, started)
    if monitor is not None:
        summary = monitoring.write(out, model.history, summary, monitor.activation_samples)
    return summary


def settings(args):
    """(config, run directory, resuming?) from the flags, or from the run that --resume names."""
    explicit = {k: v for k, v in vars(args).items() if k in config.CHECKS}
    if getattr(args, "resume", None) is None:
        cfg = config.resolve(explicit, args.config)
        out = rundir.choose(args.out, Path(cfg["csv"]).stem if cfg["csv"] else cfg["dataset"],
                            args.overwrite)
        return cfg, out, False
    given = sorted(set(explicit) | {k for k in ("config", "out", "overwrite") if getattr(args, k)})
    if given:
        flags = ", ".join("--" + k.replace("_", "-") for k in given)
        raise CLIError(f"--resume continues a run with its own settings; drop {flags} "
                       "(start a new run to change them)")
    out = Path(args.resume)
    for name in ("config.toml", rundir.CHECKPOINT):
        if not (out / name).is_file():
            raise CLIError(f"cannot resume {out}: it has no {name}"
                           + ("; was it trained with --checkpoint-every 0?"
                              if name == rundir.CHECKPOINT else "; is it an nlayer run directory?"))
    return config.resolve({}, out / "config.toml"), out, True


def resume_command(out):
    return f"nlayer train --resume {shlex.quote(str(out))}"


def tell_how_to_resume(cfg, out, what):
    if cfg["checkpoint_every"]:
        message = f"nlayer: {what}; continue with: {resume_command(out)}"
    else:
        message = f"nlayer: {what}; checkpoints were off (--checkpoint-every 0), so it cannot resume"
    print(message, file=sys.stderr)


def run(args, console):
    """The train command; returns the exit code (130 when Ctrl-C stopped it)."""
    started = time.perf_counter()
    cfg, out, resume = settings(args)
    rundir.make(out)  # an unwritable run directory fails here, before any training
    rundir.write_config(out / "config.toml", cfg)
    ds = data.load_for_training(cfg)
    if ds.task == "regression" and cfg["class_weight"] != "none":
        raise CLIError("--class-weight is for classification, and this run is a regression")
    model = build_model(cfg, ds.task, n_outputs(ds))
    verbose = not (args.quiet or args.json)
    if verbose:
        describe_start(console, ds, cfg)
        if resume:
            console.print(f"resuming from {out / rundir.CHECKPOINT}", markup=False,
                          soft_wrap=True)
    try:
        summary = train_and_write(model, ds, cfg, out, console, verbose, started,
                                  checkpoints=True, resume=resume)
    except KeyboardInterrupt:  # the second Ctrl-C: no model, but say where the run stands
        rundir.write_json(out / "summary.json", {
            "status": "aborted", "run_dir": str(out), "config": cfg,
            "resume": resume_command(out) if cfg["checkpoint_every"] else None})
        tell_how_to_resume(cfg, out, "aborted; the last checkpoint is the last completed epoch")
        raise
    if args.json:
        report.print_json(summary)
    else:
        report.print_summary(console, summary)
        monitoring.print_flags(console, summary)
    if summary["interrupted"]:
        tell_how_to_resume(cfg, out, "interrupted; the run directory holds the best weights so far")
        return 130
    return 0
