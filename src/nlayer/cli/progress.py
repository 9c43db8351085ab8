"""Live training output: a rich progress bar per epoch and one line per epoch.

The epoch lines are ``fit(verbose=2)``'s (:mod:`nlayer.callbacks.progress`); the bar is
rich's, drawn per epoch and transient, as the CLI runs only on terminals and pipes.

On a terminal the bar shows batches, the running loss and the ETA and vanishes
at the end of each epoch, leaving the epoch line. When stdout is not a terminal
(pipes, CI) only the plain epoch lines are printed.
"""

import math

from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                           TimeRemainingColumn)

from nlayer.callbacks import Callback
from nlayer.callbacks.progress import LABELS, epoch_line, format_logs

__all__ = ["LABELS", "format_logs", "epoch_line", "EpochReporter"]


class EpochReporter(Callback):
    """Shows a bar while an epoch runs (terminals only) and prints a line after it."""

    def __init__(self, console, bar=None):
        self.console = console
        self.bar = console.is_terminal if bar is None else bar
        self.progress = None
        self.epochs = self.steps = 0

    def announce(self, text):
        """A line of its own between trainings (an ensemble's members)."""
        self.console.print(text, markup=False, highlight=False)

    def on_train_begin(self, logs=None):
        logs = logs or {}
        self.epochs, self.steps = logs.get("epochs", 0), logs.get("steps", 0)
        if self.bar:
            self.progress = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("loss {task.fields[loss]:.4f}"), TextColumn("ETA"),
                TimeRemainingColumn(), console=self.console, transient=True)
            self.task = self.progress.add_task("", total=self.steps, loss=math.nan)
            self.progress.start()

    def on_epoch_begin(self, epoch, logs=None):
        self._sum = self._rows = 0
        if self.progress is not None:
            self.progress.reset(self.task, total=self.steps, loss=math.nan,
                                description=f"epoch {epoch}/{self.epochs}")

    def on_batch_end(self, batch, logs=None):
        if self.progress is None:
            return
        self._sum += logs["loss"] * logs["size"]
        self._rows += logs["size"]
        self.progress.update(self.task, completed=batch, loss=self._sum / self._rows)

    def on_epoch_end(self, epoch, logs=None):
        self.console.print(epoch_line(epoch, self.epochs, logs or {}), markup=False,
                           highlight=False, soft_wrap=True)

    def on_train_end(self, logs=None):
        self.close()

    def close(self):
        """Stop the live bar; safe to call twice (also after an exception in fit)."""
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
