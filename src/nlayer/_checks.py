"""Argument checks shared by the engine: each error names the parameter and what it accepts."""

import math
import numbers

import numpy as np

__all__ = ["real", "seed", "callbacks"]


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
