"""sweep.png: the dev metric against each swept setting, one panel per setting.

Each point of the sweep is a marker at its value of that setting, at the mean dev
metric over its seeds, with the seeds' standard deviation as the error bar; the best
point is drawn in red. A setting with a few values (a grid) gets one slot per value,
the points sharing it side by side; many distinct numbers (random draws) get a
numeric axis, logarithmic when they span a factor of 10 or more.
"""

import json
import math

MAX_SLOTS = 8  # more distinct numbers than this: a numeric axis (random draws)
SPREAD = 0.6   # width of a slot the points sharing a value spread over
TITLES = {"accuracy": "dev accuracy", "loss": "dev loss", "mae": "dev MAE", "r2": "dev R²"}


def _numeric(values):
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def _label(value):
    return json.dumps(value) if isinstance(value, (list, tuple)) else str(value)


def _order(label):
    """Numbers by value, then anything else by length and text."""
    try:
        return (0, float(label), "")
    except ValueError:
        return (1, len(label), label)


def _positions(values):
    """(x of each point, slot labels): one slot per distinct value with the points sharing it
    side by side, or the values themselves (labels None) for many distinct numbers."""
    labels = [_label(v) for v in values]
    distinct = sorted(set(labels), key=_order)
    if _numeric(values) and len(distinct) > MAX_SLOTS:
        return list(values), None
    counts = {label: labels.count(label) for label in distinct}
    seen = dict.fromkeys(distinct, 0)
    x = []
    for label in labels:
        k, seen[label] = seen[label], seen[label] + 1
        x.append(distinct.index(label) + (k - (counts[label] - 1) / 2) * SPREAD / counts[label])
    return x, distinct


def draw(path, ranked, swept, metric):
    """Write the figure for ``ranked`` (``results.points``) to ``path``."""
    from nlayer.runs import plots  # Agg backend and the project's figure helpers
    import matplotlib.pyplot as plt

    done = [p for p in ranked if p["dev_mean"] is not None]
    keys = list(swept) or ["seed-only"]
    cols = min(3, len(keys))
    rows = math.ceil(len(keys) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 4 * rows), squeeze=False)
    for ax, key in zip(axes.flat, keys):
        values = [p["settings"].get(key, "all") for p in done]
        x, labels = _positions(values)
        if labels is not None:
            ax.set_xticks(range(len(labels)), labels=labels, rotation=30, ha="right")
        elif min(values) > 0 and max(values) / min(values) >= 10:
            ax.set_xscale("log")
        y = [p["dev_mean"] for p in done]
        err = [p["dev_std"] for p in done]
        ax.errorbar(x, y, yerr=err, fmt="o", capsize=3, alpha=0.8,
                    label="a point (± std over seeds)")
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
