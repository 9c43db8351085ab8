"""The end-of-run summary as rich tables (the dict is :mod:`nlayer.runs.summary`)."""

from rich.table import Table

from nlayer.runs.rundir import dumps

#: Columns of the metrics table per task: (metric key, header).
COLUMNS = {
    "classification": [("loss", "Loss"), ("accuracy", "Accuracy")],
    "regression": [("loss", "Loss"), ("mse", "MSE"), ("mae", "MAE"), ("r2", "R²")],
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


def print_gradient_flags(console, summary):
    """The layers whose gradients vanished or exploded (``nlayer train --monitor``)."""
    flags = summary.get("gradients")
    if flags is None:
        return
    for kind in ("vanished", "exploded"):
        if flags[kind]:
            console.print(f"gradients {kind} in: {', '.join(flags[kind])} "
                          "(see gradients.png; thresholds in nlayer.callbacks.layer_monitor)",
                          markup=False)
    if not flags["vanished"] and not flags["exploded"]:
        console.print("gradients: no layer vanished or exploded (see gradients.png)",
                      markup=False)
