"""The value a callback watches in the epoch's logs, and which way is better.

Shared by :class:`~nlayer.callbacks.EarlyStopping` and
:class:`~nlayer.callbacks.ReduceLROnPlateau`. ``mode="auto"`` reads the name
(a ``val_`` prefix aside): accuracy, r2, auc, precision, recall and f1 are
better higher; loss, mae, mse, rmse and names ending in ``loss`` or ``error``
are better lower; any other name needs ``mode`` given.

A monitor missing from the logs is an error at the first epoch's end, naming
the keys that are there: a typo must not train a model chosen on nothing, and a
``val_`` key without a development set must not silently watch the training
value instead (the model would be chosen on the rows it learns from).
"""

import math

__all__ = ["Monitor", "infer_mode"]

_HIGHER = ("accuracy", "acc", "r2", "auc", "precision", "recall", "f1")
_LOWER = ("loss", "mae", "mse", "rmse")


def infer_mode(monitor, owner="the callback"):
    """``"max"`` or ``"min"`` for a log key, or a ValueError asking for ``mode``."""
    base = monitor.removeprefix("val_").lower()
    if base in _HIGHER or base.endswith("accuracy"):
        return "max"
    if base in _LOWER or base.endswith(("loss", "error")):
        return "min"
    raise ValueError(f"{owner} cannot tell whether {monitor!r} is better higher or lower; "
                     "give mode='max' or mode='min'")


class Monitor:
    """``monitor`` in the logs, compared with ``mode`` ("min"/"max"/"auto") and ``min_delta``."""

    def __init__(self, owner, monitor, mode="auto", min_delta=0.0):
        if not isinstance(monitor, str) or not monitor:
            raise TypeError(f"{owner} monitor must be a log key such as 'val_loss', "
                            f"got {monitor!r}")
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"{owner} mode must be 'auto', 'min' or 'max', got {mode!r}")
        if isinstance(min_delta, bool) or not isinstance(min_delta, (int, float)) or \
                not min_delta >= 0 or not math.isfinite(min_delta):
            raise ValueError(f"{owner} min_delta must be a finite number >= 0, got {min_delta!r}")
        self.owner, self.key, self.min_delta = owner, monitor, float(min_delta)
        self.mode = infer_mode(monitor, owner) if mode == "auto" else mode

    def value(self, logs):
        """The monitored value of an epoch's logs (a ValueError naming the keys if absent)."""
        logs = logs or {}
        if self.key in logs:
            return logs[self.key]
        available = ", ".join(sorted(logs)) or "none"
        base = self.key.removeprefix("val_")
        if self.key.startswith("val_") and base in logs and \
                not any(k.startswith("val_") for k in logs):
            fix = (f"there is no development set: give fit validation_split or "
                   f"validation_data, or monitor {base!r} (the training value)")
        else:
            fix = "check the spelling"
        raise ValueError(f"{self.owner} monitors {self.key!r} but the epoch's logs have only "
                         f"{available}; {fix}")

    def improved(self, value, best):
        """Whether ``value`` beats ``best`` (None: nothing yet) by more than min_delta."""
        if math.isnan(value):
            return False
        if best is None:
            return True
        if self.mode == "min":
            return value < best - self.min_delta
        return value > best + self.min_delta
