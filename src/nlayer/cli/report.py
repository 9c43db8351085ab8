"""The end-of-run summary: a dict (summary.json, --json) and its rich tables."""

from rich.table import Table

import nlayer

from .rundir import dumps

#: Columns of the metrics table per task: (metric key, header).
COLUMNS = {
    "classification": [("loss", "Loss"), ("accuracy", "Accuracy")],
    "regression": [("loss", "Loss"), ("mse", "MSE"), ("mae", "MAE"), ("r2", "R²")],
}


def epoch_metrics(history, epoch, prefix=""):
    """The logged metrics of ``epoch`` (1-based), without the prefix; {} if absent."""
    if not epoch:
        return {}
    out = {}
    for key, values in history.history.items():
        if key.startswith(prefix) and key not in ("lr", "seconds") and epoch <= len(values):
            name = key[len(prefix):]
            if prefix or not key.startswith("val_"):
                out[name] = values[epoch - 1]
    return out


def training_summary(history, stopper, interrupted, seconds):
    """Epoch bookkeeping: best and stopped epoch, which epoch's weights the model kept."""
    restored = stopper is not None and stopper.best_epoch is not None and \
        stopper.restore_best_weights
    weights_epoch = stopper.best_epoch if restored else history.stopped_epoch
    return {
        "epochs_run": len(history.epoch),
        "best_epoch": history.best_epoch,
        "stopped_epoch": history.stopped_epoch,
        "weights_epoch": weights_epoch,
        "early_stopped": stopper is not None and stopper.stopped_epoch is not None,
        "interrupted": bool(interrupted),
        "train_seconds": round(seconds, 3),
    }


def build(*, ds, cfg, history, test_metrics, training, run_dir):
    """Everything summary.json holds."""
    epoch = training["weights_epoch"]
    return {
        "nlayer_version": nlayer.__version__,
        "dataset": ds.name, "task": ds.task, "source": ds.source,
        "n_features": ds.n_features, "class_names": ds.class_names,
        "rows": {"train_and_dev": int(len(ds.y_train)), "test": int(len(ds.y_test))},
        "metrics": {"train": epoch_metrics(history, epoch),
                    "dev": epoch_metrics(history, epoch, "val_") or None,
                    "test": test_metrics},
        **{f"test_{k}": v for k, v in test_metrics.items()},
        **training,
        "wall_seconds": None, "run_dir": str(run_dir), "files": [], "config": cfg,
    }


def _fmt(value):
    return "—" if value is None else f"{value:.4f}"


def metrics_table(metrics, task, title="Results"):
    """Rows train/dev/test, columns loss and accuracy (or MSE, MAE, R²).

    Train and dev values are those logged for the epoch whose weights the model
    kept (train: the mean over that epoch's batches, as Keras reports it).
    """
    table = Table(title=title)
    table.add_column("Split")
    for _, header in COLUMNS[task]:
        table.add_column(header, justify="right")
    for split in ("train", "dev", "test"):
        values = metrics.get(split)
        if values is None and split != "test":
            continue
        values = values or {}
        table.add_row(split, *(_fmt(values.get(key)) for key, _ in COLUMNS[task]))
    return table


def facts_table(rows):
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    for name, value in rows:
        table.add_row(name, str(value))
    return table


def print_summary(console, summary):
    console.print(metrics_table(summary["metrics"], summary["task"]))
    console.print(facts_table([
        ("best epoch", summary["best_epoch"]),
        ("stopped epoch", summary["stopped_epoch"]),
        ("weights from epoch", summary["weights_epoch"]),
        ("early stopped", "yes" if summary["early_stopped"] else "no"),
        ("interrupted", "yes" if summary["interrupted"] else "no"),
        ("wall time", f"{summary['wall_seconds']:.1f} s"),
        ("run directory", summary["run_dir"]),
    ]))
    if "test_accuracy" in summary:
        console.print(f"test accuracy: {summary['test_accuracy']:.4f}", highlight=False)
    elif "test_r2" in summary:
        console.print(f"test R²: {summary['test_r2']:.4f}", highlight=False)


def print_json(value):
    """Machine-readable output: JSON only, on stdout."""
    print(dumps(value), flush=True)
