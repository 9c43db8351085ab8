"""sweep.png: the dev metric against each swept setting, one panel per setting.

Each point of the sweep is a marker at its value of that setting, at the mean dev
metric over its seeds, with the seeds' standard deviation as the error bar; the best
point is drawn in red. Numbers get a numeric axis (logarithmic when the values span
more than a factor of 20), anything else (names, layer lists, true/false) a
categorical one.
"""

import json
import math

TITLES = {"accuracy": "dev accuracy", "loss": "dev loss", "mae": "dev MAE", "r2": "dev R²"}


def _numeric(values):
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def _label(value):
    return json.dumps(value) if isinstance(value, (list, tuple)) else str(value)


def draw(path, ranked, swept, metric):
    """Write the figure for ``ranked`` (``results.points``) to ``path``."""
    from nlayer.cli import plots  # Agg backend and the project's figure helpers
    import matplotlib.pyplot as plt

    done = [p for p in ranked if p["dev_mean"] is not None]
    keys = list(swept) or ["seed-only"]
    cols = min(3, len(keys))
    rows = math.ceil(len(keys) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 4 * rows), squeeze=False)
    for ax, key in zip(axes.flat, keys):
        values = [p["settings"].get(key, "all") for p in done]
        if _numeric(values) and values:
            x = values
            if min(values) > 0 and max(values) / min(values) > 20:
                ax.set_xscale("log")
        else:
            labels = sorted({_label(v) for v in values}, key=lambda s: (len(s), s))
            x = [labels.index(_label(v)) for v in values]
            ax.set_xticks(range(len(labels)), labels=labels, rotation=30, ha="right")
        y = [p["dev_mean"] for p in done]
        err = [p["dev_std"] for p in done]
        ax.errorbar(x, y, yerr=err, fmt="o", capsize=3, alpha=0.8, label="points (± std over seeds)")
        if done:
            ax.plot(x[0], y[0], "o", color="red", markersize=9, label="best")
        ax.set(xlabel=key, ylabel=TITLES.get(metric, metric))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    for ax in list(axes.flat)[len(keys):]:
        ax.set_axis_off()
    fig.suptitle(f"Sweep: {TITLES.get(metric, metric)} by setting ({len(done)} points)")
    fig.tight_layout()
    plots._save(fig, path)
