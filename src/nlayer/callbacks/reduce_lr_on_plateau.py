"""``ReduceLROnPlateau``: cut a constant learning rate when the watched value stops improving."""

import math
from typing import Any

from .base import Callback, checked_state
from .watch import Monitor

__all__ = ["ReduceLROnPlateau"]


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by ``factor`` when ``monitor`` has not improved by
    ``min_delta`` for ``patience`` epochs (Keras's callback of the same name).

    The ``cooldown`` epochs right after a reduction are not counted (an
    improvement there still sets the best value), and the rate never goes below
    ``min_lr``. ``mode`` and the monitor's checks are
    those of :class:`EarlyStopping`. It changes ``optimizer.lr``, so the optimiser
    must have a constant rate, not a schedule. Its counters are in
    :meth:`get_state`; the rate itself is in the optimiser's state.

    Parameters
    ----------
    monitor : str, default "val_loss"
    factor : float, default 0.1
        In (0, 1).
    patience : int, default 10
    cooldown : int, default 0
    min_lr : float, default 0.0
    min_delta : float, default 0.0
    mode : {"auto", "min", "max"}

    Raises
    ------
    ValueError
        If a setting is out of range, or (when training begins) the optimiser follows a schedule.

    Examples
    --------
    >>> import numpy as np, nlayer as nl
    >>> X, y = np.random.default_rng(0).normal(size=(200, 4)), np.arange(200) % 2  # noise
    >>> model = nl.MLP(hidden=(32,)).compile(optimizer=nl.SGD(lr=0.1, momentum=0.9))
    >>> cut = nl.ReduceLROnPlateau(factor=0.5, patience=2, min_lr=0.01)
    >>> _ = model.fit(X, y, epochs=20, validation_split=0.25, seed=0, callbacks=[cut])
    >>> model.optimizer.lr                   # halved on each plateau, down to min_lr
    0.01
    """

    def __init__(self, monitor: str = "val_loss", factor: float = 0.1, patience: int = 10,
                 cooldown: int = 0, min_lr: float = 0.0, min_delta: float = 0.0,
                 mode: str = "auto") -> None:
        for name, value in (("patience", patience), ("cooldown", cooldown)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"ReduceLROnPlateau {name} must be a whole number >= 0, "
                                 f"got {value!r}")
        if isinstance(factor, bool) or not isinstance(factor, (int, float)) or \
                not 0 < factor < 1:
            raise ValueError(f"ReduceLROnPlateau factor must be a number in (0, 1), got {factor!r}")
        if isinstance(min_lr, bool) or not isinstance(min_lr, (int, float)) or \
                not 0 <= min_lr < math.inf:
            raise ValueError(f"ReduceLROnPlateau min_lr must be a finite number >= 0, "
                             f"got {min_lr!r}")
        self._watch = Monitor("ReduceLROnPlateau", monitor, mode, min_delta)
        self.monitor, self.mode = monitor, self._watch.mode
        self.factor, self.patience, self.cooldown = float(factor), patience, cooldown
        self.min_lr = float(min_lr)
        self.best, self.wait, self.cooldown_left = None, 0, 0

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        if getattr(self.model.optimizer, "schedule", None) is not None:
            raise ValueError("ReduceLROnPlateau changes a constant learning rate, but the "
                             "optimiser follows a schedule; use one or the other")
        self.best, self.wait, self.cooldown_left = None, 0, 0

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        value = self._watch.value(logs)
        cooling = self.cooldown_left > 0  # epochs right after a cut are not counted
        if cooling:
            self.cooldown_left -= 1
        if self._watch.improved(value, self.best):
            self.best, self.wait = value, 0
        elif not cooling:
            self.wait += 1
            optimizer = self.model.optimizer
            if self.wait >= self.patience and optimizer.lr > self.min_lr:
                optimizer.lr = max(optimizer.lr * self.factor, self.min_lr)
                self.cooldown_left, self.wait = self.cooldown, 0

    def get_state(self) -> dict[str, Any]:
        return {"best": self.best, "wait": self.wait, "cooldown_left": self.cooldown_left}

    def set_state(self, state: dict[str, Any]) -> None:
        checked_state("ReduceLROnPlateau", state, best="number or None",
                      wait="whole number >= 0", cooldown_left="whole number >= 0")
        self.best, self.wait = state["best"], int(state["wait"])
        self.cooldown_left = int(state["cooldown_left"])
