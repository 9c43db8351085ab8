"""Callbacks: hooks into the ``fit`` loop, with the method names Keras users know.

Epochs are numbered from 1 in logs and in :class:`History`.
"""

import math
import warnings

__all__ = ["Callback", "History", "EarlyStopping", "CallbackList"]


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
    """Calls each hook on every callback in order."""

    def __init__(self, callbacks, model):
        self.callbacks = list(callbacks)
        model._step_tap = None  # a LayerMonitor's tap left by a fit that raised
        for cb in self.callbacks:
            cb.set_model(model)
        # on_batch_end runs every batch: call only the callbacks that override it
        self.batch_hooks = [cb.on_batch_end for cb in self.callbacks
                             if type(cb).on_batch_end is not Callback.on_batch_end]

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

    With ``restore_best_weights`` the model gets back every array of its best
    epoch (kernels, biases, gamma/beta and batch-norm moving statistics) when
    training ends, however it ends. ``mode`` is ``"min"``, ``"max"`` or
    ``"auto"`` (max for accuracy/r2, min otherwise).
    """

    def __init__(self, monitor="val_loss", patience=5, min_delta=0.0, mode="auto",
                 restore_best_weights=True):
        if patience < 0 or int(patience) != patience:
            raise ValueError(f"patience must be a whole number >= 0, got {patience}")
        if min_delta < 0:
            raise ValueError(f"min_delta must be >= 0, got {min_delta}")
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
        self.monitor, self.patience, self.min_delta = monitor, int(patience), float(min_delta)
        self.restore_best_weights = restore_best_weights
        if mode == "auto":
            mode = "max" if monitor.removeprefix("val_") in ("accuracy", "r2") else "min"
        self.mode = mode

    def on_train_begin(self, logs=None):
        self.best, self.best_epoch, self.best_weights = None, None, None
        self.wait, self.stopped_epoch = 0, None
        self._key = self.monitor

    def _improved(self, value):
        if self.best is None:
            return True
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self._key not in logs:
            fallback = self.monitor.removeprefix("val_")
            warnings.warn(
                f"EarlyStopping monitors {self.monitor!r} but logs have only {sorted(logs)}; "
                f"monitoring {fallback!r} instead (give validation_split or validation_data)",
                stacklevel=2,
            )
            self._key = fallback
        value = logs[self._key]
        if not math.isnan(value) and self._improved(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            return
        self.wait += 1
        if self.wait >= max(self.patience, 1):
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.restore_best_weights and self.best_weights is not None:
            self.model.set_weights(self.best_weights)
        history = getattr(self.model, "history", None)
        if history is not None and self.best_epoch is not None:
            history.best_epoch = self.best_epoch
