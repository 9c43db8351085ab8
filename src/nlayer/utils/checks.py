"""Argument checks shared by the engine: each error names the parameter and what it accepts."""

import math
import numbers

import numpy as np

from . import fastpaths

__all__ = ["real", "whole", "is_real", "is_whole", "seed", "callbacks", "features",
           "feature_table", "finite_block", "name", "MAX_NAME"]

#: the longest layer or model name a model file keeps
MAX_NAME = 256


def real(value, name, low=-math.inf, high=math.inf, low_open=False, high_open=False):
    """``float(value)`` if it is a finite real number in the given range; else a ValueError."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))
    x = float(value) if ok else math.nan
    ok = ok and math.isfinite(x) and (x > low if low_open else x >= low) and \
        (x < high if high_open else x <= high)
    if not ok:
        lo, hi = "(" if low_open else "[", ")" if high_open else "]"
        bounds = f" in {lo}{low:g}, {high:g}{hi}" if math.isfinite(high) else \
            f" {'>' if low_open else '>='} {low:g}" if math.isfinite(low) else ""
        raise ValueError(f"{name} must be a finite number{bounds}, got {value!r}")
    return x


def is_real(value):
    """Whether ``value`` is a real number (bool excluded; NaN and inf included)."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def is_whole(value, low=None):
    """Whether ``value`` is a whole number (bool excluded), >= ``low`` if given."""
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_)) \
        and (low is None or value >= low)


def whole(value, name, low=1, optional=False):
    """``int(value)`` for a whole number >= ``low`` (None too when ``optional``); else a
    ValueError naming the parameter."""
    if value is None and optional:
        return None
    if not is_whole(value, low):
        allowed = f"None or a whole number >= {low}" if optional else f"a whole number >= {low}"
        raise ValueError(f"{name} must be {allowed}, got {value!r}")
    return int(value)


def name(value, owner, optional=False):
    """A layer's or model's name: a string of at most :data:`MAX_NAME` characters (or None
    when ``optional``); else a TypeError/ValueError."""
    if value is None and optional:
        return value
    if not isinstance(value, str):
        raise TypeError(f"{owner} name must be a string, got {type(value).__name__} {value!r}")
    if len(value) > MAX_NAME:
        raise ValueError(f"{owner} name has {len(value)} characters; model files keep names of "
                         f"at most {MAX_NAME}")
    return value


def seed(value):
    """A seed for ``np.random.SeedSequence``: None or a whole number >= 0."""
    if value is None:
        return value
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"seed must be None or a whole number >= 0, got {value!r}")
    return int(value)


def callbacks(value, base):
    """A list of ``base`` instances from None, a list or a tuple; a TypeError naming the culprit."""
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"callbacks must be a list of nl.Callback instances (e.g. "
                        f"[nl.EarlyStopping(patience=5)]), got {type(value).__name__} {value!r}")
    for i, cb in enumerate(value):
        if not isinstance(cb, base):
            hint = " (a class: add parentheses to make an instance)" if isinstance(cb, type) else ""
            raise TypeError(f"callbacks[{i}] is {cb!r}, not an nl.Callback instance{hint}")
    return list(value)


def features(X, dtype, n_features=None, what="X"):
    """X as a finite 2-D array of ``dtype`` (no copy when it already is one), or the error
    that names what is wrong: None, text, complex numbers, the shape, emptiness, NaN/inf,
    values beyond the dtype's range, a feature count other than ``n_features``."""
    X = np.asarray(feature_table(X, n_features, what))
    return finite_block(X, dtype, what)


def feature_table(X, n_features=None, what="X"):
    """X itself when its shape and element type can be features, else the error naming
    the problem: None, text, complex numbers, the shape, emptiness, the feature count.
    X is a NumPy array or an array-like with ``shape``, ``dtype`` and row indexing (a
    memory map, an h5py or zarr array); its values are not read here."""
    if X is None:
        raise ValueError(f"{what} is None; pass a 2-D array (samples, features)")
    if not (hasattr(X, "shape") and hasattr(X, "dtype") and hasattr(X, "__getitem__")):
        X = np.asarray(X)
    kind = np.dtype(X.dtype)
    if kind == object or not (np.issubdtype(kind, np.number) or kind == np.bool_):
        raise TypeError(f"{what} must be numeric, got dtype {kind}; encode text columns first")
    if kind.kind == "c":
        raise TypeError(f"{what} is complex ({kind}); the model takes real numbers: pass "
                        "X.real, or np.abs(X), or both parts as separate features")
    shape = tuple(X.shape)
    if len(shape) != 2:
        hint = " (use X.reshape(-1, 1) for a single feature)" if len(shape) == 1 else \
            " (flatten images with X.reshape(len(X), -1))" if len(shape) > 2 else ""
        raise ValueError(f"{what} must be 2-D (samples, features), got shape {shape}{hint}")
    if shape[0] == 0 or shape[1] == 0:
        raise ValueError(f"{what} is empty (shape {shape}); give at least one row and feature")
    if n_features is not None and shape[1] != n_features:
        raise ValueError(f"{what} has {shape[1]} features but the model was built for "
                         f"{n_features}")
    return X


def finite_block(X, dtype, what="X", rows=None):
    """The 2-D array X in ``dtype`` (no copy when it already is), or the error naming the
    first NaN, inf or value beyond the dtype's range; ``rows[i]`` names X's row i (the
    row of a larger table it was read from; default i)."""
    with np.errstate(over="ignore"):  # a value beyond the dtype's range is named below
        original, X = X, X.astype(dtype, copy=False)
    if not fastpaths.all_finite(X):
        bad = tuple(np.argwhere(~np.isfinite(X))[0])
        row = bad[0] if rows is None else int(rows[bad[0]])
        if np.isfinite(original[bad]):
            raise ValueError(
                f"{what} has {original[bad].item()!r} at row {row}, column {bad[1]}, beyond "
                f"{X.dtype.name}'s range (about +-{float(np.finfo(X.dtype).max):.1e}); rescale "
                "those features or make the model with dtype='float64'")
        raise ValueError(f"{what} contains NaN or inf (first at row {row}, column {bad[1]}); "
                         "impute or drop those rows first")
    return X
