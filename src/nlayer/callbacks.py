"""Callbacks: hooks into the ``fit`` loop, with the method names Keras users know.

Epochs are numbered from 1 in logs and in :class:`History`.
"""

import math

import numpy as np

from .watch import Monitor

__all__ = ["Callback", "History", "EarlyStopping", "ReduceLROnPlateau", "CallbackList"]


class Callback:
    """Base class; override the hooks you need. ``self.model`` is set by ``fit``."""

    model = None

    def set_model(self, model):
        self.model = model

    def on_train_begin(self, logs=None):
        pass

    def on_epoch_begin(self, epoch, logs=None):
        pass

    def on_batch_end(self, batch, logs=None):
        pass

    def on_epoch_end(self, epoch, logs=None):
        pass

    def on_interrupt(self, epoch, batch):
        """Training stops mid-epoch (``model.stop_training`` set during the batches):
        ``batch`` batches of ``epoch`` ran, and that epoch will not be recorded."""

    def on_train_end(self, logs=None):
        pass

    # -- state for checkpoints ---------------------------------------------------
    def get_state(self):
        """What this callback needs to continue exactly after a resume.

        A dict of JSON values (numbers, strings, lists, dicts, None) and NumPy
        arrays, nested freely; a checkpoint stores it without pickling. Stateless
        callbacks keep this default.
        """
        return {}

    def set_state(self, state):
        """Take back what :meth:`get_state` returned. On resume ``fit`` calls it
        right after ``on_train_begin``, so it overrides what that reset."""


class CallbackList:
    """Calls each hook on every callback in order.

    Callbacks with ``runs_last = True`` (checkpoints) come after all others, so
    that they see every other callback's work on the same batch or epoch.
    """

    def __init__(self, callbacks, model):
        callbacks = list(callbacks)
        for cb in callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks must be nlayer Callback instances (e.g. "
                                f"nl.EarlyStopping()), got {type(cb).__name__}")
        self.callbacks = sorted(callbacks, key=lambda cb: bool(getattr(cb, "runs_last", False)))
        model._step_tap = None  # a LayerMonitor's tap left by a fit that raised
        for cb in self.callbacks:
            cb.set_model(model)
        # on_batch_end runs every batch: call only the callbacks that use it
        self.batch_hooks = [cb.on_batch_end for cb in self.callbacks
                            if type(cb).on_batch_end is not Callback.on_batch_end
                            and getattr(cb, "needs_batch_end", True)]

    def on_train_begin(self, logs=None):
        for cb in self.callbacks:
            cb.on_train_begin(logs)

    def on_epoch_begin(self, epoch, logs=None):
        for cb in self.callbacks:
            cb.on_epoch_begin(epoch, logs)

    def on_batch_end(self, batch, logs=None):
        for hook in self.batch_hooks:
            hook(batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        for cb in self.callbacks:
            cb.on_epoch_end(epoch, logs)

    def on_interrupt(self, epoch, batch):
        for cb in self.callbacks:
            cb.on_interrupt(epoch, batch)

    def on_train_end(self, logs=None):
        for cb in self.callbacks:
            cb.on_train_end(logs)


class History(Callback):
    """Per-epoch record: ``history.history["val_loss"][i]`` is epoch ``i + 1``'s value.

    Keys: ``loss``, ``val_loss``, each metric and ``val_`` metric, ``lr`` and
    ``seconds``. ``best_epoch`` is the epoch with the lowest monitored value
    (``val_loss`` when there is a development set, else ``loss``);
    ``stopped_epoch`` is the last epoch run; ``interrupted`` says whether training
    stopped before ``epochs`` (early stopping or ``model.stop_training``).
    """

    def __init__(self):
        self.history = {}
        self.epoch = []
        self.best_epoch = None
        self.stopped_epoch = None
        self.interrupted = False
        self.layer_stats = []  # rows of nlayer.LayerMonitor

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)
        self.stopped_epoch = epoch
        monitor = "val_loss" if "val_loss" in self.history else "loss"
        values = self.history.get(monitor, [])
        finite = [(v, e) for v, e in zip(values, self.epoch) if not math.isnan(v)]
        if finite:
            self.best_epoch = min(finite)[1]

    def to_dict(self):
        return {"history": self.history, "epoch": self.epoch, "best_epoch": self.best_epoch,
                "stopped_epoch": self.stopped_epoch, "interrupted": self.interrupted,
                "layer_stats": [dict(row) for row in self.layer_stats]}

    @classmethod
    def from_dict(cls, data):
        h = cls()
        h.history = {k: list(v) for k, v in data.get("history", {}).items()}
        h.epoch = list(data.get("epoch", []))
        h.best_epoch, h.stopped_epoch = data.get("best_epoch"), data.get("stopped_epoch")
        h.interrupted = bool(data.get("interrupted", False))
        h.layer_stats = [dict(row) for row in data.get("layer_stats") or []]
        return h

    def __repr__(self):
        return f"History(epochs={len(self.epoch)}, best_epoch={self.best_epoch})"


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs.

    ``monitor`` is any key of the epoch's logs (``val_loss``, ``val_accuracy``,
    ``r2``, ...); ``mode`` is ``"min"``, ``"max"`` or ``"auto"`` (read from the
    name: max for accuracy/r2, min for loss/mae/mse; see :mod:`nlayer.watch`).
    A monitor missing from the logs (a typo, or ``val_*`` without a development
    set) is a ValueError at the first epoch's end that names the keys there.
    With ``restore_best_weights`` the model gets back every array of its best
    epoch (kernels, biases, gamma/beta and batch-norm moving statistics) when
    training ends, however it ends.
    """

    def __init__(self, monitor="val_loss", patience=5, min_delta=0.0, mode="auto",
                 restore_best_weights=True):
        if patience < 0 or int(patience) != patience:
            raise ValueError(f"patience must be a whole number >= 0, got {patience}")
        self._watch = Monitor("EarlyStopping", monitor, mode, min_delta)
        self.monitor, self.patience, self.min_delta = monitor, int(patience), float(min_delta)
        self.restore_best_weights = restore_best_weights
        self.mode = self._watch.mode

    def on_train_begin(self, logs=None):
        self.best, self.best_epoch, self.best_weights = None, None, None
        self.wait, self.stopped_epoch = 0, None

    def on_epoch_end(self, epoch, logs=None):
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

    def get_state(self):
        return {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait,
                "stopped_epoch": self.stopped_epoch, "best_weights": self.best_weights}

    def set_state(self, state):
        self.best, self.best_epoch = state["best"], state["best_epoch"]
        self.wait, self.stopped_epoch = int(state["wait"]), state["stopped_epoch"]
        weights = state["best_weights"]
        if weights is not None:
            shapes = [w.shape for w in self.model.get_weights()]
            if [np.shape(w) for w in weights] != shapes:
                raise ValueError("EarlyStopping's saved best weights do not fit this model")
            weights = [np.array(w, dtype=self.model.dtype) for w in weights]
        self.best_weights = weights

    def on_train_end(self, logs=None):
        if self.restore_best_weights and self.best_weights is not None:
            self.model.set_weights(self.best_weights)
        history = getattr(self.model, "history", None)
        if history is not None and self.best_epoch is not None:
            history.best_epoch = self.best_epoch


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by ``factor`` when ``monitor`` has not improved by
    ``min_delta`` for ``patience`` epochs (Keras's callback of the same name).

    The ``cooldown`` epochs right after a reduction are not counted (an
    improvement there still sets the best value), and the rate never goes below
    ``min_lr``. ``mode`` and the monitor's checks are
    those of :class:`EarlyStopping`. It changes ``optimizer.lr``, so the optimiser
    must have a constant rate, not a schedule. Its counters are in
    :meth:`get_state`; the rate itself is in the optimiser's state.
    """

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, cooldown=0, min_lr=0.0,
                 min_delta=0.0, mode="auto"):
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

    def on_train_begin(self, logs=None):
        if getattr(self.model.optimizer, "schedule", None) is not None:
            raise ValueError("ReduceLROnPlateau changes a constant learning rate, but the "
                             "optimiser follows a schedule; use one or the other")
        self.best, self.wait, self.cooldown_left = None, 0, 0

    def on_epoch_end(self, epoch, logs=None):
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

    def get_state(self):
        return {"best": self.best, "wait": self.wait, "cooldown_left": self.cooldown_left}

    def set_state(self, state):
        self.best, self.wait = state["best"], int(state["wait"])
        self.cooldown_left = int(state["cooldown_left"])
