"""Figures of training records: learning curves (:meth:`History.plot`, run directories,
:class:`LivePlot`) and LayerMonitor series (:class:`LivePlot`, :func:`nlayer.plot_layer_stats`).

matplotlib is not a core dependency: it comes with the ``cli`` extra and is imported only
when a figure is drawn. In Jupyter, figures handed to the user are released from pyplot
at once (:func:`new_figure`): pyplot would otherwise keep them and Jupyter would show each
twice, once from pyplot and once as the cell's value.
"""

import math

__all__ = ["pyplot", "new_figure", "METRIC_TITLES", "curves", "layer_series", "by_layer",
           "positive", "CURVES_SIZE"]

CURVES_SIZE = (10, 4)  # inches; at dpi 100: 1000 x 400 pixels
METRIC_TITLES = {"accuracy": "Accuracy", "mse": "Mean squared error",
                 "mae": "Mean absolute error", "r2": "R²"}
#: LayerMonitor row key -> panel title, for the series LivePlot draws
SERIES = {"dz_rms": "RMS of dZ", "grad_rms": "RMS of dW", "update_ratio": "update ratio"}


def pyplot(what="drawing a figure"):
    """matplotlib.pyplot, or an ImportError saying how to install it."""
    try:
        import matplotlib.pyplot as plt  # picks a headless backend when there is no display
    except ImportError:
        raise ImportError(f"{what} needs matplotlib; install it with pip install "
                          "\"nlayer[cli]\" (or pip install matplotlib)") from None
    return plt


def new_figure(size, what="drawing a figure"):
    """A Figure made by pyplot (so that Jupyter's inline backend is loaded). With that
    backend pyplot lets go of it: shown once as a notebook cell's value, not again at the
    cell's end. Elsewhere pyplot keeps it, so a script's ``plt.show()`` shows it."""
    plt = pyplot(what)
    fig = plt.figure(figsize=size)
    if "inline" in plt.get_backend():
        plt.close(fig)
    return fig


def by_layer(rows):
    """LayerMonitor rows grouped by layer name, in the layers' order."""
    names = list(dict.fromkeys(r["layer"] for r in rows))
    return {n: [r for r in rows if r["layer"] == n] for n in names}


def positive(values):
    """Values for a log axis: missing, infinite or non-positive ones become NaN (gaps)."""
    return [v if v is not None and math.isfinite(v) and v > 0 else math.nan for v in values]


def _panel(ax, epochs, history, key, title, best_epoch):
    ax.plot(epochs, history[key], marker=".", label="train")
    if f"val_{key}" in history:
        ax.plot(epochs, history[f"val_{key}"], marker=".", label="dev")
    if best_epoch:
        ax.axvline(best_epoch, color="grey", linestyle="--", label=f"best epoch ({best_epoch})")
    ax.set(title=title, xlabel="epoch")
    ax.grid(alpha=0.3)
    ax.legend()


def curves(fig, history, best_epoch, metric):
    """Train vs dev loss, and train vs dev ``metric`` (a blank panel when not recorded); the
    best epoch marked. When the learning rate changed during training (a schedule, a
    plateau cut), a third panel shows it per epoch on a log scale. ``history`` is
    ``History.history``; ``fig`` a Figure or SubFigure."""
    epochs = list(range(1, len(history.get("loss", [])) + 1))
    rates = history.get("lr") or []
    varies = len(set(rates)) > 1
    axes = fig.subplots(1, 3 if varies else 2)
    if "data_loss" in history:  # the data loss, and the L2 penalty J adds to it, apart
        _panel(axes[0], epochs, history, "data_loss", "Loss: data (solid), L2 penalty (dashed)",
               best_epoch)
        axes[0].plot(epochs, history["l2_penalty"], linestyle="--", color="C0")
        if "val_l2_penalty" in history:
            axes[0].plot(epochs, history["val_l2_penalty"], linestyle="--", color="C1")
    else:
        _panel(axes[0], epochs, history, "loss", "Loss", best_epoch)
    if metric in history:
        _panel(axes[1], epochs, history, metric, METRIC_TITLES.get(metric, metric), best_epoch)
    else:
        axes[1].set_axis_off()
    if varies:
        axes[2].plot(epochs[:len(rates)], rates, marker=".", color="C2")
        axes[2].set(title="Learning rate (end of epoch)", xlabel="epoch", yscale="log")
        axes[2].grid(alpha=0.3)


def layer_series(fig, rows, steps):
    """LayerMonitor's dZ RMS, dW RMS and update ratio per layer against the epoch (a row
    sampled at batch b of epoch e sits at e - 1 + b / steps), log scales."""
    axes = fig.subplots(1, len(SERIES))
    for name, rs in by_layer(rows).items():
        x = [r["epoch"] - 1 + r["batch"] / steps for r in rs]
        for ax, key in zip(axes, SERIES):
            ax.plot(x, positive([r[key] for r in rs]), label=name)
    for ax, title in zip(axes, SERIES.values()):
        ax.set(title=title, xlabel="epoch", yscale="log")
        ax.grid(alpha=0.3)  # major lines only: minor ones on log axes cost a redraw dearly
    axes[-1].legend(fontsize=7, ncol=2, loc="upper right")  # "best" searches: slow
