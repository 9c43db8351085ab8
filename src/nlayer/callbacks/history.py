"""``History``: what ``fit`` returns, one value per epoch for every logged key."""

import math
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self

from ..saving.atomic import save_figure
from . import drawing
from .base import Callback

if TYPE_CHECKING:  # matplotlib is imported only when drawing
    from matplotlib.figure import Figure

__all__ = ["History"]


class History(Callback):
    """Per-epoch record: ``history.history["val_loss"][i]`` is epoch ``i + 1``'s value.

    Keys: ``loss``, ``val_loss``, each metric and ``val_`` metric, ``lr`` and
    ``seconds``. ``best_epoch`` is the epoch with the lowest monitored value
    (``val_loss`` when there is a development set, else ``loss``);
    ``stopped_epoch`` is the last epoch run; ``interrupted`` says whether training
    stopped before ``epochs`` (early stopping or ``model.stop_training``).
    ``params`` holds what ``fit`` began with, as in Keras: ``epochs``, ``steps`` (batches
    an epoch), ``samples`` and ``blas_threads`` (the BLAS thread count the numbers were
    computed with; None where it cannot be known, see ``nlayer.training.threads``).

    Examples
    --------
    >>> import numpy as np, nlayer as nl
    >>> X = np.random.default_rng(0).normal(size=(64, 3)); y = (X[:, 0] > 0).astype(int)
    >>> model = nl.MLP(hidden=(8,)).compile(optimizer=nl.SGD(lr=0.1), metrics=["accuracy"])
    >>> history = model.fit(X, y, epochs=3, seed=0, validation_split=0.25)
    >>> sorted(history.history), history.epoch, history.params["samples"]
    (['accuracy', 'loss', 'lr', 'seconds', 'val_accuracy', 'val_loss'], [1, 2, 3], 48)
    """

    def __init__(self) -> None:
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []
        self.best_epoch: int | None = None
        self.stopped_epoch: int | None = None
        self.interrupted = False
        self.layer_stats: list[dict[str, Any]] = []  # rows of nlayer.LayerMonitor
        self.params: dict[str, Any] = {}

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self.params = dict(logs or {})

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.epoch.append(epoch)
        logs = logs or {}
        for key in {**self.history, **logs}:  # a key new (or missing) this epoch: NaN elsewhere
            values = self.history.setdefault(key, [math.nan] * (len(self.epoch) - 1))
            values.append(logs.get(key, math.nan))
        self.stopped_epoch = epoch
        monitor = "val_loss" if "val_loss" in self.history else "loss"
        values = self.history.get(monitor, [])
        finite = [(v, e) for v, e in zip(values, self.epoch) if not math.isnan(v)]
        if finite:
            self.best_epoch = min(finite)[1]

    def to_dict(self) -> dict[str, Any]:
        return {"history": self.history, "epoch": self.epoch, "best_epoch": self.best_epoch,
                "stopped_epoch": self.stopped_epoch, "interrupted": self.interrupted,
                "layer_stats": [dict(row) for row in self.layer_stats]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        h = cls()
        h.history = {k: list(v) for k, v in data.get("history", {}).items()}
        h.epoch = list(data.get("epoch", []))
        h.best_epoch, h.stopped_epoch = data.get("best_epoch"), data.get("stopped_epoch")
        h.interrupted = bool(data.get("interrupted", False))
        h.layer_stats = [dict(row) for row in data.get("layer_stats") or []]
        return h

    def plot(self, metric: str | None = None,
             path: str | os.PathLike[str] | None = None) -> "Figure":
        """The loss and ``metric`` per epoch, train and dev, as a matplotlib Figure.

        ``metric=None`` takes the first recorded one (accuracy, mse, mae, r2); the best
        epoch is marked. With ``path`` the figure is also written there (its format from
        the suffix). In a notebook, as a cell's last line, it shows once.
        """
        if not self.epoch:
            raise ValueError("the history is empty: nothing to plot until fit has run an epoch")
        if metric is None:
            metric = next((k for k in drawing.METRIC_TITLES if k in self.history), None)
        elif metric not in self.history:
            raise ValueError(f"no {metric!r} in this history; recorded: "
                             f"{', '.join(sorted(self.history))}")
        fig = drawing.new_figure(drawing.CURVES_SIZE, "History.plot")
        drawing.curves(fig, self.history, self.best_epoch, metric)
        fig.tight_layout()
        if path is not None:
            save_figure(fig, path, dpi=100)
        return fig

    def __repr__(self) -> str:
        last = {k: v[-1] for k, v in self.history.items()
                if k in ("loss", "val_loss") and v and not math.isnan(v[-1])}
        values = "".join(f", {k}={v:.4g}" for k, v in last.items())
        return f"History(epochs={len(self.epoch)}, best_epoch={self.best_epoch}{values})"
