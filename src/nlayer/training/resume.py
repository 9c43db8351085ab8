"""Resuming ``fit`` from a checkpoint: the model, its settings, its data and its callbacks must
be the interrupted run's, and then every state is handed back to its owner.

The file's format is :mod:`nlayer.saving.checkpoint`; here is what ``fit(resume_from=)``
does with it. A checkpoint that cannot continue this ``fit`` is a
:class:`~nlayer.errors.CheckpointMismatchError`; a damaged one a
:class:`~nlayer.errors.ModelFileError`.
"""

import hashlib

import numpy as np

from ..callbacks import Callback
from ..errors import CheckpointMismatchError, ModelFileError
from ..saving import checkpoint
from ..utils import checks

__all__ = ["restore", "check_settings", "restore_callbacks", "fingerprint"]

_FINGERPRINT_ROWS = 1024  # rows hashed per array: catches other data without reading it all


def restore(model, path, seed=None):
    """Load the checkpoint at ``path`` into ``model``; return its section for ``fit``.

    The model must have the checkpoint's architecture and compile settings (an
    unbuilt model is built); weights, optimiser state, input normaliser and
    history are taken from the file. ``seed`` (fit's, if given) must be the
    checkpoint's: nothing is changed when it is not.
    """
    header, arrays, section = checkpoint.read(path)
    saved_seed = section["settings"].get("seed")
    if seed is not None and checks.seed(seed) != saved_seed:
        raise CheckpointMismatchError(
            f"cannot resume from {path}: seed: {seed!r} now, {saved_seed!r} in the checkpoint; "
            "resume with the same seed (or seed=None, which takes the checkpoint's)")
    # the checkpoint as a model, built by the model's own class (training sits below the model)
    saved = type(model).from_file_contents(path, header, arrays)
    if section["position"]["batch"]:
        _check_totals(section["totals"]["stats"], saved, path)
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


def _check_totals(stats, saved, path):
    """One running sum per metric of the saved model, each of the shape that metric keeps."""
    k = saved.n_outputs
    probe = np.zeros((1, k), dtype=saved.dtype)
    shapes = [np.shape(m.stats(probe, probe)) for m in saved.metrics]
    if [np.shape(a) for a in stats] != shapes:
        raise ModelFileError(f"{path}: the checkpoint's running totals are malformed (one sum "
                             f"per metric of shapes {shapes} expected); the file was altered "
                             "or written by something else: resume from another checkpoint")


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
        if key in ("epochs", "blas_threads") or saved.get(key) == settings.get(key):
            continue
        if key in data:
            problem = f"the {data[key]} differs from the interrupted run's"
        else:
            problem = f"{key}: {settings.get(key)!r} now, {saved.get(key)!r} in the checkpoint"
        raise CheckpointMismatchError(f"cannot resume from {path}: {problem}; resume with "
                                      "the same data and fit settings")


def blas_threads(section):
    """The BLAS thread count the interrupted run used (its numbers depend on it), or None."""
    saved = section["settings"].get("blas_threads") if section else None
    return saved if checks.is_whole(saved, 1) else None


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
        try:
            cb.set_state(entry["state"])
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            raise ModelFileError(f"{path}: the checkpoint's state of {entry['class']} is "
                                 f"malformed ({exc}); the file was altered or written by "
                                 "something else: resume from another checkpoint") from None


def fingerprint(*arrays):
    """A digest of shapes, dtypes and up to 1024 evenly spaced rows of each array (None: skipped)."""
    h = hashlib.blake2b(digest_size=16)
    for a in (a for a in arrays if a is not None):
        h.update(f"{a.dtype.str}{a.shape}".encode())
        rows = np.unique(np.linspace(0, len(a) - 1, min(len(a), _FINGERPRINT_ROWS)).astype(np.intp))
        h.update(np.ascontiguousarray(a[rows]).tobytes())
    return h.hexdigest()
