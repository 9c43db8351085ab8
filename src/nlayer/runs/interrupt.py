"""Ctrl-C during training: the first stops after the current batch, the second aborts.

After the first Ctrl-C ``fit`` ends cleanly: the unfinished epoch is not recorded,
a checkpoint is written at that batch (``--resume`` continues from it), the model
goes back to the best development-set epoch so far, and the run directory is
written with ``"interrupted": true``. A second Ctrl-C raises KeyboardInterrupt.
"""

import signal
import sys
import threading

from nlayer.callbacks import Callback, EarlyStopping

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
        # only the batch hook below stops training, so a stop always falls on a batch's end
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        sys.stderr.write(MESSAGE)
        sys.stderr.flush()

    # fit resets model.stop_training when it starts; re-assert a request made earlier.
    def on_train_begin(self, logs=None):
        if self.requested:
            self.model.stop_training = True

    def on_batch_end(self, batch, logs=None):
        if self.requested:
            self.model.stop_training = True


class KeepBestOnInterrupt(EarlyStopping):
    """For runs without early stopping: never stops, remembers the best development
    epoch's weights and goes back to them only when the run is interrupted (a run
    that finishes keeps its last epoch, as it was configured to)."""

    def __init__(self, monitor="val_loss"):
        super().__init__(monitor=monitor, patience=2**62, restore_best_weights=True)

    def on_train_end(self, logs=None):
        self.restore_best_weights = bool(self.model.history.interrupted)
        super().on_train_end(logs)
