"""The checkpoint format: a model file that also holds everything ``fit`` needs to continue exactly.

A checkpoint is an ordinary model file (``nl.load`` reads it as the model at that
moment) with one more header section, ``checkpoint``, and its arrays:

- ``position``: the epoch and the number of its batches already done (the next
  batch to run), and whether training had already decided to stop;
- ``rng``: the states of the shuffling generator (at the start of that epoch, so
  the epoch's row order is drawn again) and of the dropout and augmentation
  generators (now);
- ``totals``: the running sums of the unfinished epoch's loss and metrics;
- ``settings``: what must not change for the resumed run to equal the
  uninterrupted one (seed, batch size, development split, shuffling, a
  fingerprint of the data);
- ``callbacks``: every callback's :meth:`~nlayer.callbacks.Callback.get_state`.

:class:`~nlayer.callbacks.ModelCheckpoint` decides when to write one.

The optimiser's state (momentum, Adam moments, step count) and the history so far
are part of every model file already. Arrays inside states are stored as members
``ckpt_<n>`` and referenced from the JSON, so nothing is ever unpickled.

``fit(..., resume_from=path)`` reads it back (:func:`read`, then
:mod:`nlayer.training.resume`): a run killed at any moment and resumed from its last
checkpoint ends with the same weights and history as the run that was never
interrupted (the ``seconds`` per epoch aside).
"""

import math

import numpy as np

from ..errors import ModelFileError
from ..utils.checks import is_real, is_whole
from .modelfile import read as read_model_file, save

__all__ = ["save_checkpoint", "read", "encode", "decode"]

_ARRAY_REF = "__ndarray__"


def save_checkpoint(model, path):
    """Write ``model`` and its training position to ``path`` (only during ``fit``)."""
    state = getattr(model, "_fit_state", None)
    if state is None:
        raise RuntimeError("a checkpoint is written during fit (use ModelCheckpoint); "
                           "model.save writes the model alone")
    arrays = {}
    section = {
        "position": state.position(),
        "rng": state.generator_states(),
        "totals": state.totals_state(),
        "settings": state.settings,
        "callbacks": [{"class": type(cb).__name__, "state": cb.get_state()}
                      for cb in state.callbacks],
    }
    save(model, path, checkpoint=(encode(section, arrays), arrays))


def read(path):
    """``(header, arrays, section)`` of the checkpoint at ``path``: the model file's checked
    header and arrays, and its decoded, checked checkpoint section."""
    header, arrays = read_model_file(path)
    if "checkpoint" not in header:
        raise ModelFileError(f"{path}: a model file, not a checkpoint: it has no training "
                             "position to resume from (train from it with fit() instead)")
    section = decode(header["checkpoint"], arrays, path)
    _check_section(section, path)
    return header, arrays, section


#: the fit settings a checkpoint records, and what each must be
_SETTINGS = {
    "seed": lambda v: is_whole(v, 0), "batch_size": lambda v: is_whole(v, 1),
    "shuffle": lambda v: isinstance(v, bool) or v == "blocks",
    "validation_data": lambda v: isinstance(v, bool),
    "validation_split": lambda v: is_real(v) and 0 <= v < 1,
    "rows": lambda v: is_whole(v, 1), "features": lambda v: is_whole(v, 1),
    "fingerprint": lambda v: isinstance(v, str),
    "dev_fingerprint": lambda v: v is None or isinstance(v, str),
    "epochs": lambda v: is_whole(v, 0),
}
#: settings that 0.1.0 did not record yet: the BLAS threads the run used, its augmentation
#: and adversarial epsilon
_SETTINGS_OPTIONAL = {"blas_threads": lambda v: v is None or is_whole(v, 1),
                      # compared with fit's own on resume (a different one is refused)
                      "augment": lambda v: v is None or (isinstance(v, dict) and
                                                         isinstance(v.get("transforms"), list)),
                      "adversarial": lambda v: v is None or (is_real(v) and 0 < v < math.inf)}


def _check_section(section, path):
    """The checkpoint section's structure and values, before fit trusts any of it: every
    field of its type and within what the recorded run could have reached."""
    def need(ok, what):
        if not ok:
            raise ModelFileError(f"{path}: the checkpoint's {what} is malformed; the file was "
                                 "altered or written by something else: resume from another "
                                 "checkpoint")
    need(isinstance(section, dict) and {"position", "rng", "totals", "settings", "callbacks"}
         <= set(section), "section")
    pos, rng, totals, settings = (section[k] for k in ("position", "rng", "totals", "settings"))
    need(isinstance(settings, dict) and set(settings) - set(_SETTINGS_OPTIONAL) ==
         set(_SETTINGS) and all(ok(settings[key]) for key, ok in _SETTINGS.items()) and
         all(ok(settings[key]) for key, ok in _SETTINGS_OPTIONAL.items() if key in settings),
         "settings")
    n_batches = -(-settings["rows"] // settings["batch_size"])
    need(isinstance(pos, dict) and is_whole(pos.get("epoch"), 1) and
         pos["epoch"] <= max(settings["epochs"], 1) + 1 and
         is_whole(pos.get("batch"), 0) and pos["batch"] <= n_batches and
         isinstance(pos.get("stopped"), bool), "position")
    need(isinstance(rng, dict) and isinstance(rng.get("dropout"), dict) and
         isinstance(rng.get("shuffle"), dict if settings["shuffle"] else type(None)) and
         isinstance(rng.get("augment"), dict if settings.get("augment") else type(None)),
         "generator state")
    if pos["batch"]:
        need(isinstance(totals, dict) and {"loss", "rows", "stats"} <= set(totals) <=
             {"loss", "rows", "stats", "penalty"} and
             is_real(totals.get("penalty", 0.0)) and math.isfinite(totals.get("penalty", 0.0)) and
             is_real(totals["loss"]) and math.isfinite(totals["loss"]) and
             is_real(totals["rows"]) and 0 < totals["rows"] < math.inf and
             isinstance(totals["stats"], list) and
             all(isinstance(a, np.ndarray) and a.dtype == np.float64 and a.ndim == 1 and
                 np.isfinite(a).all() for a in totals["stats"]), "running totals")
    else:
        need(totals is None, "running totals")
    need(isinstance(section["callbacks"], list) and all(
        isinstance(c, dict) and set(c) == {"class", "state"} and isinstance(c["class"], str)
        for c in section["callbacks"]), "callback list")
    for name in ("shuffle", "dropout", "augment"):
        if rng.get(name) is not None:
            try:  # a state the generator refuses is refused here, not in the middle of fit
                np.random.PCG64().state = rng[name]
            except (TypeError, ValueError, KeyError, OverflowError):
                need(False, f"{name} generator state")


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
