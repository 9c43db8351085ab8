"""Figures of :class:`nlayer.LayerMonitor` records (matplotlib, imported only when drawing).

matplotlib is not a core dependency: it comes with the ``cli`` extra
(``pip install "nlayer[cli]"``). Importing this module needs NumPy only. The figure is
returned released from pyplot, so a notebook shows it once (see
:func:`nlayer.callbacks.drawing.new_figure`).
"""

import math
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .callbacks import History
from .callbacks.drawing import by_layer, new_figure, positive
from .saving.atomic import save_figure

if TYPE_CHECKING:  # matplotlib is imported only when drawing
    from matplotlib.figure import Figure

__all__ = ["plot_layer_stats", "layer_rows"]

SIZE = (10, 4)  # inches; at dpi 100: 1000 x 400 pixels


def layer_rows(history):
    """The layer_stats rows of a History, a History.to_dict() dict, or a list of rows."""
    if isinstance(history, dict):
        rows = history.get("layer_stats")
    elif isinstance(history, (list, tuple)):
        rows = history
    else:
        rows = getattr(history, "layer_stats", None)
    if not rows:
        raise ValueError("no layer statistics to plot; train with "
                         "callbacks=[nl.LayerMonitor()] (or nlayer train --monitor) first")
    return list(rows)


def _gradients(fig, rows):
    left, right = fig.subplots(1, 2)
    for name, rs in by_layer(rows).items():
        steps = range(len(rs))
        left.plot(steps, positive([r["grad_rms"] for r in rs]), label=name)
        right.plot(steps, positive([r["dz_rms"] for r in rs]), label=name)
    for ax, title in ((left, "RMS of dW"), (right, "RMS of dZ")):
        ax.set_yscale("log")
        ax.set(title=title, xlabel="sampled step (in order)")
        ax.grid(alpha=0.3, which="both")
    right.legend(fontsize=7, ncol=2)


def _activations(fig, rows, samples=None):
    """Per layer at the first and the last epoch: the distribution of A (violins of the
    monitor's activation_samples when given, else mean +- standard deviation), and the share
    of saturated or dead units."""
    left, right = fig.subplots(1, 2)
    epochs = [r["epoch"] for r in rows]
    first, last = min(epochs), max(epochs)
    groups = by_layer(rows)
    names = list(groups)
    x = list(range(len(names)))
    for k, (epoch, label) in enumerate(((first, f"epoch {first}"), (last, f"epoch {last}"))):
        sel = [[r for r in groups[n] if r["epoch"] == epoch] for n in names]
        shift = -0.15 if k == 0 else 0.15
        kept = (samples or {}).get(epoch, {})
        if kept:
            at = [i for i, n in enumerate(names) if n in kept and len(kept[n])]
            parts = left.violinplot([kept[names[i]] for i in at], [i + shift for i in at],
                                    widths=0.3, showmedians=True)
            for body in parts["bodies"]:
                body.set_facecolor(f"C{k}")
            left.plot([], [], color=f"C{k}", label=label)  # legend entry for the violins
        else:
            means = [_mean([r["a_mean"] for r in rs]) for rs in sel]
            stds = [_mean([r["a_std"] for r in rs]) for rs in sel]
            left.errorbar([i + shift for i in x], means, yerr=stds, fmt="o", capsize=3,
                          label=label)
        share = [_mean([(r["saturated"] if r["saturated"] is not None else r["dead"])
                        for r in rs]) for rs in sel]
        right.bar([i + shift for i in x], [0 if math.isnan(s) else s for s in share], width=0.3,
                  label=label)
    left.set(title="distribution of A per layer" if samples else
             "A per layer: mean ± standard deviation", xlabel="layer")
    right.set(title="saturated (tanh, sigmoid) or dead (ReLU) share", xlabel="layer",
              ylim=(0, 1))
    for ax in (left, right):
        ax.set_xticks(x, labels=names, rotation=45, ha="right", fontsize=7)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)


def _mean(values):
    values = [v for v in values if v is not None and math.isfinite(v)]
    return sum(values) / len(values) if values else math.nan


def plot_layer_stats(history: History | Mapping[str, Any] | Sequence[Mapping[str, Any]],
                     path: str | os.PathLike[str] | None = None, kind: str = "gradients",
                     title: str | None = None,
                     samples: Mapping[int, Mapping[str, Any]] | None = None) -> "Figure":
    """Draw LayerMonitor records; return the matplotlib Figure (also saved to ``path`` if given).

    ``kind="gradients"``: RMS of dW and of dZ per layer against the sampled step,
    log scale, one line per layer. ``kind="activations"``: each layer's A at the
    first and last epoch recorded, and its share of saturated or dead units; A is
    drawn as violins when ``samples`` is the monitor's ``activation_samples``,
    else as mean and standard deviation from the rows.

    Parameters
    ----------
    history : History, dict or list of dict
        A History with ``layer_stats``, its dict, or the rows themselves.
    path : str or path-like, optional
    kind : {"gradients", "activations"}
    title : str, optional
    samples : dict, optional
        A LayerMonitor's ``activation_samples`` (``kind="activations"``).

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        If ``kind`` is unknown or there are no layer statistics.
    ImportError
        If matplotlib is missing.

    Examples
    --------
    >>> monitor = nl.LayerMonitor(every_batches=10)                           # doctest: +SKIP
    >>> history = model.fit(X, y, epochs=5, callbacks=[monitor])              # doctest: +SKIP
    >>> fig = nl.plot_layer_stats(history, "gradients.png")                   # doctest: +SKIP
    """
    if kind not in ("gradients", "activations"):
        raise ValueError(f"kind must be 'gradients' or 'activations', got {kind!r}")
    rows = layer_rows(history)
    fig = new_figure(SIZE, "plot_layer_stats")
    if kind == "activations":
        _activations(fig, rows, samples)
    else:
        _gradients(fig, rows)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    if path is not None:
        save_figure(fig, path, dpi=100)
    return fig
