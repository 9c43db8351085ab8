"""A monitored run's files (``nlayer train --monitor``): layer_stats.csv, gradients.png,
activations.png and the summary's list of layers whose gradients vanished or exploded
(thresholds: :mod:`nlayer.callbacks.layer_monitor`)."""

import nlayer as nl
from nlayer.callbacks.layer_monitor import STAT_KEYS, flag_layers
from nlayer.saving.atomic import write_csv

from . import plots  # noqa: F401  (selects the Agg backend before pyplot is imported)
from .rundir import write_json



def write_layer_stats(path, rows):
    """One CSV row per (sampled step, layer); empty cells for values that do not apply."""
    write_csv(path, STAT_KEYS, [["" if row[k] is None else row[k] for k in STAT_KEYS]
                                for row in rows])


def write(out, history, summary, samples=None):
    """Write the monitor's files into the run directory ``out`` and record them in the summary
    (``samples``: the monitor's activation_samples, drawn as distributions)."""
    rows = history.layer_stats
    write_layer_stats(out / "layer_stats.csv", rows)
    files = ["layer_stats.csv"]
    if rows:
        nl.plot_layer_stats(history, out / "gradients.png", kind="gradients")
        nl.plot_layer_stats(history, out / "activations.png", kind="activations",
                            samples=samples)
        files += ["gradients.png", "activations.png"]
    summary["files"] = [f for f in summary["files"] if f not in files] + files
    summary["gradients"] = flag_layers(rows) if rows else {"vanished": [], "exploded": []}
    write_json(out / "summary.json", summary)
    return summary
