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
  training resumes from a loaded model exactly where it stopped;
- in a checkpoint (format version 2, see :mod:`nlayer.checkpoint`) also a header
  section ``checkpoint`` (position in training, random generators, callbacks) and
  its arrays ``ckpt_<name>``; :func:`load` reads a checkpoint as an ordinary model.

``load`` never trusts the file: it reads the zip itself (``_npzsafe``: stored or
deflated members with nlayer's names only, declared sizes within the file, every
``.npy`` header parsed and checked before any data is read), caps the JSON header's
size and depth and checks every field's type and range (``_modelschema``: a file
with a recomputed digest can still be hostile), compares every array's shape with
the shapes the architecture implies before reading it (``_modellayout``), then
checks the values (finite; batch-norm variance >= 0; scales > 0) and the digest.
Any problem is a :class:`ModelFileError` naming the file, what is wrong and what to
do; nothing is unpickled or executed, and memory stays within a few times the file
plus the model it describes.
"""

import hashlib
import json
import os
import re
import tempfile

import numpy as np

from . import _modellayout, _modelschema, _npzsafe
from .callbacks import History
from .errors import ModelFileError
from .preprocessing import NORMALIZERS, Standardizer

__all__ = ["save", "load", "FORMAT_VERSION", "SUPPORTED_VERSIONS"]

FORMAT = "nlayer-model"
FORMAT_VERSION = 1
CHECKPOINT_VERSION = 2  # a model file with a checkpoint section; plain models stay version 1
SUPPORTED_VERSIONS = _modelschema.SUPPORTED_VERSIONS
_HEADER = "__nlayer__"
_TMP_SUFFIX = ".tmp"
# the arrays a model file may hold (each stored as "<name>.npy")
_MEMBER_NAME = re.compile(r"(__nlayer__|w(0|[1-9][0-9]{0,6})|norm_shift|norm_scale|target_shift"
                          r"|target_scale|opt[0-9]{1,6}_[A-Za-z0-9_]{1,64}"
                          r"|ckpt_[A-Za-z0-9_]{1,64})\Z")
_CKPT_DTYPES = (*_npzsafe.FLOAT_DTYPES, _npzsafe.BYTES_DTYPE, "<i8")


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
        if "schedule" in state:  # the run length a schedule was bound to (JSON numbers)
            optimizer_state["schedule"] = state["schedule"]
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
    """Read a model written by :func:`save`; raise :class:`ModelFileError` if anything is off.

    Whatever the file holds, this returns a model or raises ModelFileError: the archive,
    the JSON header and every array's declared shape are checked (see ``_npzsafe``,
    ``_modelschema`` and ``_modellayout``) before anything is allocated or built from them.
    """
    return read(path)[0]


def read(path):
    """``(model, header, arrays)`` of a model file; :mod:`nlayer.checkpoint` reads its section."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ModelFileError(f"{path}: no such model file")
    header, arrays = _read(path)
    config = header["config"]
    model = _from_config(path, config)
    try:
        model.build((None, config["n_features"]), seed=0)
    except MemoryError:
        n = sum(a.nbytes for name, a in arrays.items() if name.startswith("w"))
        raise ModelFileError(f"{path}: the model needs about {3 * n:,} bytes (weights, gradients, "
                             "their initial values) and this process cannot allocate them; free "
                             "memory or load the model on a larger machine") from None
    model.set_weights([arrays[f"w{i}"] for i in range(len(model.get_weights()))])
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
        saved = header["optimizer_state"]
        slots = {int(slot): {key: arrays[f"opt{slot}_{key}"] for key in keys}
                 for slot, keys in saved["slots"].items()}
        restored = {"iterations": saved["iterations"], "lr": model.optimizer.lr, "slots": slots}
        if isinstance(saved.get("schedule"), dict):
            restored["schedule"] = saved["schedule"]
        try:
            model.optimizer.set_state(restored)
        except (TypeError, ValueError, KeyError, OverflowError) as exc:
            raise ModelFileError(f"{path}: the optimiser's saved state is invalid ({exc}); the "
                                 "file was altered: use another copy") from None
    return model, header, arrays


def _from_config(path, config):
    """The unbuilt model of a validated config; the constructors' own checks become
    ModelFileErrors."""
    from .model import Sequential

    try:
        return Sequential.from_config(config)
    except (ValueError, TypeError) as exc:
        raise ModelFileError(f"{path}: the header's architecture or compile settings are "
                             f"invalid: {exc}; the file was altered or written by something "
                             "else") from exc


def _read(path):
    """``(header, arrays)`` of a model file, every part checked before it is allocated.

    Order: the zip directory and each member's .npy header (``_npzsafe``); the JSON
    header's size, depth and schema (``_modelschema``); the header's array list against
    the members; the shapes the architecture implies against both; only then the data
    (bounded reads), its values and the digest.
    """
    with _npzsafe.Archive(path, _allowed_member, _member_dtypes) as archive:
        if _HEADER not in archive.members:
            raise ModelFileError(f"{path}: not an nlayer model file (no {_HEADER} entry); give "
                                 "the path of a file written by model.save or nlayer train")
        blob = archive.members[_HEADER]
        if len(blob.shape) != 1:
            raise ModelFileError(f"{path}: not an nlayer model file ({_HEADER} is not a byte "
                                 "string)")
        _modelschema.check_size(path, blob.nbytes)
        header = _modelschema.parse(path, archive.read(_HEADER).tobytes())
        _modelschema.validate(path, header, FORMAT)
        _check_listed(path, header["arrays"], archive.members)
        expected = _modellayout.expected_arrays(path, header,
                                                _from_config(path, header["config"]))
        arrays = {name: archive.read(name) for name in header["arrays"]}
    _validate(path, header, arrays)
    _modellayout.check_values(path, expected, arrays, header["config"]["dtype"])
    return header, arrays


def _allowed_member(name):
    return _MEMBER_NAME.match(name) is not None


def _member_dtypes(name):
    if name == _HEADER:
        return (_npzsafe.BYTES_DTYPE,)
    return _CKPT_DTYPES if name.startswith("ckpt_") else _npzsafe.FLOAT_DTYPES


def _check_listed(path, listed, members):
    """The header's list of arrays against the archive's members (names, dtypes, shapes)."""
    stored = set(members) - {_HEADER}
    if set(listed) != stored:
        missing, extra = sorted(set(listed) - stored), sorted(stored - set(listed))
        raise ModelFileError(f"{path}: the stored arrays do not match the header's list (missing: "
                             f"{', '.join(missing[:5]) or 'none'}; not listed: "
                             f"{', '.join(extra[:5]) or 'none'}); the file was altered: "
                             "use another copy or save the model again")
    for name, spec in listed.items():
        m = members[name]
        if list(m.shape) != spec["shape"] or m.dtype.name != spec["dtype"]:
            raise ModelFileError(f"{path}: array {name} is {m.dtype.name}{list(m.shape)}, the "
                                 f"header says {spec['dtype']}{spec['shape']}; the file was "
                                 "altered: use another copy or save the model again")


def _validate(path, header, arrays):
    """Values every array must have (finite floats) and the digest of header and arrays."""
    for name, a in arrays.items():
        if a.dtype.kind == "f" and not np.isfinite(a).all():
            raise ModelFileError(f"{path}: array {name} contains NaN or inf; the file is "
                                 "damaged, or the model diverged before it was saved: use "
                                 "another copy or train again")
    expected = header.get("sha256")
    body = {k: v for k, v in header.items() if k != "sha256"}
    if expected != _digest(body, arrays):
        raise ModelFileError(f"{path}: checksum mismatch: the file is corrupt or was modified "
                             "after it was saved; use another copy or save the model again")


def _digest(header, arrays):
    h = hashlib.sha256(json.dumps(header, sort_keys=True, allow_nan=True).encode("utf-8"))
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(name.encode() + a.dtype.str.encode() + str(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()
