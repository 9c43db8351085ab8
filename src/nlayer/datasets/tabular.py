"""Tabular data: the Dataset container, a seeded stratified split, CSV
loading/encoding with a JSON-serialisable schema, and the digits set."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..preprocessing import train_dev_split
from .csvread import Table, is_missing, read_table, rows_to_table, to_float
from .dataset import Dataset
from .idx import DatasetError

__all__ = [
    "Dataset", "CsvSchema", "split_indices", "load_csv", "encode_csv_rows", "load_digits",
    "resolve_task",
]

TASKS = ("classification", "regression")
_FLOAT32_MAX = float(np.finfo(np.float32).max)
#: task="auto" picks classification for an integer target with at most this many values.
MAX_AUTO_CLASSES = 20
_SCHEMA_VERSION = 1
DIGITS_WHITE = 16.0  # the digits images have 17 grey levels, 0..16


# ---------------------------------------------------------------- splitting

def split_indices(y: Sequence[Any] | NDArray[Any], test_size: float = 0.2, seed: int = 0, stratify: bool = True
                  ) -> tuple[NDArray[np.signedinteger[Any]], NDArray[np.signedinteger[Any]]]:
    """Seeded train/test split of the rows of y; returns (train_idx, test_idx), ascending.

    The same split as ``fit``'s development set (:func:`nlayer.preprocessing.train_dev_split`):
    ceil(test_size * n) test rows, stratified by class when *stratify*.
    """
    n = len(y)
    if not 0 <= test_size < 1:
        raise DatasetError(f"test_size must be in [0, 1), got {test_size}")
    if test_size == 0:
        return np.arange(n), np.arange(0)
    try:
        return train_dev_split(n, test_size, np.random.default_rng(seed),
                               strata=np.asarray(y) if stratify else None, name="test_size")
    except ValueError as exc:
        raise DatasetError(str(exc)) from None


# ---------------------------------------------------------------- schema

@dataclass
class CsvSchema:
    """How CSV columns map to features and target; JSON-serialisable.

    ``columns`` are the feature columns in order, ``kinds[col]`` is
    "numeric" or "categorical", ``categories[col]`` the sorted one-hot
    categories of a categorical column.

    Parameters
    ----------
    target, task : str
    columns : list of str
    kinds, categories : dict
    class_names : list of str, optional
        Classification: the class labels, in class-id order.

    Examples
    --------
    >>> from nlayer.datasets import CsvSchema, encode_csv_rows
    >>> schema = CsvSchema(target="y", task="regression", columns=["size", "colour"],
    ...                    kinds={"size": "numeric", "colour": "categorical"},
    ...                    categories={"colour": ["blue", "red"]})
    >>> X, y, kept = encode_csv_rows([["size", "colour", "y"], ["2", "red", "1.5"]], schema)
    >>> X.tolist(), y.tolist(), kept.tolist()   # size, then colour one-hot (blue, red)
    ([[2.0, 0.0, 1.0]], [1.5], [0])
    """

    target: str
    task: str
    columns: list[str]
    kinds: dict[str, str]
    categories: dict[str, list[str]] = field(default_factory=dict)
    class_names: list[str] | None = None

    @property
    def feature_names(self) -> list[str]:
        names = []
        for col in self.columns:
            if self.kinds[col] == "numeric":
                names.append(col)
            else:
                names.extend(f"{col}={cat}" for cat in self.categories[col])
        return names

    def headerless_names(self, n_fields: int) -> list[str] | None:
        """Column names of a file without a header row: the feature columns in order,
        when it has exactly that many fields (else None: it needs a header)."""
        return list(self.columns) if n_fields == len(self.columns) else None

    def to_dict(self) -> dict:
        return {"format": "nlayer-csv-schema", "version": _SCHEMA_VERSION, **asdict(self)}

    @classmethod
    def from_dict(cls, data: Mapping) -> CsvSchema:
        try:
            schema = cls(
                target=str(data["target"]),
                task=str(data["task"]),
                columns=[str(c) for c in data["columns"]],
                kinds={str(k): str(v) for k, v in data["kinds"].items()},
                categories={str(k): [str(c) for c in v] for k, v in data.get("categories", {}).items()},
                class_names=None if data.get("class_names") is None
                else [str(c) for c in data["class_names"]],
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise DatasetError(f"invalid CSV schema: missing or malformed field {exc}") from None
        schema._validate()
        return schema

    def _validate(self) -> None:
        if self.task not in TASKS:
            raise DatasetError(f"invalid CSV schema: task {self.task!r} not in {TASKS}")
        for col in self.columns:
            kind = self.kinds.get(col)
            if kind not in ("numeric", "categorical"):
                raise DatasetError(f"invalid CSV schema: column {col!r} has kind {kind!r}")
            if kind == "categorical" and col not in self.categories:
                raise DatasetError(f"invalid CSV schema: no categories for column {col!r}")
        if self.task == "classification" and not self.class_names:
            raise DatasetError("invalid CSV schema: classification without class_names")


# ---------------------------------------------------------------- reading
# (files, compression, delimiter and header: see csvread)


def _drop_missing(table: Table, columns: list[str], dropna: bool, allow_empty: bool = False
                  ) -> tuple[Table, np.ndarray]:
    """Drop (dropna) or reject rows with a missing value in *columns* (``allow_empty``: all
    of them may go)."""
    wanted = set(columns)
    checked = [(c, j) for j, c in enumerate(table.header) if c in wanted]
    keep = []
    for i, row in enumerate(table.rows):
        bad = next((c for c, j in checked if is_missing(row[j])), None)
        if bad is None:
            keep.append(i)
        elif not dropna:
            raise DatasetError(
                f"{table.source}: missing value on line {table.lines[i]}, column {bad!r}; "
                "pass dropna=True (--dropna) to drop rows with missing values"
            )
    if not keep and not allow_empty:
        raise DatasetError(f"{table.source}: no rows left after dropping rows with missing values")
    return table.subset(keep), np.asarray(keep, dtype=np.int64)


# ---------------------------------------------------------------- inference

def _infer_schema(table: Table, target: str, task: str) -> CsvSchema:
    columns = [c for c in table.header if c != target]
    if not columns:
        raise DatasetError(f"{table.source}: no feature columns besides target {target!r}")
    kinds, categories = {}, {}
    for col in columns:
        values = table.column(col)
        if all(to_float(v) is not None for v in values):
            kinds[col] = "numeric"
        else:
            _refuse_misspelt_numbers(table, col, values)
            kinds[col] = "categorical"
            categories[col] = sorted(set(values))
    target_values = table.column(target)
    if not all(to_float(v) is not None for v in target_values):
        _refuse_misspelt_numbers(table, target, target_values)
    task = _resolve_task(target_values, task, table.source, target)
    class_names = _class_names(target_values) if task == "classification" else None
    if class_names is not None and len(class_names) < 2:
        raise DatasetError(
            f"{table.source}: target column {target!r} holds a single value "
            f"({class_names[0]!r}); a classifier needs at least two classes (for a numeric "
            "target, task='regression' / --task regression)")
    return CsvSchema(target, task, columns, kinds, categories, class_names)


_MISSING_MARKERS = {"none", "-", "--", "."}
_COMMA_NUMBER = re.compile(r"[-+]?\d+(,\d+)+(\.\d+)?\Z")


def _number_problem(value: str) -> str | None:
    """Why ``value``, not a finite number, looks like a number written another way or a
    missing-value marker (None: it looks like an ordinary category)."""
    text = value.strip()
    if "\0" in value:
        return "holds a NUL byte (is the file binary, or UTF-16? save it as UTF-8 CSV)"
    try:
        if not math.isfinite(float(text)):
            return "is not a finite number (NaN and infinities cannot be trained on)"
    except ValueError:
        pass
    if text.lower() in _MISSING_MARKERS:
        return ("looks like a missing-value marker; leave the cell empty for a missing value "
                "(--dropna / dropna=True drops such rows)")
    if _COMMA_NUMBER.match(text):
        return "has a comma in a number (decimal comma or thousands separator); write 1234.5"
    return None


def _refuse_misspelt_numbers(table: Table, col: str, values: list[str]) -> None:
    """A column that would be numeric but for values such as ``?``, ``inf``, ``1,5`` or
    ``1,234`` is refused, naming the first: read as categories, its numbers would become
    one-hot columns (or class names) without a word."""
    odd = [(i, v) for i, v in enumerate(values) if to_float(v) is None]
    problems = [(i, v, _number_problem(v)) for i, v in odd]
    if problems and all(p for _, _, p in problems):
        i, value, problem = problems[0]
        more = f" (and {len(problems) - 1} more such cells)" if len(problems) > 1 else ""
        raise DatasetError(f"{table.source}: line {table.lines[i]}, column {col!r}: {value!r} "
                           f"{problem}{more}")


def _resolve_task(values: list[str], task: str, source: str, target: str) -> str:
    numbers = [to_float(v) for v in values]
    text = next((v for v, x in zip(values, numbers) if x is None), None)
    return resolve_task(task, None if text is not None else np.unique(np.asarray(numbers)),
                        source, target, text)


def resolve_task(task: str, distinct: NDArray[Any] | None, source: str, target: str,
                 text: str | None = None) -> str:
    """The task of a target whose distinct values are the numbers ``distinct``, or (None)
    that holds ``text``, a value that is no number; ``task`` is what was asked ("auto": an
    integer target with at most MAX_AUTO_CLASSES values is classes, other numbers values)."""
    if task not in ("auto", *TASKS):
        raise DatasetError(f"task must be 'auto', 'classification' or 'regression', got {task!r}")
    if task == "regression" and distinct is None:
        raise DatasetError(
            f"{source}: task='regression' needs a numeric target, but column {target!r} "
            f"contains {text!r}"
        )
    integers = distinct is not None and bool(np.all(np.mod(distinct, 1) == 0))
    if task == "classification" and distinct is not None and not integers and \
            len(distinct) > MAX_AUTO_CLASSES:
        raise DatasetError(
            f"{source}: task='classification' on column {target!r}, which holds "
            f"{len(distinct)} distinct numbers with fractions: those are values, not "
            "classes; use task='regression' / --task regression")
    if task != "auto":
        return task
    if distinct is None:
        return "classification"
    return "classification" if integers and len(distinct) <= MAX_AUTO_CLASSES else "regression"


def _class_names(values: list[str]) -> list[str]:
    """Sorted distinct labels: numerically if all numeric (first spelling kept)."""
    numbers = [to_float(v) for v in values]
    if any(x is None for x in numbers):
        return sorted(set(values))
    first: dict[Any, str] = {}  # float keys: none is None here
    for v, x in zip(values, numbers):
        first.setdefault(x, v)
    return [first[x] for x in sorted(first)]


# ---------------------------------------------------------------- encoding

def _encode_features(table: Table, schema: CsvSchema) -> np.ndarray:
    blocks = [
        _encode_numeric(table, col) if schema.kinds[col] == "numeric"
        else _encode_categorical(table, col, schema.categories[col])
        for col in schema.columns
    ]
    return np.hstack(blocks).astype(np.float32, copy=False)


def _encode_numeric(table: Table, col: str) -> np.ndarray:
    out = np.empty((len(table.rows), 1), dtype=np.float64)
    for i, value in enumerate(table.column(col)):
        x = to_float(value)
        if x is None:
            raise DatasetError(
                f"{table.source}: line {table.lines[i]}, column {col!r}: {value!r} is not a number"
            )
        if abs(x) > _FLOAT32_MAX:  # features and targets are float32
            raise DatasetError(
                f"{table.source}: line {table.lines[i]}, column {col!r}: {value} is beyond "
                f"float32's range (+-{_FLOAT32_MAX:.4g}); rescale the column (e.g. other units)")
        out[i, 0] = x
    return out


def _encode_categorical(table: Table, col: str, categories: list[str]) -> np.ndarray:
    position = {cat: k for k, cat in enumerate(categories)}
    out = np.zeros((len(table.rows), len(categories)), dtype=np.float32)
    for i, value in enumerate(table.column(col)):
        if value not in position:
            raise DatasetError(
                f"{table.source}: line {table.lines[i]}, column {col!r}: unknown category "
                f"{value!r}; known categories: {categories} (the training data's, which the "
                "model has inputs for): drop or correct such rows")
        out[i, position[value]] = 1.0
    return out


def _encode_target(table: Table, schema: CsvSchema) -> np.ndarray:
    values = table.column(schema.target)
    if schema.task == "regression":
        return _encode_numeric(table, schema.target)[:, 0].astype(np.float32)
    exact = {name: k for k, name in enumerate(schema.class_names)}  # type: ignore[arg-type]  # classification: names set
    numeric = {to_float(name): k for k, name in enumerate(schema.class_names)}  # type: ignore[arg-type]  # (as above)
    numeric.pop(None, None)
    y = np.empty(len(values), dtype=np.int64)
    for i, value in enumerate(values):
        k = exact.get(value, numeric.get(to_float(value)))
        if k is None:
            raise DatasetError(
                f"{table.source}: line {table.lines[i]}, column {schema.target!r}: unknown class "
                f"{value!r}; known classes: {schema.class_names}"
            )
        y[i] = k
    return y


# ---------------------------------------------------------------- public

def load_csv(
    path: str | os.PathLike,
    target: str,
    task: str = "auto",
    dropna: bool = False,
    test_size: float = 0.2,
    seed: int = 0,
) -> Dataset:
    """Load a CSV with a header row; *target* names the label column.

    Numeric columns are used as-is, other columns are one-hot encoded.
    The split is stratified for classification and seeded either way.
    gzip files are read directly; the delimiter is sniffed (see :mod:`.csvread`).
    Messages count lines of the file.

    Parameters
    ----------
    path : str or path-like
    target : str
    task : {"auto", "classification", "regression"}
        ``"auto"``: classes for a text target or an integer one with at most 20 values.
    dropna : bool, default False
    test_size : float in [0, 1), default 0.2
    seed : int, default 0

    Returns
    -------
    Dataset

    Raises
    ------
    DatasetError
        If the file cannot be read, ``target`` is absent, or an argument or value is bad.

    Examples
    --------
    >>> import pathlib, tempfile, nlayer.datasets as nd
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = pathlib.Path(folder, "pets.csv")
    ...     _ = path.write_text("weight,colour,kind\\n" + "4,black,cat\\n30,brown,dog\\n" * 5)
    ...     ds = nd.load_csv(path, target="kind")
    >>> ds.task, ds.class_names, ds.X_train.shape, ds.X_test.shape
    ('classification', ['cat', 'dog'], (8, 3), (2, 3))
    >>> nd.encode_csv_rows([{"weight": 5, "colour": "brown"}], ds.schema)  # new rows, no target
    (array([[5., 0., 1.]], dtype=float32), None, array([0]))
    """
    table = read_table(path)
    if target not in table.header:
        raise DatasetError(
            f"{table.source}: target column {target!r} not found; columns are {table.header}"
        )
    table, _ = _drop_missing(table, table.header, dropna)
    schema = _infer_schema(table, target, task)
    X = _encode_features(table, schema)
    y = _encode_target(table, schema)
    train, test = split_indices(y, test_size, seed, stratify=schema.task == "classification")
    return Dataset(
        name=Path(path).stem, X_train=X[train], y_train=y[train], X_test=X[test], y_test=y[test],
        task=schema.task, feature_names=schema.feature_names, class_names=schema.class_names,
        source=str(path), schema=schema,
    )


def encode_csv_rows(path_or_rows: str | os.PathLike[str] | Table | list[Any],
                    schema: CsvSchema, require_target: bool = False, dropna: bool = False,
                    *, allow_empty: bool = False
                    ) -> tuple[NDArray[np.float32], NDArray[Any] | None, NDArray[np.intp]]:
    """Encode new data with a saved schema; returns (X, y or None, kept_rows).

    *path_or_rows* is a CSV path, a :class:`~.csvread.Table`, a list of rows
    whose first row is the header, or a list of dicts.  A file without a header
    row is read when its field count matches the schema's feature columns
    (taken in that order).  Extra columns are ignored.  y is returned
    when the target column is present (and has no missing values unless
    *require_target*).  kept_rows are 0-based indices of the data rows used.
    ``allow_empty``: a table whose rows ``dropna`` all drops gives no rows instead of an
    error (a chunk of a file read a chunk at a time).

    Parameters
    ----------
    path_or_rows : str, path-like, Table or list
    schema : CsvSchema
    require_target, dropna, allow_empty : bool, default False

    Returns
    -------
    tuple of (ndarray, ndarray or None, ndarray)

    Raises
    ------
    DatasetError
        If the data cannot be read, lack a column it needs, or hold a bad or missing value.

    Examples
    --------
    See :class:`CsvSchema`'s (a schema and two rows encoded) and :func:`load_csv`'s.
    """
    if isinstance(path_or_rows, (str, os.PathLike)):
        table = read_table(path_or_rows, names=schema.headerless_names)
    elif isinstance(path_or_rows, Table):
        table = path_or_rows
    else:
        table = rows_to_table(path_or_rows)
    absent = [c for c in schema.columns if c not in table.header]
    if absent:
        raise DatasetError(
            f"{table.source}: missing feature columns {absent}; expected columns {schema.columns}"
        )
    has_target = schema.target in table.header
    if require_target and not has_target:
        raise DatasetError(f"{table.source}: target column {schema.target!r} not found; "
                           f"columns are {table.header}")
    checked = schema.columns + ([schema.target] if require_target else [])
    table, kept = _drop_missing(table, checked, dropna, allow_empty)
    X = _encode_features(table, schema)
    if has_target and (require_target or not any(map(is_missing, table.column(schema.target)))):
        return X, _encode_target(table, schema), kept
    return X, None, kept


def load_digits(test_size: float = 0.2, seed: int = 0) -> Dataset:
    """scikit-learn's 8x8 digits (1797 images), pixels scaled to [0, 1]."""
    try:
        from sklearn.datasets import load_digits as sk_load_digits
    except ImportError as exc:
        raise ImportError(
            'the "digits" dataset needs scikit-learn: pip install "nlayer[cli]"'
        ) from exc
    bunch = sk_load_digits()
    X = (bunch.data / DIGITS_WHITE).astype(np.float32)
    y = bunch.target.astype(np.int64)
    train, test = split_indices(y, test_size, seed)
    return Dataset(
        name="digits", X_train=X[train], y_train=y[train], X_test=X[test], y_test=y[test],
        task="classification",
        feature_names=[f"pixel_{r}_{c}" for r in range(8) for c in range(8)],
        class_names=[str(d) for d in range(10)],
        source="scikit-learn digits (sklearn.datasets.load_digits)", pixel_scale=DIGITS_WHITE,
    )
