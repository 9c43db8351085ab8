"""``ModelCheckpoint``: save a checkpoint during ``fit``, as Keras's callback of the same name.

What a checkpoint holds, and how it is written and read, is :mod:`nlayer.saving.checkpoint`;
resuming from one is ``fit(..., resume_from=path)`` (:mod:`nlayer.training.resume`).
"""

import math
import os
import time
from typing import Any, cast

import numpy as np

from ..saving.checkpoint import save_checkpoint
from .base import Callback, checked_state
from .watch import infer_mode

__all__ = ["ModelCheckpoint"]


class ModelCheckpoint(Callback):
    """Save a checkpoint to ``path`` during ``fit``, as Keras's callback of the same name.

    - ``every_epochs=N``: at the end of every N-th epoch (and of the last one);
    - ``every_batches=N``: also after every N-th batch (counted over the run);
    - ``every_seconds=S``: a save that ``every_epochs``/``every_batches`` makes due is
      skipped unless S seconds (``time.monotonic``) have passed since this callback's
      last save; the clock starts when ``fit`` starts (or resumes), so the first
      periodic save comes S seconds into training and a run shorter than S writes only
      its final checkpoint. The saves at the last epoch, at an early stop and at an
      interruption always happen. This bounds the cost of checkpointing short epochs
      (PyTorch Lightning's ``ModelCheckpoint(train_time_interval=...)`` is the
      precedent); it cannot be combined with ``save_best_only``, whose skipped save
      would lose a best model;
    - ``save_best_only=True``: only at the end of an epoch whose ``monitor`` value
      beats every earlier one (``mode`` "min"/"max", or "auto": read from the name
      as EarlyStopping does). The best value is part of the checkpoint, so after a resume a worse
      epoch never overwrites the best model (Keras starts again from +-inf).

    ``path`` may hold ``{epoch}`` (and ``{batch}``) to keep one file per save.
    When training is stopped between two checkpoints (``model.stop_training``, e.g.
    Ctrl-C in the command line), a last checkpoint is written at that batch
    (``save_best_only`` aside). Checkpoints are written after every other callback
    has seen the batch or epoch, so their states are complete.

    Parameters
    ----------
    path : str or os.PathLike
    monitor : str, default "val_loss"
        For ``save_best_only``.
    save_best_only : bool, default False
    every_epochs : int, default 1
    every_batches : int, optional
    mode : {"auto", "min", "max"}
    every_seconds : float, optional

    Raises
    ------
    ValueError
        If ``path`` is empty, a count or ``mode`` is invalid, or ``every_seconds`` is given
        with ``save_best_only``.

    Examples
    --------
    An interrupted run resumed from its checkpoint ends with the uninterrupted run's weights:

    >>> import os, tempfile, numpy as np, nlayer as nl
    >>> X, y = np.random.default_rng(0).normal(size=(120, 4)), np.arange(120) % 3
    >>> def run(epochs, **fit):
    ...     model = nl.MLP(hidden=(8,))
    ...     _ = model.compile(optimizer=nl.SGD(lr=0.05, momentum=0.9))
    ...     _ = model.fit(X, y, epochs=epochs, batch_size=16, seed=1, **fit)
    ...     return model
    >>> path = os.path.join(tempfile.mkdtemp(), "run.ckpt")
    >>> _ = run(2, callbacks=[nl.ModelCheckpoint(path)])                # stopped after 2
    >>> resumed = run(5, callbacks=[nl.ModelCheckpoint(path)], resume_from=path)
    >>> all(np.array_equal(a, b) for a, b in zip(resumed.get_weights(), run(5).get_weights()))
    True
    """

    runs_last = True

    #: The clock of ``every_seconds`` (a test may give an instance a fake one).
    _clock = staticmethod(time.monotonic)

    def __init__(self, path: str | os.PathLike[str], monitor: str = "val_loss",
                 save_best_only: bool = False, every_epochs: int = 1,
                 every_batches: int | None = None, mode: str = "auto",
                 every_seconds: float | None = None) -> None:
        self.path = os.fspath(path)
        if not self.path:
            raise ValueError("ModelCheckpoint needs a file path, e.g. 'checkpoint.nlayer'")
        self.every_epochs = _whole(every_epochs, "every_epochs", 1)
        self.every_batches = None if every_batches is None else \
            _whole(every_batches, "every_batches", 1)
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
        if mode == "auto":  # read from the name as EarlyStopping and ReduceLROnPlateau do
            try:
                mode = infer_mode(str(monitor), "ModelCheckpoint")
            except ValueError:
                if save_best_only:  # the best model would be chosen the wrong way round
                    raise
                mode = "min"  # only save_best_only compares values
        self.monitor, self.mode = monitor, mode
        self.save_best_only = bool(save_best_only)
        self.every_seconds = _seconds(every_seconds)
        if self.every_seconds is not None and self.save_best_only:
            raise ValueError("every_seconds spaces out periodic saves, and save_best_only "
                             "saves only improvements (skipping one would lose that best "
                             "model); give one of them")
        self.needs_batch_end = self.every_batches is not None and not self.save_best_only
        self.best: float | None = None
        self.last_path: str | None = None
        self._last_save: float | None = None

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self.best, self.last_path = None, None
        self._last_save = self._clock()

    def on_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        state = self.model._fit_state
        done = (state.epoch - 1) * state.n_batches + batch
        if done % self.every_batches == 0 and self._time_allows():
            self._save(state.epoch, batch)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = cast("dict[str, Any]", logs)  # fit passes every epoch's logs
        if self.save_best_only:
            if self.monitor not in logs:
                raise ValueError(f"ModelCheckpoint monitors {self.monitor!r} but the epoch's logs "
                                 f"have {sorted(logs)}; choose one of those")
            value = logs[self.monitor]
            if math.isnan(value) or not self._improved(value):
                return
            self.best = value
        elif not self.model.stop_training and epoch != self.model._fit_state.epochs and \
                (epoch % self.every_epochs or not self._time_allows()):
            return  # the saves at the last epoch and at a stop always happen
        self._save(epoch, None)

    def on_interrupt(self, epoch: int, batch: int) -> None:
        if not self.save_best_only:
            self._save(epoch, batch)

    def _improved(self, value):
        if self.best is None:
            return True
        return value < self.best if self.mode == "min" else value > self.best

    def _time_allows(self):
        """Whether ``every_seconds`` (if set) have passed since the last save."""
        return self.every_seconds is None or \
            self._clock() - self._last_save >= self.every_seconds

    def _save(self, epoch, batch):
        self.last_path = self.path.format(epoch=epoch, batch=batch or 0)
        self._last_save = self._clock()
        save_checkpoint(self.model, self.last_path)

    def get_state(self) -> dict[str, Any]:
        return {"best": self.best}

    def set_state(self, state: dict[str, Any]) -> None:
        self.best = checked_state("ModelCheckpoint", state, best="number or None")["best"]


def _seconds(value):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not math.isfinite(value) or value < 0:
        raise ValueError(f"every_seconds must be a number of seconds >= 0 (or None for no "
                         f"limit), got {value!r}")
    return float(value)


def _whole(value, name, low):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name} must be a whole number >= {low}, got {value!r}")
    return int(value)
