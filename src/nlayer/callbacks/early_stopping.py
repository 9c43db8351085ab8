"""``EarlyStopping``: stop when the watched value stops improving; keep the best epoch's weights."""

from typing import Any

import numpy as np

from ..utils import checks
from .base import Callback, checked_state
from .watch import Monitor

__all__ = ["EarlyStopping"]


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs.

    ``monitor`` is any key of the epoch's logs (``val_loss``, ``val_accuracy``,
    ``r2``, ...); ``mode`` is ``"min"``, ``"max"`` or ``"auto"`` (read from the
    name: max for accuracy/r2, min for loss/mae/mse; see :mod:`nlayer.callbacks.watch`).
    A monitor missing from the logs (a typo, or ``val_*`` without a development
    set) is a ValueError at the first epoch's end that names the keys there.
    With ``restore_best_weights`` the model gets back every array of its best
    epoch (kernels, biases, gamma/beta and batch-norm moving statistics) when
    training ends, however it ends.

    Parameters
    ----------
    monitor : str, default "val_loss"
    patience : int, default 5
        Epochs without improvement before stopping (>= 0).
    min_delta : float, default 0.0
        The least change that counts as an improvement.
    mode : {"auto", "min", "max"}
    restore_best_weights : bool, default True

    Raises
    ------
    ValueError
        If ``patience`` is not a whole number >= 0, ``mode`` is unknown, or ``"auto"``
        cannot tell the direction of ``monitor``.

    Examples
    --------
    >>> import numpy as np, nlayer as nl
    >>> X, y = np.random.default_rng(0).normal(size=(200, 4)), np.arange(200) % 2  # noise
    >>> model = nl.MLP(hidden=(64,))
    >>> model.compile(optimizer=nl.SGD(lr=0.1, momentum=0.9))
    Sequential(2 layers, dtype=float32)
    >>> stop = nl.EarlyStopping(patience=3, restore_best_weights=True)
    >>> history = model.fit(X, y, epochs=100, validation_split=0.25, seed=0, callbacks=[stop])
    >>> len(history.epoch) < 100, history.stopped_epoch - stop.best_epoch
    (True, 3)
    """

    best_epoch: int | None  # set in __init__ and by on_epoch_end
    stopped_epoch: int | None

    def __init__(self, monitor: str = "val_loss", patience: int = 5, min_delta: float = 0.0,
                 mode: str = "auto", restore_best_weights: bool = True) -> None:
        patience = checks.whole(patience, "patience", low=0)
        self._watch = Monitor("EarlyStopping", monitor, mode, min_delta)
        self.monitor, self.patience, self.min_delta = monitor, int(patience), float(min_delta)
        self.restore_best_weights = restore_best_weights
        self.mode = self._watch.mode

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self.best, self.best_epoch, self.best_weights = None, None, None
        self.wait, self.stopped_epoch = 0, None

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        value = self._watch.value(logs)
        if self._watch.improved(value, self.best):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            return
        self.wait += 1
        if self.wait >= max(self.patience, 1):
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def get_state(self) -> dict[str, Any]:
        return {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait,
                "stopped_epoch": self.stopped_epoch, "best_weights": self.best_weights}

    def set_state(self, state: dict[str, Any]) -> None:
        checked_state("EarlyStopping", state, best="number or None", best_epoch="epoch or None",
                      wait="whole number >= 0", stopped_epoch="epoch or None",
                      best_weights="list of arrays or None")
        self.best, self.best_epoch = state["best"], state["best_epoch"]
        self.wait, self.stopped_epoch = int(state["wait"]), state["stopped_epoch"]
        weights = state["best_weights"]
        if weights is not None:
            shapes = [w.shape for w in self.model.get_weights()]
            if [np.shape(w) for w in weights] != shapes:
                raise ValueError("EarlyStopping's saved best weights do not fit this model")
            weights = [np.array(w, dtype=self.model.dtype) for w in weights]
        self.best_weights = weights

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        if self.restore_best_weights and self.best_weights is not None:
            self.model.set_weights(self.best_weights)
        history = getattr(self.model, "history", None)
        if history is not None and self.best_epoch is not None:
            history.best_epoch = self.best_epoch
