"""What ``fit`` shows while it trains, chosen by its ``verbose`` argument.

- ``verbose=0``: nothing (no callback is added, so the batches run exactly as without it);
- ``verbose=1``: one progress bar for the whole run, redrawn in place at most every
  :data:`INTERVAL` seconds: epoch, batch, running loss, the last epoch's dev metrics and the
  time left. It is ``tqdm.auto``'s bar (a widget in Jupyter when ipywidgets is installed, text
  otherwise) when tqdm is installed, else :class:`LineBar`. Where nothing can redraw a line
  (a pipe or a log file outside Jupyter) it prints one line per epoch instead;
- ``verbose=2``: one line per epoch.

The epoch lines are the CLI's (``nlayer train`` prints the same ones).
"""

import sys
import time
import warnings
from typing import Any, cast

import numpy as np

from .base import Callback
from .display import in_notebook, is_terminal

__all__ = ["LABELS", "format_logs", "epoch_line", "reporter", "EpochLines", "ProgressBar",
           "LineBar", "INTERVAL"]

#: Metric name -> short label in epoch lines and tables.
LABELS = {"loss": "loss", "accuracy": "acc", "mse": "mse", "mae": "mae", "r2": "r2"}
#: Seconds between two redraws of the bar (the epoch's end always redraws it).
INTERVAL = 0.1
_VERBOSE = "verbose must be 0 (silent), 1 (a progress bar) or 2 (one line per epoch)"


def format_logs(logs, prefix=""):
    """``loss 0.1234  acc 0.9650`` for the keys with the given prefix."""
    parts = []
    for key, label in LABELS.items():
        value = logs.get(prefix + key)
        if value is not None:
            parts.append(f"{label} {value:.4f}")
    return "  ".join(parts)


def epoch_line(epoch, epochs, logs):
    """One plain line per epoch: train and dev metrics and the epoch's seconds."""
    width = len(str(epochs))
    line = f"epoch {epoch:>{width}}/{epochs}  train {format_logs(logs)}"
    if "val_loss" in logs:
        line += f"  |  dev {format_logs(logs, 'val_')}"
    return line + f"  ({logs.get('seconds', 0.0):.2f}s)"


def reporter(verbose, stream=None):
    """The callback that shows ``fit``'s progress for ``verbose``, or None (0: silent).

    ``stream`` defaults to ``sys.stdout`` as it is when ``fit`` starts.
    """
    if isinstance(verbose, (bool, np.bool_)):
        verbose = int(verbose)
    if not isinstance(verbose, (int, np.integer)) or verbose not in (0, 1, 2):
        raise ValueError(f"{_VERBOSE}; got {verbose!r}")
    if verbose == 0:
        return None
    stream = sys.stdout if stream is None else stream
    if verbose == 2 or not (in_notebook() or is_terminal(stream)):
        return EpochLines(stream)
    return ProgressBar(stream)


class EpochLines(Callback):
    """Prints :func:`epoch_line` after each epoch."""

    def __init__(self, stream):
        self.stream, self.epochs = stream, 0

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self.epochs = (logs or {}).get("epochs", 0)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        print(epoch_line(epoch, self.epochs, logs or {}), file=self.stream, flush=True)

    def close(self):
        """Nothing stays open between lines (``fit`` closes every reporter it made)."""


class ProgressBar(Callback):
    """One bar over every batch of the run, redrawn at most every :data:`INTERVAL` seconds.

    Per batch it adds the batch's J to a running sum and reads the clock; the text is
    formatted only when the bar is redrawn.
    """

    def __init__(self, stream):
        self.stream, self.bar = stream, None
        self.epochs = self.steps = 0
        self._sum = self._rows = self._due = 0.0
        self._dev = ""

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        logs = logs or {}
        self.epochs, self.steps = logs.get("epochs", 0), logs.get("steps", 0)
        self._sum = self._rows = self._due = 0.0

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._sum = self._rows = 0.0

    def on_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        logs = cast("dict[str, Any]", logs)  # fit passes every batch's logs
        self._sum += logs["loss"] * logs["size"]
        self._rows += logs["size"]
        now = time.perf_counter()
        if now >= self._due:
            self._due = now + INTERVAL
            self._show(logs["epoch"], batch, f"loss {self._sum / self._rows:.4f}")

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = logs or {}
        if "val_loss" in logs:
            self._dev = f" | dev {format_logs(logs, 'val_')}"
        self._show(epoch, self.steps, format_logs(logs))

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        self.close()

    def _show(self, epoch, batch, text):
        position = (epoch - 1) * self.steps + batch
        if self.bar is None:  # opened at the first batch: a resumed run starts part-way
            self.bar = open_bar(self.stream, self.epochs * self.steps, position - 1)
        self.bar.set_description_str(f"epoch {epoch}/{self.epochs}", refresh=False)
        self.bar.set_postfix_str(f"batch {batch}/{self.steps}  {text}{self._dev}",
                                 refresh=False)
        self.bar.n = position
        self.bar.refresh()

    def close(self):
        """End the bar's line; safe to call twice (``fit`` calls it also when it raises)."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def open_bar(stream, total, initial):
    """tqdm.auto's bar when tqdm is installed, else a :class:`LineBar`."""
    try:
        with warnings.catch_warnings():  # tqdm.auto warns when Jupyter lacks ipywidgets,
            warnings.simplefilter("ignore")  # and then draws its text bar, which is fine
            from tqdm.auto import tqdm
    except ImportError:
        return LineBar(stream, total, initial)
    # smoothing=0: the time left from the run's mean speed; redraws are throttled by the caller
    return tqdm(total=total, initial=initial, file=stream, unit="batch", smoothing=0,
                mininterval=0, miniters=1, dynamic_ncols=True, leave=True)


class LineBar:
    """A text bar rewritten in place with '\\r' (used when tqdm is not installed).

    It has the few members of tqdm's bar that :class:`ProgressBar` uses.
    """

    WIDTH = 20

    def __init__(self, stream, total, initial=0):
        self.stream, self.total, self.n, self.initial = stream, total, initial, initial
        self.start = time.perf_counter()
        self.desc = self.postfix = ""
        self._drawn = 0  # length of the line on screen

    def set_description_str(self, desc, refresh=True):
        self.desc = desc

    def set_postfix_str(self, postfix, refresh=True):
        self.postfix = postfix

    def refresh(self):
        done = min(1.0, self.n / self.total) if self.total else 1.0
        filled = int(done * self.WIDTH)
        elapsed = time.perf_counter() - self.start
        speed = (self.n - self.initial) / elapsed if elapsed > 0 else 0.0
        left = (self.total - self.n) / speed if speed > 0 else None
        line = (f"{self.desc} [{'#' * filled}{'.' * (self.WIDTH - filled)}] {self.postfix}  "
                f"{_clock(elapsed)} elapsed, {_clock(left)} left")
        self.stream.write("\r" + line + " " * max(0, self._drawn - len(line)))
        self.stream.flush()
        self._drawn = len(line)

    def close(self):
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = 0


def _clock(seconds):
    if seconds is None:
        return "?"
    minutes, seconds = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes:02d}:{seconds:02d}"
