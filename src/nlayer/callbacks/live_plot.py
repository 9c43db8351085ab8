"""LivePlot: the learning curves, and LayerMonitor's per-layer gradients, redrawn while ``fit`` trains.

In a Jupyter kernel the figure is one output that each redraw replaces (an IPython display
handle's ``update``): the loss and metric per epoch, train and dev, and, when a
:class:`~nlayer.LayerMonitor` is attached to the same ``fit``, the RMS of dZ and of dW and
the update ratio of every layer over the epochs, so one watches gradients vanish in a deep
network with naive initialisation and recover with He or Glorot while it trains.

Redraws come at the end of an epoch, at most every ``every_epochs`` epochs and
``every_seconds`` seconds; by default (``every_seconds=None``) when the redraws so far, this
one and the final one fit in :data:`MAX_SHARE` (5 %) of the time since training began, a
redraw's cost taken from the last one. The last epoch is always drawn: a run shorter than
about ``2 / MAX_SHARE`` redraws (some 10 s) is drawn at its end only.
Outside a kernel it draws only when given a ``path`` (the figure is written there,
atomically); otherwise each hook returns at once.
"""

import io
import math
import os
import time
from typing import Any

from ..saving.atomic import save_figure, write_bytes
from ..utils import checks
from . import drawing
from .base import Callback
from .display import in_notebook

__all__ = ["LivePlot", "MAX_SHARE"]

#: Share of the run's time redrawing may take when ``every_seconds`` is None.
MAX_SHARE = 0.05
#: Seconds a redraw is taken to cost before the first one is timed (a 2-row figure on one
#: laptop core; measured: benchmarks/results/live_plot.md).
FIRST_COST = 0.25
WIDTH = 12            # inches
CURVES_HEIGHT = 3.5   # inches per row of panels
DPI = 72              # 864 pixels wide: enough on a screen, cheap to draw
MARGINS = {"left": 0.06, "right": 0.98, "bottom": 0.16, "top": 0.9, "wspace": 0.25}


class LivePlot(Callback):
    """Redraw the training curves (and a LayerMonitor's statistics) in place while training.

    ``every_epochs``: redraw at most every this many epochs. ``every_seconds``: and at most
    this often (None: keep the redraws within :data:`MAX_SHARE` of the run's time).
    ``path``: also write the figure to this file at each redraw (format from the suffix;
    in or out of a notebook). ``draws`` and ``seconds`` count the redraws and their time.
    Outside a notebook and without ``path`` it draws nothing.

    Parameters
    ----------
    every_epochs : int, default 1
        >= 1.
    every_seconds : float, optional
        >= 0 seconds between redraws.
    path : str or path-like, optional

    Raises
    ------
    ValueError
        If ``every_epochs`` or ``every_seconds`` is out of range.
    TypeError
        If ``path`` is not a file name.
    ImportError
        If it would draw (in a notebook, or with ``path``) and matplotlib is missing.

    Examples
    --------
    >>> model.fit(X, y, epochs=30, validation_split=0.1,                 # doctest: +SKIP
    ...           callbacks=[nl.LayerMonitor(every_batches=20), nl.LivePlot()])
    """

    def __init__(self, every_epochs: int = 1, every_seconds: float | None = None,
                 path: str | os.PathLike[str] | None = None) -> None:
        self.every_epochs = checks.whole(every_epochs, "LivePlot every_epochs")
        self.every_seconds = None if every_seconds is None else \
            checks.real(every_seconds, "LivePlot every_seconds", low=0.0)
        if path is not None and not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"LivePlot path must be a file name (str or Path), got "
                            f"{type(path).__name__}")
        self.path = path
        self.notebook = in_notebook()
        self.active = self.notebook or path is not None
        if self.active:
            drawing.pyplot("LivePlot")  # fail now, not after the first epoch
        self.draws, self.seconds = 0, 0.0
        self._figure = self._handle = None
        self._waiting, self._last, self._cost, self._steps = 0, -math.inf, 0.0, 1
        self._start, self._spent = time.perf_counter(), 0.0

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._steps = max(1, (logs or {}).get("steps", 1))
        self._waiting, self._last, self._handle = 0, -math.inf, None
        self._start, self._spent = time.perf_counter(), 0.0

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if not self.active:
            return
        self._waiting += 1
        if self._waiting >= self.every_epochs and self._due(time.perf_counter()):
            self.draw()

    def _due(self, now):
        if self.every_seconds is not None:
            return now - self._last >= self.every_seconds
        # the redraws so far, this one and the last one (always drawn) within MAX_SHARE of
        # the run's time so far
        cost = self._cost if self.draws else FIRST_COST
        return self._spent + 2 * cost <= MAX_SHARE * (now - self._start)

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        if self.active and self._waiting:  # the last epochs, whatever the throttle said
            self.draw()

    def draw(self) -> None:
        """Redraw now from the model's history (``fit`` calls it; callable after, too)."""
        start = time.perf_counter()
        fig = self._draw_figure(self.model.history)
        png = _png(fig) if self.notebook or _suffix(self.path) == ".png" else None
        if self.notebook:
            self._show(png)
        if self.path is not None:
            if png is not None and _suffix(self.path) == ".png":
                write_bytes(self.path, png)  # atomically, as save_figure would
            else:
                save_figure(fig, self.path, dpi=DPI)
        self._waiting, self._last = 0, start
        self._cost = time.perf_counter() - start
        self.draws, self.seconds = self.draws + 1, self.seconds + self._cost
        self._spent += self._cost

    def _draw_figure(self, history):
        fig = self._figure
        if fig is None:  # not made by pyplot: nothing but this callback ever shows it
            from matplotlib.figure import Figure
            fig = self._figure = Figure()
        rows = history.layer_stats
        fig.clear()
        fig.set_size_inches(WIDTH, CURVES_HEIGHT * (2 if rows else 1))
        metric = next((k for k in drawing.METRIC_TITLES if k in history.history), None)
        parts = fig.subfigures(2, 1) if rows else [fig]
        drawing.curves(parts[0], history.history, history.best_epoch, metric)
        if rows:
            drawing.layer_series(parts[1], rows, self._steps)
        for part in parts:  # fixed margins: a layout engine would cost as much as the drawing
            part.subplots_adjust(**MARGINS)
        return fig

    def _show(self, png):
        from IPython.display import Image, display  # in a kernel: IPython is loaded already
        image = Image(data=png, format="png")
        if self._handle is None:
            self._handle = display(image, display_id=True)
        else:
            self._handle.update(image)

    def __getstate__(self) -> dict[str, Any]:  # a checkpoint's deep copy need not carry the figure
        return {k: v for k, v in self.__dict__.items() if k not in ("_figure", "_handle")}

    def __repr__(self) -> str:
        where = "notebook" if self.notebook else "inactive outside a notebook"
        where = f"{where}, path={str(self.path)!r}" if self.path is not None else where
        return f"LivePlot(every_epochs={self.every_epochs}, {where}, draws={self.draws})"


def _suffix(path):
    return None if path is None else os.path.splitext(os.fspath(path))[1].lower()


def _png(fig):
    buffer = io.BytesIO()  # compress_level 1: a third faster than PNG's default, a bit larger
    fig.savefig(buffer, format="png", dpi=DPI, pil_kwargs={"compress_level": 1})
    return buffer.getvalue()
