"""Parquet files, read a batch of rows at a time with pyarrow (``pip install "nlayer[parquet]"``).

A Parquet table is encoded as a CSV file is (:class:`~.tabular.CsvSchema`): every column
but the target is a feature; numbers (integers, floats, booleans, decimals) are used as
they are, text columns (strings, dictionaries) are one-hot encoded with their sorted
values as categories. The target follows the rules of :mod:`.labels`. A missing value
(null, or NaN in a float column) is refused naming its row, or its row is dropped
(``dropna``). Rows are counted from 0 in the file, as ``nlayer predict`` numbers them.

Nothing here holds the file's features whole: :func:`batches` reads a batch of rows of the
columns asked for (:data:`~.csvread.CHUNK_CELLS` cells), :func:`encode` turns one into
float32 features, and :func:`infer` reads the columns a schema needs (categories, the
missing values, the target) a batch at a time. pyarrow decodes a row group's column
chunks as it reads them, so the memory a pass takes is about one row group (measured:
1 to 2 times its uncompressed size): write big files with row groups of tens of MB
(``pyarrow.parquet.write_table(..., row_group_size=ROWS)``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterator

import numpy as np
from numpy.typing import NDArray

from . import csvread
from .csvread import refuse_special_file, to_float
from .idx import DatasetError, DatasetNotFoundError
from .tabular import _FLOAT32_MAX, CsvSchema

__all__ = ["ParquetUnavailableError", "EXTRA", "open_parquet", "batches", "kept_batches",
           "kept_targets", "target_values", "infer", "encode"]

EXTRA = 'pip install "nlayer[parquet]"'
#: Bytes read from the file at a time (pyarrow's buffered stream): pages of a column chunk
#: are read as they are decoded instead of the whole chunk at once.
READ_BUFFER = 1 << 20


class ParquetUnavailableError(DatasetError, ImportError):
    """pyarrow, which reads Parquet files, is not installed."""


def _arrow() -> tuple[Any, Any, Any]:
    """(pyarrow, pyarrow.parquet, pyarrow.compute), or the error naming the extra."""
    try:
        import pyarrow
        import pyarrow.compute
        import pyarrow.parquet
    except ImportError:
        raise ParquetUnavailableError(f"reading Parquet files needs pyarrow: {EXTRA}") from None
    return pyarrow, pyarrow.parquet, pyarrow.compute


def open_parquet(path: str | os.PathLike[str]) -> Any:
    """A ``pyarrow.parquet.ParquetFile`` (only its footer is read), or the error naming why not."""
    pa, pq, _ = _arrow()
    path = Path(path)
    refuse_special_file(path, "a Parquet file")
    if not path.exists():
        raise DatasetNotFoundError(f"{path}: Parquet file not found")
    try:  # pre_buffer (pyarrow's default) would read row groups far ahead of the batches
        return pq.ParquetFile(path, pre_buffer=False, buffer_size=READ_BUFFER)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise DatasetError(f"{path}: not a readable Parquet file ({exc}); write it with "
                           "pyarrow or pandas (DataFrame.to_parquet)") from None


def batches(pf: Any, columns: list[str], max_cells: int | None = None
            ) -> Iterator[tuple[int, Any]]:
    """(first row, record batch) over the file's rows in order, ``columns`` only, about
    ``max_cells`` cells a batch (default :data:`~.csvread.CHUNK_CELLS`)."""
    first = 0
    size = max(1, (max_cells or csvread.CHUNK_CELLS) // max(1, len(columns)))
    for batch in pf.iter_batches(batch_size=size, columns=columns, use_threads=False):
        yield first, batch
        first += batch.num_rows


def _kind(field: Any, source: str) -> str:
    pa, _, _ = _arrow()
    t = field.type
    if pa.types.is_dictionary(t):
        t = t.value_type
    if any(test(t) for test in (pa.types.is_integer, pa.types.is_floating, pa.types.is_boolean,
                                pa.types.is_decimal)):
        return "numeric"
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "categorical"
    raise DatasetError(f"{source}: column {field.name!r} has type {field.type}, neither numbers "
                       "nor text; cast it to one of them or drop it from the file")


def _missing(batch: Any, columns: list[str]) -> tuple[NDArray[np.bool_], list[NDArray[np.bool_]]]:
    """(rows with a missing value in any of ``columns``, the mask of each column)."""
    pa, _, pc = _arrow()
    masks = []
    for name in columns:
        arr = batch.column(name)
        mask = arr.is_null()
        if pa.types.is_floating(arr.type):
            mask = pc.or_(mask, pc.fill_null(pc.is_nan(arr), False))
        masks.append(np.asarray(mask.to_numpy(zero_copy_only=False), dtype=bool))
    anywhere = np.logical_or.reduce(masks) if masks else np.zeros(batch.num_rows, bool)
    return anywhere, masks


def _kept(batch: Any, columns: list[str], first: int, source: str, dropna: bool
          ) -> NDArray[np.intp]:
    """Positions in the batch of the rows without a missing value (all of them, or the
    error naming the first missing one, unless ``dropna``)."""
    anywhere, masks = _missing(batch, columns)
    if anywhere.any() and not dropna:
        i = int(np.flatnonzero(anywhere)[0])
        col = next(c for c, m in zip(columns, masks) if m[i])
        raise DatasetError(f"{source}: missing value in row {first + i} (counted from 0), "
                           f"column {col!r}; pass --dropna (dropna=True) to drop rows with "
                           "missing values")
    return np.flatnonzero(~anywhere)


def kept_batches(pf: Any, columns: list[str], dropna: bool, source: str
                 ) -> Iterator[tuple[int, Any]]:
    """(first row, record batch of the rows without a missing value) over the file, the
    ``columns`` only; a missing value is an error naming it unless ``dropna``."""
    for first, batch in batches(pf, columns):
        yield first, batch.take(_kept(batch, columns, first, source, dropna))


def kept_targets(pf: Any, schema: CsvSchema, dropna: bool, source: str) -> NDArray[Any]:
    """The target's values (numbers or text) of the rows a model with ``schema`` uses, one
    pass a batch at a time: with ``dropna`` the rows without a missing value in its columns,
    else every row (a missing target is an error naming it)."""
    columns = [*schema.columns, schema.target] if dropna else [schema.target]
    values = [target_values(batch.column(schema.target))
              for _, batch in kept_batches(pf, columns, dropna, source)]
    return np.concatenate(values) if values else np.zeros(0)


def target_values(arr: Any) -> NDArray[Any]:
    """A target column's values as numbers (float64) or text."""
    pa, _, _ = _arrow()
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    values = arr.to_numpy(zero_copy_only=False)
    return values.astype(str) if values.dtype == object else values


def infer(pf: Any, target: str, dropna: bool, source: str
          ) -> tuple[list[str], dict[str, str], dict[str, list[str]], NDArray[Any], int]:
    """(feature columns, their kinds, categories, the target's values, rows kept): one pass
    over the columns a schema needs, a batch at a time (the target values are kept)."""
    names = pf.schema_arrow.names
    if target not in names:
        raise DatasetError(f"{source}: target column {target!r} not found; columns are {names}")
    columns = [c for c in names if c != target]
    if not columns:
        raise DatasetError(f"{source}: no feature columns besides target {target!r}")
    kinds = {c: _kind(pf.schema_arrow.field(c), source) for c in columns}
    _kind(pf.schema_arrow.field(target), source)
    found: dict[str, set[str]] = {c: set() for c in columns if kinds[c] == "categorical"}
    values, kept = [], 0
    for _, batch in kept_batches(pf, names, dropna, source):
        kept += batch.num_rows
        for c in found:
            found[c].update(_text(batch.column(c)).unique().to_pylist())
        values.append(target_values(batch.column(target)))
    if not kept:
        raise DatasetError(f"{source}: no rows left after dropping rows with missing values")
    return columns, kinds, {c: sorted(v) for c, v in found.items()}, np.concatenate(values), kept


def _text(arr: Any) -> Any:
    pa, _, _ = _arrow()
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    return arr if pa.types.is_string(arr.type) else arr.cast(pa.string())


def encode(batch: Any, schema: CsvSchema, first: int, source: str, dropna: bool = False,
           require_target: bool = False) -> tuple[NDArray[np.float32], NDArray[Any] | None,
                                                   NDArray[np.intp]]:
    """``(X, target values or None, kept)`` of a record batch whose first row is the file's
    row ``first``: features as the schema encodes them, the target's raw values when the
    batch has the column, and the positions of the rows used (``dropna``)."""
    absent = [c for c in schema.columns if c not in batch.schema.names]
    if absent:
        raise DatasetError(f"{source}: missing feature columns {absent}; expected columns "
                           f"{schema.columns}")
    has_target = schema.target in batch.schema.names
    if require_target and not has_target:
        raise DatasetError(f"{source}: target column {schema.target!r} not found; columns are "
                           f"{batch.schema.names}")
    checked = schema.columns + ([schema.target] if require_target else [])
    kept = _kept(batch, checked, first, source, dropna)
    batch = batch.take(kept)
    rows = first + kept
    X = np.zeros((batch.num_rows, len(schema.feature_names)), dtype=np.float32)
    j = 0
    for col in schema.columns:
        arr = batch.column(col)
        if schema.kinds[col] == "numeric":
            X[:, j] = _numbers(arr, col, rows, source)
            j += 1
        else:
            categories = schema.categories[col]
            X[np.arange(batch.num_rows), j + _positions(arr, categories, col, rows, source)] = 1
            j += len(categories)
    y = target_values(batch.column(schema.target)) if has_target else None
    return X, y, kept


def _numbers(arr: Any, col: str, rows: NDArray[Any], source: str) -> NDArray[np.float64]:
    pa, _, _ = _arrow()
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):  # a CSV's model
        parsed = [to_float(v) for v in arr.to_pylist()]
        bad = next((i for i, x in enumerate(parsed) if x is None), None)
        if bad is not None:
            raise DatasetError(f"{source}: row {rows[bad]} (counted from 0), column {col!r}: "
                               f"{arr[bad].as_py()!r} is not a number")
        values = np.asarray(parsed, dtype=np.float64)
    else:
        values = np.asarray(arr.cast(pa.float64()).to_numpy(zero_copy_only=False))
    wrong = np.flatnonzero(~np.isfinite(values) | (np.abs(values) > _FLOAT32_MAX))
    if wrong.size:
        i = int(wrong[0])
        why = "is not a finite number" if not np.isfinite(values[i]) else \
            f"is beyond float32's range (+-{_FLOAT32_MAX:.4g}); rescale the column"
        raise DatasetError(f"{source}: row {rows[i]} (counted from 0), column {col!r}: "
                           f"{float(values[i])!r} {why}")
    return values


def _positions(arr: Any, categories: list[str], col: str, rows: NDArray[Any], source: str
               ) -> NDArray[np.intp]:
    pa, _, pc = _arrow()
    text = _text(arr)
    found = pc.index_in(text, value_set=pa.array(categories, type=pa.string()))
    positions = np.asarray(found.to_numpy(zero_copy_only=False), dtype=np.float64)
    unknown = np.flatnonzero(np.isnan(positions))
    if unknown.size:
        i = int(unknown[0])
        raise DatasetError(f"{source}: row {rows[i]} (counted from 0), column {col!r}: unknown "
                           f"category {text[i].as_py()!r}; known categories: {categories} (the "
                           "training data's, which the model has inputs for): drop or correct "
                           "such rows")
    return positions.astype(np.intp)
