"""The model file: one ``.nlayer`` file, written atomically and read without executing anything.

:func:`save` writes what a model hands it; :func:`read` gives back the checked header and
arrays, from which :func:`nlayer.load` (in :mod:`nlayer.model`) builds the model.

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
- in a checkpoint (format version 2, see :mod:`nlayer.saving.checkpoint`) also a header
  section ``checkpoint`` (position in training, random generators, callbacks) and
  its arrays ``ckpt_<name>``; ``nl.load`` reads a checkpoint as an ordinary model.

:func:`read` (and so ``nl.load``) never trusts the file: it reads the zip itself
(:mod:`~nlayer.saving.archive`: stored or deflated members with nlayer's names only,
declared sizes within the file, every ``.npy`` header parsed and checked before any data
is read), caps the JSON header's size and depth and checks every field's type and range
(:mod:`~nlayer.saving.schema`: a file with a recomputed digest can still be hostile),
compares every array's shape with the shapes the architecture implies before reading it
(:mod:`~nlayer.saving.layout`), then checks the values (finite; batch-norm variance >= 0;
scales > 0) and the digest.
Any problem is a :class:`ModelFileError` naming the file, what is wrong and what to
do; nothing is unpickled or executed, and memory stays within a few times the file
plus the model it describes.
"""

import hashlib
import json
import os
import re

import numpy as np

from .. import layers as layers_mod, optimizers
from ..errors import ModelFileError
from . import archive, layout, schema
from .atomic import write_atomically

__all__ = ["save", "read", "FORMAT_VERSION", "SUPPORTED_VERSIONS", "CHECKPOINT_VERSION"]

FORMAT = "nlayer-model"
FORMAT_VERSION = 1
CHECKPOINT_VERSION = 2  # a model file with a checkpoint section; plain models stay version 1
SUPPORTED_VERSIONS = schema.SUPPORTED_VERSIONS
_HEADER = "__nlayer__"
# the arrays a model file may hold (each stored as "<name>.npy")
_MEMBER_NAME = re.compile(r"(__nlayer__|w(0|[1-9][0-9]{0,6})|norm_shift|norm_scale|target_shift"
                          r"|target_scale|opt[0-9]{1,6}_[A-Za-z0-9_]{1,64}"
                          r"|ckpt_[A-Za-z0-9_]{1,64})\Z")
_CKPT_DTYPES = (*archive.FLOAT_DTYPES, archive.BYTES_DTYPE, "<i8")


def save(model, path, checkpoint=None):
    """Write ``model`` to ``path`` atomically: a crash never leaves a half-written file there.

    ``checkpoint`` is ``(section, arrays)``: a JSON dict stored under the header's
    ``checkpoint`` key and arrays stored as ``ckpt_<name>`` (see :mod:`nlayer.saving.checkpoint`).
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
        "metadata": _json_values(model.metadata, "metadata"),
        "optimizer_state": optimizer_state,
    }
    if checkpoint is not None:
        section, extra = checkpoint
        header["checkpoint"], header["version"] = section, CHECKPOINT_VERSION
        arrays.update({f"ckpt_{k}": a for k, a in extra.items()})
    header["arrays"] = {k: {"shape": list(a.shape), "dtype": a.dtype.name}
                        for k, a in arrays.items()}
    header["sha256"] = _digest(header, arrays)
    text = json.dumps(header, allow_nan=True).encode("utf-8")
    _require_readable(path, text)
    blob = np.frombuffer(text, dtype=np.uint8)
    write_atomically(path, lambda fh: np.savez(fh, **{_HEADER: blob}, **arrays))


def _json_values(value, where):
    """``value`` in JSON's own types (NumPy scalars become Python numbers, tuples lists), as
    :func:`read` will give it back; a ValueError names anything JSON cannot hold."""
    try:
        return _plain(value, where)
    except RecursionError:
        raise ValueError(f"model.{where} is nested too deeply to save (at most "
                         f"{schema.MAX_DEPTH} levels are read back)") from None


def _plain(value, where):
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, dict):
        return {_key(k, where): _plain(v, f"{where}[{k!r}]") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    raise ValueError(f"model.{where} is a {type(value).__name__}, which a model file cannot "
                     "hold; metadata takes JSON values (strings, numbers, True/False, None, "
                     "lists and dicts; an array: .tolist())")


def _key(key, where):
    """A dict key as JSON writes it: a string (``3`` -> ``"3"``, ``True`` -> ``"true"``)."""
    key = key.item() if isinstance(key, np.generic) else key
    if isinstance(key, str):
        return key
    if key is None or isinstance(key, (bool, int, float)):
        return json.dumps(key)
    raise ValueError(f"model.{where} has a key of type {type(key).__name__} ({key!r}); "
                     "metadata keys are strings")


def _require_readable(path, text):
    """Refuse, before anything is written, a header that :func:`read` would refuse: save and
    load share one set of rules (``schema``)."""
    try:
        schema.validate(path, schema.parse(path, text), FORMAT)
    except ModelFileError as exc:
        problem = str(exc).removeprefix(f"{path}: ").removesuffix(f"; {schema.FIX}")
        raise ValueError(f"cannot save {path}: {problem}; nlayer would refuse to read such a "
                         "file back, so nothing was written") from None


def read(path):
    """``(header, arrays)`` of a model file, every part checked before it is allocated or
    trusted; raises :class:`ModelFileError` if anything is off.

    :func:`nlayer.load` builds the model from them; a checkpoint's section is
    ``header["checkpoint"]`` (see :mod:`nlayer.saving.checkpoint`).
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        raise ModelFileError(f"{path}: a directory, not a model file; give the path of a file "
                             "written by model.save (a run directory holds model.nlayer)")
    if not os.path.isfile(path):
        raise ModelFileError(f"{path}: no such model file")
    return _read(path)


def _skeleton(path, config):
    """The unbuilt layers and the optimiser of a validated config (nothing allocated); the
    constructors' own checks become ModelFileErrors."""
    try:
        layers = [layers_mod.from_config(c) for c in config["layers"]]
        settings = config.get("compile")
        return layers, optimizers.get(settings["optimizer"]) if settings else None
    except (ValueError, TypeError) as exc:
        raise invalid_settings(path, exc) from exc


def invalid_settings(path, exc):
    """The error for a header whose architecture or compile settings a constructor refused."""
    return ModelFileError(f"{path}: the header's architecture or compile settings are "
                          f"invalid: {exc}; the file was altered or written by something else")


def _read(path):
    """``(header, arrays)`` of a model file, every part checked before it is allocated.

    Order: the zip directory and each member's .npy header (``archive``); the JSON
    header's size, depth and schema (``schema``); the header's array list against
    the members; the shapes the architecture implies against both; only then the data
    (bounded reads), its values and the digest.
    """
    with archive.Archive(path, _allowed_member, _member_dtypes) as zipped:
        if _HEADER not in zipped.members:
            raise ModelFileError(f"{path}: not an nlayer model file (no {_HEADER} entry); give "
                                 "the path of a file written by model.save or nlayer train")
        blob = zipped.members[_HEADER]
        if len(blob.shape) != 1:
            raise ModelFileError(f"{path}: not an nlayer model file ({_HEADER} is not a byte "
                                 "string)")
        schema.check_size(path, blob.nbytes)
        header = schema.parse(path, zipped.read(_HEADER).tobytes())
        schema.validate(path, header, FORMAT)
        _check_listed(path, header["arrays"], zipped.members)
        expected = layout.expected_arrays(path, header, *_skeleton(path, header["config"]))
        arrays = {name: zipped.read(name) for name in header["arrays"]}
    _validate(path, header, arrays)
    layout.check_values(path, expected, arrays, header["config"]["dtype"])
    return header, arrays


def _allowed_member(name):
    return _MEMBER_NAME.match(name) is not None


def _member_dtypes(name):
    if name == _HEADER:
        return (archive.BYTES_DTYPE,)
    return _CKPT_DTYPES if name.startswith("ckpt_") else archive.FLOAT_DTYPES


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
