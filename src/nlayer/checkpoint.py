"""Checkpoints: a model file that also holds everything ``fit`` needs to continue exactly.

A checkpoint is an ordinary model file (``nl.load`` reads it as the model at that
moment) with one more header section, ``checkpoint``, and its arrays:

- ``position``: the epoch and the number of its batches already done (the next
  batch to run), and whether training had already decided to stop;
- ``rng``: the states of the shuffling generator (at the start of that epoch, so
  the epoch's row order is drawn again) and of the dropout generator (now);
- ``totals``: the running sums of the unfinished epoch's loss and metrics;
- ``settings``: what must not change for the resumed run to equal the
  uninterrupted one (seed, batch size, development split, shuffling, a
  fingerprint of the data);
- ``callbacks``: every callback's :meth:`~nlayer.callbacks.Callback.get_state`.

The optimiser's state (momentum, Adam moments, step count) and the history so far
are part of every model file already. Arrays inside states are stored as members
``ckpt_<n>`` and referenced from the JSON, so nothing is ever unpickled.

``fit(..., resume_from=path)`` reads it back (see :func:`restore`): a run killed at
any moment and resumed from its last checkpoint ends with the same weights and
history as the run that was never interrupted (the ``seconds`` per epoch aside).
"""

import hashlib
import math
import os
import time

import numpy as np

from .callbacks import Callback
from .errors import ModelFileError

__all__ = ["ModelCheckpoint", "CheckpointMismatchError", "save_checkpoint", "restore"]

_ARRAY_REF = "__ndarray__"
_FINGERPRINT_ROWS = 1024  # rows hashed per array: catches other data without reading it all


class CheckpointMismatchError(ValueError):
    """A checkpoint that cannot continue this ``fit``: another model, other callbacks, other
    fit settings or other data than the interrupted run's. The file itself is sound
    (a damaged file is a :class:`~nlayer.errors.ModelFileError`)."""


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
      beats every earlier one (``mode`` "min"/"max", or "auto": max for accuracy
      and r2). The best value is part of the checkpoint, so after a resume a worse
      epoch never overwrites the best model (Keras starts again from +-inf).

    ``path`` may hold ``{epoch}`` (and ``{batch}``) to keep one file per save.
    When training is stopped between two checkpoints (``model.stop_training``, e.g.
    Ctrl-C in the command line), a last checkpoint is written at that batch
    (``save_best_only`` aside). Checkpoints are written after every other callback
    has seen the batch or epoch, so their states are complete.
    """

    runs_last = True

    #: The clock of ``every_seconds`` (a test may give an instance a fake one).
    _clock = staticmethod(time.monotonic)

    def __init__(self, path, monitor="val_loss", save_best_only=False, every_epochs=1,
                 every_batches=None, mode="auto", every_seconds=None):
        self.path = os.fspath(path)
        if not self.path:
            raise ValueError("ModelCheckpoint needs a file path, e.g. 'checkpoint.nlayer'")
        self.every_epochs = _whole(every_epochs, "every_epochs", 1)
        self.every_batches = None if every_batches is None else \
            _whole(every_batches, "every_batches", 1)
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
        if mode == "auto":
            mode = "max" if str(monitor).removeprefix("val_") in ("accuracy", "r2") else "min"
        self.monitor, self.mode = monitor, mode
        self.save_best_only = bool(save_best_only)
        self.every_seconds = _seconds(every_seconds)
        if self.every_seconds is not None and self.save_best_only:
            raise ValueError("every_seconds spaces out periodic saves, and save_best_only "
                             "saves only improvements (skipping one would lose that best "
                             "model); give one of them")
        self.needs_batch_end = self.every_batches is not None and not self.save_best_only
        self.best = None
        self.last_path = None
        self._last_save = None

    def on_train_begin(self, logs=None):
        self.best, self.last_path = None, None
        self._last_save = self._clock()

    def on_batch_end(self, batch, logs=None):
        state = self.model._fit_state
        done = (state.epoch - 1) * state.n_batches + batch
        if done % self.every_batches == 0 and self._time_allows():
            self._save(state.epoch, batch)

    def on_epoch_end(self, epoch, logs=None):
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

    def on_interrupt(self, epoch, batch):
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

    def get_state(self):
        return {"best": self.best}

    def set_state(self, state):
        self.best = state.get("best")


def save_checkpoint(model, path):
    """Write ``model`` and its training position to ``path`` (only during ``fit``)."""
    from .io import save

    state = getattr(model, "_fit_state", None)
    if state is None:
        raise RuntimeError("a checkpoint is written during fit (use ModelCheckpoint); "
                           "model.save writes the model alone")
    arrays = {}
    section = {
        "position": state.position(),
        "rng": {"shuffle": state.epoch_shuffle_state(), "dropout": state.dropout_rng.bit_generator.state},
        "totals": state.totals_state(),
        "settings": state.settings,
        "callbacks": [{"class": type(cb).__name__, "state": cb.get_state()}
                      for cb in state.callbacks],
    }
    save(model, path, checkpoint=(encode(section, arrays), arrays))


# -- resuming --------------------------------------------------------------------
def restore(model, path):
    """Load the checkpoint at ``path`` into ``model``; return its section for ``fit``.

    The model must have the checkpoint's architecture and compile settings (an
    unbuilt model is built); weights, optimiser state, input normaliser and
    history are taken from the file.
    """
    from .io import read

    saved, header, arrays = read(path)
    if "checkpoint" not in header:
        raise ModelFileError(f"{path}: a model file, not a checkpoint: it has no training "
                             "position to resume from (train from it with fit() instead)")
    section = decode(header["checkpoint"], arrays, path)
    _check_section(section, path)
    if not model.built:  # built first: initialisers named "auto" are resolved when built
        last = model._dense_layers()[-1] if model._dense_layers() else None
        if last is not None and last.units is None:
            last.units = saved.n_outputs
        model.build((None, saved.n_features))
    _require_same_model(model, saved, path)
    model.set_weights(saved.get_weights())
    model.optimizer.set_state(saved.optimizer.get_state())
    model.normalizer, model.target_scaler = saved.normalizer, saved.target_scaler
    section["history"] = saved.history
    return section


def _check_section(section, path):
    """The checkpoint section's structure, before fit trusts any of it."""
    def need(ok, what):
        if not ok:
            raise ModelFileError(f"{path}: the checkpoint's {what} is malformed; the file was "
                                 "altered or written by something else: resume from another "
                                 "checkpoint")
    need(isinstance(section, dict) and {"position", "rng", "totals", "settings", "callbacks"}
         <= set(section), "section")
    pos, rng, totals = section["position"], section["rng"], section["totals"]
    need(isinstance(pos, dict) and _whole_number(pos.get("epoch"), 1) and
         _whole_number(pos.get("batch"), 0) and isinstance(pos.get("stopped"), bool), "position")
    need(isinstance(rng, dict) and isinstance(rng.get("dropout"), dict) and
         isinstance(rng.get("shuffle"), (dict, type(None))), "generator state")
    if pos["batch"]:
        need(isinstance(totals, dict) and isinstance(totals.get("loss"), (int, float)) and
             isinstance(totals.get("rows"), (int, float)) and isinstance(totals.get("stats"), list)
             and all(isinstance(a, np.ndarray) and a.dtype == np.float64 and a.ndim == 1
                     for a in totals["stats"]), "running totals")
    need(isinstance(section["settings"], dict), "settings")
    need(isinstance(section["callbacks"], list) and all(
        isinstance(c, dict) and isinstance(c.get("class"), str) and "state" in c
        for c in section["callbacks"]), "callback list")
    for name in ("shuffle", "dropout"):
        if rng[name] is not None:
            try:  # a state the generator refuses is refused here, not in the middle of fit
                np.random.PCG64().state = rng[name]
            except (TypeError, ValueError, KeyError, OverflowError):
                need(False, f"{name} generator state")


def _whole_number(value, low):
    return isinstance(value, int) and not isinstance(value, bool) and value >= low


def _require_same_model(model, saved, path):
    mine, theirs = model.get_config(), saved.get_config()
    for config in (mine, theirs):
        config.pop("name", None)
        optimizer = config.get("compile", {}).get("optimizer", {})
        if not isinstance(optimizer.get("lr"), dict):
            optimizer.pop("lr", None)  # the current rate (ReduceLROnPlateau) is in the state
    if mine == theirs:
        return
    for key in ("dtype", "n_features", "layers", "compile"):
        if mine.get(key) != theirs.get(key):
            raise CheckpointMismatchError(
                f"cannot resume from {path}: the model's {key} differ from the checkpoint's "
                f"({_differ(mine.get(key), theirs.get(key))}); build and compile the model "
                "exactly as for the interrupted run")


def _differ(mine, theirs):
    if isinstance(mine, list) and isinstance(theirs, list):
        if len(mine) != len(theirs):
            return f"{len(mine)} against {len(theirs)} layers"
        for i, (a, b) in enumerate(zip(mine, theirs)):
            if a != b:
                return f"layer {i + 1}: {a} against {b}"
    if isinstance(mine, dict) and isinstance(theirs, dict):
        keys = [k for k in sorted(set(mine) | set(theirs)) if mine.get(k) != theirs.get(k)]
        return "; ".join(f"{k}: {mine.get(k)!r} against {theirs.get(k)!r}" for k in keys)
    return f"{mine!r} against {theirs!r}"


def check_settings(section, settings, path):
    """Refuse a resume whose fit settings or data differ from the checkpoint's."""
    saved = section["settings"]
    data = {"rows": "number of training rows", "fingerprint": "training data",
            "dev_fingerprint": "development data"}
    # settings first: a different split also changes the data the fingerprints see
    order = list(data)
    for key in sorted(set(saved) | set(settings),
                      key=lambda k: (k in data, order.index(k) if k in data else k)):
        if key == "epochs" or saved.get(key) == settings.get(key):
            continue
        if key in data:
            problem = f"the {data[key]} differs from the interrupted run's"
        else:
            problem = f"{key}: {settings.get(key)!r} now, {saved.get(key)!r} in the checkpoint"
        raise CheckpointMismatchError(f"cannot resume from {path}: {problem}; resume with "
                                      "the same data and fit settings")


def restore_callbacks(section, callbacks, path):
    """Give each stateful callback its saved state, matched by class and order."""
    saved = [c for c in section["callbacks"] if c["state"]]
    current = [cb for cb in callbacks if type(cb).get_state is not Callback.get_state]
    names = [type(cb).__name__ for cb in current]
    if [c["class"] for c in saved] != names:
        raise CheckpointMismatchError(
            f"cannot resume from {path}: it holds the state of callbacks "
            f"{[c['class'] for c in saved]} but fit was given {names}; pass the same "
            "callbacks as in the interrupted run")
    for cb, entry in zip(current, saved):
        cb.set_state(entry["state"])


def fingerprint(*arrays):
    """A digest of shapes, dtypes and up to 1024 evenly spaced rows of each array (None: skipped)."""
    h = hashlib.blake2b(digest_size=16)
    for a in (a for a in arrays if a is not None):
        h.update(f"{a.dtype.str}{a.shape}".encode())
        rows = np.unique(np.linspace(0, len(a) - 1, min(len(a), _FINGERPRINT_ROWS)).astype(np.intp))
        h.update(np.ascontiguousarray(a[rows]).tobytes())
    return h.hexdigest()


# -- states as JSON plus arrays ----------------------------------------------------
def encode(value, arrays):
    """``value`` with every NumPy array replaced by a reference to an entry of ``arrays``."""
    if isinstance(value, np.ndarray):
        name = str(len(arrays))
        arrays[name] = value
        return {_ARRAY_REF: name}
    if isinstance(value, dict):
        return {str(k): encode(v, arrays) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode(v, arrays) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def decode(value, arrays, path):
    """The inverse of :func:`encode` over a file's ``ckpt_`` arrays."""
    if isinstance(value, dict):
        if set(value) == {_ARRAY_REF}:
            key = f"ckpt_{value[_ARRAY_REF]}"
            if key not in arrays:
                raise ModelFileError(f"{path}: the checkpoint refers to a missing array {key}")
            return arrays[key]
        return {k: decode(v, arrays, path) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v, arrays, path) for v in value]
    return value


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

