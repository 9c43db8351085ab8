"""Saving and loading models: one ``.nlayer`` file, readable without executing anything.

The file is a NumPy ``.npz`` archive (a zip of ``.npy`` arrays):

- ``__nlayer__``: UTF-8 JSON (stored as bytes) with the format version, the
  architecture and compile settings, the input normaliser's kind, the training
  history, user metadata, the list of weight arrays and a SHA-256 digest of
  everything else;
- ``w0, w1, ...``: the weights in ``get_weights()`` order;
- ``norm_shift``, ``norm_scale``: the normaliser's statistics, when there is one;
- ``opt<slot>_<name>``: the optimiser's state (momentum velocity, Adam moments), so
  training resumes from a loaded model exactly where it stopped;
- in a checkpoint (format version 2, see :mod:`nlayer.checkpoint`) also a header
  section ``checkpoint`` (position in training, random generators, callbacks) and
  its arrays ``ckpt_<name>``; :func:`load` reads a checkpoint as an ordinary model.

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
from .preprocessing import NORMALIZERS

__all__ = ["save", "load", "FORMAT_VERSION"]

FORMAT = "nlayer-model"
FORMAT_VERSION = 1
CHECKPOINT_VERSION = 2  # a model file with a checkpoint section; plain models stay version 1
SUPPORTED_VERSIONS = (1, 2)
_HEADER = "__nlayer__"
_TMP_SUFFIX = ".tmp"


def save(model, path, checkpoint=None):
    """Write ``model`` to ``path`` atomically: a crash never leaves a half-written file there.

    ``checkpoint`` is ``(section, arrays)``: a JSON dict stored under the header's
    ``checkpoint`` key and arrays stored as ``ckpt_<name>`` (see :mod:`nlayer.checkpoint`).
    """
    model._require_built()
    arrays = {f"w{i}": w for i, w in enumerate(model.get_weights())}
    norm = model.normalizer
    if norm is not None and norm.fitted:
        arrays["norm_shift"], arrays["norm_scale"] = norm.shift, norm.scale
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
    }
    if checkpoint is not None:
        section, extra = checkpoint
        header["checkpoint"], header["version"] = section, CHECKPOINT_VERSION
        arrays.update({f"ckpt_{k}": a for k, a in extra.items()})
    header["arrays"] = {k: {"shape": list(a.shape), "dtype": a.dtype.name}
                        for k, a in arrays.items()}
    header["sha256"] = _digest(header, arrays)
    blob = np.frombuffer(json.dumps(header, allow_nan=True).encode("utf-8"), dtype=np.uint8)
    write_atomically(path, lambda fh: np.savez(fh, **{_HEADER: blob}, **arrays))


def write_atomically(path, write):
    """Call ``write(file)`` on a temporary file beside ``path``, then put it in place.

    The sequence that survives a crash or power loss at any moment: write the
    temporary file, flush and ``fsync`` it, ``os.replace`` it over ``path`` and
    ``fsync`` the folder. Until the replace, ``path`` keeps its previous content.
    Temporary files that killed writes left behind are removed after a success.
    A failure (disk full, no permission) raises OSError saying the previous file
    is intact.
    """
    path = os.path.abspath(os.fspath(path))
    directory, name = os.path.split(path)
    prefix = f".{name}."
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=_TMP_SUFFIX, dir=directory)
        os.fchmod(fd, 0o666 & ~_umask())  # the permissions open() would give, not mkstemp's 0600
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        tmp = None
        _fsync_directory(directory)
    except OSError as exc:
        intact = "the previous file is intact" if os.path.exists(path) else "nothing was written"
        raise OSError(exc.errno, f"cannot write {path}: {exc.strerror or exc}; {intact}") from exc
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
    _remove_stale_temporaries(directory, prefix)


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_directory(directory):
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_stale_temporaries(directory, prefix):
    """Temporary files of ``path`` left by writes that were killed (one writer per path)."""
    for entry in os.scandir(directory):
        if entry.name.startswith(prefix) and entry.name.endswith(_TMP_SUFFIX) and entry.is_file():
            try:
                os.unlink(entry.path)
            except OSError:
                pass  # another cleanup got there first


def load(path):
    """Read a model written by :func:`save`; raise :class:`ModelFileError` if anything is off."""
    return read(path)[0]


def read(path):
    """``(model, header, arrays)`` of a model file; :mod:`nlayer.checkpoint` reads its section."""
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
    if header.get("history"):
        model.history = History.from_dict(header["history"])
    model.metadata = header.get("metadata") or {}
    if header.get("optimizer_state") and model.compiled:
        _restore_optimizer(path, model, header["optimizer_state"], arrays)
    return model, header, arrays


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
    if header.get("version") not in SUPPORTED_VERSIONS:
        raise ModelFileError(f"{path}: format version {header.get('version')!r} is not supported "
                             f"(this nlayer reads versions {SUPPORTED_VERSIONS}); upgrade nlayer")
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
