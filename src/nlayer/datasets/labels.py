"""Targets given as an array (a ``.npy`` file, a Parquet column): the task they call for,
class names and ids, or float32 values; and new labels encoded with a model's class names.

The rules are those of a CSV target (:mod:`.tabular`): with ``task="auto"``, integers with
at most ``MAX_AUTO_CLASSES`` distinct values and text are classes (sorted: numerically for
numbers), other numbers are values to regress on.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from .idx import DatasetError
from .tabular import _FLOAT32_MAX, resolve_task

__all__ = ["encode_labels", "encode_with_names", "label_values", "values_for_regression"]


def label_values(values: NDArray, source: str) -> NDArray:
    """The labels as numbers (float64) or text (str): one per row, 1-D, or 2-D for several
    regression targets; anything else is refused naming the problem."""
    values = np.asarray(values)
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim not in (1, 2):
        raise DatasetError(f"{source}: labels must be 1-D (one per row) or 2-D (rows, targets) "
                           f"for regression; got shape {values.shape}")
    kind = values.dtype.kind
    if kind in "biuf":
        numbers = values.astype(np.float64)
        bad = np.flatnonzero(~np.isfinite(numbers).reshape(len(numbers), -1).all(axis=1))
        if bad.size:
            raise DatasetError(f"{source}: row {bad[0]} (counted from 0) holds "
                               f"{values[bad[0]].tolist()!r}, not a finite number; drop or fix "
                               "that row")
        return numbers
    if kind in "US" and values.ndim == 1:
        return values.astype(str)
    raise DatasetError(f"{source}: labels of dtype {values.dtype} are neither numbers nor "
                       "text; save class labels as integers or strings, regression targets "
                       "as floats")


def _name(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def encode_labels(values: NDArray, task: str, source: str, target: str = "labels"
                  ) -> tuple[NDArray, str, list[str] | None]:
    """``(y, task, class_names)``: class ids 0..k-1 (int64) with the sorted class names, or
    float32 values and None (``task``: "auto", "classification" or "regression")."""
    values = label_values(values, source)
    if values.ndim == 2:
        if task == "classification":
            raise DatasetError(f"{source}: {values.shape[1]} targets per row are regression "
                               "targets; classes are one label per row (1-D)")
        return values_for_regression(values, source), "regression", None
    numeric = values.dtype.kind == "f"
    distinct, ids = np.unique(values, return_inverse=True)
    text = None if numeric else str(distinct[0])
    task = resolve_task(task, distinct if numeric else None, source, target, text)
    if task == "regression":
        return values_for_regression(values, source), task, None
    names = [_name(x) for x in distinct] if numeric else [str(v) for v in distinct]
    if len(names) < 2:
        raise DatasetError(f"{source}: the labels hold a single value ({names[0]!r}); a "
                           "classifier needs at least two classes (for a numeric target, "
                           "--task regression)")
    return ids.astype(np.int64).reshape(-1), task, names


def values_for_regression(values: NDArray, source: str) -> NDArray[np.float32]:
    """float32 targets, or the error naming the first value beyond float32's range."""
    if values.dtype.kind not in "biuf":
        raise DatasetError(f"{source}: regression needs numeric targets, got {values.dtype}")
    numbers = np.asarray(values, dtype=np.float64)
    beyond = np.flatnonzero((np.abs(numbers) > _FLOAT32_MAX).reshape(len(numbers), -1)
                            .any(axis=1))
    if beyond.size:
        raise DatasetError(f"{source}: row {beyond[0]} (counted from 0) holds a target beyond "
                           f"float32's range (+-{_FLOAT32_MAX:.4g}); rescale the targets")
    return numbers.astype(np.float32)


def encode_with_names(values: NDArray, class_names: list[str], source: str,
                      rows: NDArray | None = None) -> NDArray[np.int64]:
    """Class ids of new labels: each label is a class name, or a number equal to a name's
    (``3`` and ``3.0`` both name class ``"3"``); an unknown one is refused naming its row
    (``rows[i]`` for label i, default i; counted from 0) and the known classes."""
    values = label_values(values, source)
    if values.ndim != 1:
        raise DatasetError(f"{source}: class labels are one per row (1-D); got shape "
                           f"{values.shape}")
    distinct, inverse = np.unique(values, return_inverse=True)
    exact = {name: k for k, name in enumerate(class_names)}
    numbers: dict[float, int] = {}
    for k, name in enumerate(class_names):
        try:
            numbers.setdefault(float(name), k)
        except ValueError:
            pass
    ids = np.empty(len(distinct), dtype=np.int64)
    for j, value in enumerate(distinct):
        found = numbers.get(float(value)) if values.dtype.kind == "f" else \
            exact.get(str(value), numbers.get(_float_or_nan(str(value))))
        if found is None:
            i = int(np.flatnonzero(inverse.reshape(-1) == j)[0])
            row = i if rows is None else int(rows[i])
            shown = _name(value) if values.dtype.kind == "f" else str(value)
            raise DatasetError(f"{source}: row {row} (counted from 0): unknown class "
                               f"{shown!r}; known classes: {class_names}")
        ids[j] = found
    return ids[inverse.reshape(-1)]


def _float_or_nan(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return float("nan")
