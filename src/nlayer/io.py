"""Saving and loading models: one ``.nlayer`` file, readable without executing anything.

The file is a NumPy ``.npz`` archive (a zip of ``.npy`` arrays):

- ``__nlayer__``: UTF-8 JSON (stored as bytes) with the format version, the
  architecture and compile settings, the input normaliser's kind, the training
  history, user metadata, the list of weight arrays and a SHA-256 digest of
  everything else;
- ``w0, w1, ...``: the weights in ``get_weights()`` order;
- ``norm_shift``, ``norm_scale``: the normaliser's statistics, when there is one;
- ``target_shift``, ``target_scale``: the regression targets' mean and standard deviation,
  shape (n_outputs,), exactly when the compile settings say ``scale_targets`` (a model
  saved before its first fit stores 0 and 1: predictions pass through unchanged);
- ``opt<slot>_<name>``: the optimiser's state (momentum velocity, Adam moments), so
  training resumes from a loaded model exactly where it stopped.

``load`` reads it with ``allow_pickle=False`` and checks the digest, the array
names, shapes and dtypes, so a malformed or tampered file is refused with a
:class:`ModelFileError` instead of producing a silently different model.
"""

import hashlib
import json
import os
import tempfile
import zipfile

import numpy as np

from .callbacks import History
from .errors import ModelFileError
from .preprocessing import NORMALIZERS, Standardizer

__all__ = ["save", "load", "FORMAT_VERSION"]

FORMAT = "nlayer-model"
FORMAT_VERSION = 1
_HEADER = "__nlayer__"


def save(model, path):
    """Write ``model`` to ``path`` atomically: a crash never leaves a half-written file there."""
    model._require_built()
    arrays = {f"w{i}": w for i, w in enumerate(model.get_weights())}
    norm = model.normalizer
    if norm is not None and norm.fitted:
        arrays["norm_shift"], arrays["norm_scale"] = norm.shift, norm.scale
    targets = model.target_scaler
    if targets is not None:
        n = model.layers[-1].n_out
        arrays["target_shift"] = targets.shift if targets.fitted else np.zeros(n)
        arrays["target_scale"] = targets.scale if targets.fitted else np.ones(n)
    optimizer_state = None
    if model.compiled:
        state = model.optimizer.get_state()
        optimizer_state = {"iterations": state["iterations"],
                           "slots": {str(i): sorted(s) for i, s in state["slots"].items()}}
        for i, slot in state["slots"].items():
            arrays.update({f"opt{i}_{key}": a for key, a in slot.items()})
    header = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "config": model.get_config(),
        "normalizer": norm.name if norm is not None and norm.fitted else None,
        "history": model.history.to_dict() if model.history is not None else None,
        "metadata": model.metadata,
        "optimizer_state": optimizer_state,
        "arrays": {k: {"shape": list(a.shape), "dtype": a.dtype.name} for k, a in arrays.items()},
    }
    header["sha256"] = _digest(header, arrays)
    blob = np.frombuffer(json.dumps(header, allow_nan=True).encode("utf-8"), dtype=np.uint8)
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".nlayer", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **{_HEADER: blob}, **arrays)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load(path):
    """Read a model written by :func:`save`; raise :class:`ModelFileError` if anything is off."""
    from .model import Sequential

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ModelFileError(f"{path}: no such model file")
    header, arrays = _read(path)
    try:
        model = Sequential.from_config(header["config"])
        n_features = header["config"]["n_features"]
        model.build((None, n_features), seed=0)
        weights = [arrays[f"w{i}"] for i in range(len(model.get_weights()))]
        model.set_weights(weights)
    except ModelFileError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{path}: the architecture and the stored arrays disagree: {exc}") from exc
    if header.get("normalizer"):
        model.normalizer = NORMALIZERS[header["normalizer"]].from_state(
            {"name": header["normalizer"], "shift": arrays["norm_shift"],
             "scale": arrays["norm_scale"]})
    if model.target_scaler is not None:
        model.target_scaler = Standardizer.from_state(
            {"name": Standardizer.name, "shift": arrays.get("target_shift"),
             "scale": arrays.get("target_scale")})
        if model.target_scaler.shift.shape != (model.layers[-1].n_out,):
            raise ModelFileError(f"{path}: target_shift/target_scale are missing or do not "
                                 "match the output layer; the file was altered")
    if header.get("history"):
        model.history = History.from_dict(header["history"])
    model.metadata = header.get("metadata") or {}
    if header.get("optimizer_state") and model.compiled:
        _restore_optimizer(path, model, header["optimizer_state"], arrays)
    return model


def _restore_optimizer(path, model, saved, arrays):
    slots = {}
    for slot, keys in saved["slots"].items():
        slots[int(slot)] = {key: arrays[f"opt{slot}_{key}"] for key in keys}
        for key, a in slots[int(slot)].items():
            if a.shape != model._flat_params.shape:
                raise ModelFileError(f"{path}: optimiser array opt{slot}_{key} has shape "
                                     f"{a.shape}, the parameters {model._flat_params.shape}")
    model.optimizer.set_state({"iterations": saved["iterations"], "lr": model.optimizer.lr,
                               "slots": slots})


def _read(path):
    try:
        with np.load(path, allow_pickle=False) as npz:
            names = set(npz.files)
            if _HEADER not in names:
                raise ModelFileError(f"{path}: not an nlayer model file (no {_HEADER} entry)")
            header = json.loads(npz[_HEADER].tobytes().decode("utf-8"))
            arrays = {k: npz[k] for k in names - {_HEADER}}
    except ModelFileError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, UnicodeDecodeError) as exc:
        raise ModelFileError(f"{path}: not a readable nlayer model file ({exc})") from exc
    _validate(path, header, arrays)
    return header, arrays


def _validate(path, header, arrays):
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not an nlayer model file (format tag missing)")
    if header.get("version") != FORMAT_VERSION:
        raise ModelFileError(f"{path}: format version {header.get('version')!r} is not supported "
                             f"(this nlayer reads version {FORMAT_VERSION}); upgrade nlayer")
    listed = header.get("arrays")
    if not isinstance(listed, dict) or set(listed) != set(arrays):
        raise ModelFileError(f"{path}: the stored arrays {sorted(arrays)} do not match the "
                             f"header's list {sorted(listed or {})}; the file was altered")
    for name, spec in listed.items():
        a = arrays[name]
        if list(a.shape) != spec.get("shape") or a.dtype.name != spec.get("dtype"):
            raise ModelFileError(f"{path}: array {name} is {a.dtype.name}{list(a.shape)}, the header "
                                 f"says {spec.get('dtype')}{spec.get('shape')}; the file was altered")
        if not np.isfinite(a).all():
            raise ModelFileError(f"{path}: array {name} contains NaN or inf")
    expected = header.get("sha256")
    body = {k: v for k, v in header.items() if k != "sha256"}
    if expected != _digest(body, arrays):
        raise ModelFileError(f"{path}: checksum mismatch: the file is corrupt or was modified "
                             "after it was saved")


def _digest(header, arrays):
    h = hashlib.sha256(json.dumps(header, sort_keys=True, allow_nan=True).encode("utf-8"))
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(name.encode() + a.dtype.str.encode() + str(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()
