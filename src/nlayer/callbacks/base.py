"""The callback interface: hooks into the ``fit`` loop, with the method names Keras users know.

Epochs are numbered from 1 in logs and in :class:`~nlayer.callbacks.History`.
"""

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from ..utils.checks import is_real, is_whole

__all__ = ["Callback", "CallbackList", "checked_state"]


class Callback:
    """Base class; override the hooks you need. ``self.model`` is set by ``fit``.

    Examples
    --------
    >>> import numpy as np, nlayer as nl
    >>> class StopAtHalf(nl.Callback):   # stop once the training loss is below 0.5
    ...     def on_epoch_end(self, epoch, logs=None):
    ...         self.model.stop_training = logs["loss"] < 0.5
    >>> X = np.random.default_rng(0).normal(size=(64, 3)); y = (X[:, 0] > 0).astype(int)
    >>> model = nl.MLP(hidden=(8,)).compile(optimizer=nl.SGD(lr=0.5))
    >>> history = model.fit(X, y, epochs=50, seed=0, callbacks=[StopAtHalf()])
    >>> len(history.epoch) < 50 and history.history["loss"][-1] < 0.5
    True
    """

    #: a Sequential once fit sets it (None before). Typed Any: the model module imports the
    #: callbacks, so naming its class here would be an import circle (tests/test_package_layout)
    model: Any = None

    def set_model(self, model: Any) -> None:
        self.model = model

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        pass

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        pass

    def on_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        pass

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        pass

    def on_interrupt(self, epoch: int, batch: int) -> None:
        """Training stops mid-epoch (``model.stop_training`` set during the batches):
        ``batch`` batches of ``epoch`` ran, and that epoch will not be recorded."""

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        pass

    # -- state for checkpoints ---------------------------------------------------
    def get_state(self) -> dict[str, Any]:
        """What this callback needs to continue exactly after a resume.

        A dict of JSON values (numbers, strings, lists, dicts, None) and NumPy
        arrays, nested freely; a checkpoint stores it without pickling. Stateless
        callbacks keep this default.
        """
        return {}

    def set_state(self, state: dict[str, Any]) -> None:
        """Take back what :meth:`get_state` returned. On resume ``fit`` calls it
        right after ``on_train_begin``, so it overrides what that reset. A state that
        cannot be this callback's is a ValueError (see :func:`checked_state`)."""


#: what a field of a callback's state may hold (see :func:`checked_state`)
_KINDS = {
    "number or None": lambda v: v is None or (is_real(v) and math.isfinite(v)),
    "whole number >= 0": lambda v: is_whole(v, 0),
    "epoch or None": lambda v: v is None or is_whole(v, 1),
    "list of arrays or None": lambda v: v is None or (
        isinstance(v, list) and all(isinstance(a, np.ndarray) for a in v)),
    "samples": lambda v: isinstance(v, dict) and all(  # {epoch: {layer name: array}}
        isinstance(e, str) and e.isdigit() and isinstance(layers, dict) and
        all(isinstance(k, str) and isinstance(a, np.ndarray) for k, a in layers.items())
        for e, layers in v.items()),
}


def checked_state(owner: str, state: Any, optional: Iterable[str] = (),
                  **fields: str) -> dict[str, Any]:
    """``state`` if it is a dict with these fields (those named in ``optional`` may be
    missing: states written before they existed), each of its kind
    (``best="number or None"``, ...); else a ValueError naming the field. Callbacks check
    a checkpoint's state with it before taking any of it."""
    if not isinstance(state, dict) or not set(fields) - set(optional) <= set(state) <= set(fields):
        keys = sorted(state) if isinstance(state, dict) else type(state).__name__
        raise ValueError(f"{owner}'s state must have the fields {sorted(fields)}, got {keys}")
    for name, kind in fields.items():
        if name in state and not _KINDS[kind](state[name]):
            raise ValueError(f"{owner}'s state field {name!r} must be a {kind}, "
                             f"got {state[name]!r}")
    return state


class CallbackList:
    """Calls each hook on every callback in order.

    Callbacks with ``runs_last = True`` (checkpoints) come after all others, so
    that they see every other callback's work on the same batch or epoch.
    """

    def __init__(self, callbacks: Iterable[Callback], model: Any) -> None:
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

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        for cb in self.callbacks:
            cb.on_train_begin(logs)

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        for cb in self.callbacks:
            cb.on_epoch_begin(epoch, logs)

    def on_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        for hook in self.batch_hooks:
            hook(batch, logs)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        for cb in self.callbacks:
            cb.on_epoch_end(epoch, logs)

    def on_interrupt(self, epoch: int, batch: int) -> None:
        for cb in self.callbacks:
            cb.on_interrupt(epoch, batch)

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        for cb in self.callbacks:
            cb.on_train_end(logs)
