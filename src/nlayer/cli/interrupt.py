"""Ctrl-C during training: the first stops after the current batch, the second aborts.

After the first Ctrl-C ``fit`` ends cleanly (EarlyStopping still restores the
best weights) and the run directory is written with ``"interrupted": true``.
A second Ctrl-C raises KeyboardInterrupt as usual.
"""

import signal
import sys
import threading

from nlayer.callbacks import Callback

MESSAGE = ("\nnlayer: interrupted; stopping after the current batch and saving the run "
           "(press Ctrl-C again to abort)\n")


class StopOnInterrupt(Callback):
    """Context manager and callback: installs the SIGINT handler around ``fit``."""

    def __init__(self, model):
        self.model = model
        self.requested = False
        self._previous = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None
        return False

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        self.model.stop_training = True
        sys.stderr.write(MESSAGE)
        sys.stderr.flush()

    # fit resets model.stop_training when it starts; re-assert a request made earlier.
    def on_train_begin(self, logs=None):
        if self.requested:
            self.model.stop_training = True

    def on_batch_end(self, batch, logs=None):
        if self.requested:
            self.model.stop_training = True
