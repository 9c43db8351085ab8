"""The callback interface: hooks into the ``fit`` loop, with the method names Keras users know.

Epochs are numbered from 1 in logs and in :class:`~nlayer.callbacks.History`.
"""

__all__ = ["Callback", "CallbackList"]


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
