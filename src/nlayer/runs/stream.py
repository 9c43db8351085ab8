"""Rows for ``nlayer predict`` and ``evaluate``, a chunk at a time, whatever the file's size.

A source (a CSV, ``.npy`` or Parquet file, a model's recorded test set) yields
:class:`Chunk` s of encoded rows; :func:`rebatch` cuts them into blocks of exactly
:data:`~nlayer.model.inference.EVAL_CHUNK` rows (the last may be shorter), the blocks
``predict`` and ``evaluate`` make of all the rows at once, under the BLAS thread limit they
would choose: so :func:`predictions` and :func:`evaluate` give the bits of
``model.predict``/``model.evaluate`` on the whole file (tested), and hold a chunk or two
in memory, never the file.
"""

from __future__ import annotations

import os
from itertools import chain
from typing import Any, Iterable, Iterator, NamedTuple

import numpy as np

from nlayer.datasets import CsvSchema, DatasetError, load_dataset
from nlayer.datasets import labels as labels_mod, parquet
from nlayer.datasets import csvread
from nlayer.datasets.npyfile import open_npy
from nlayer.datasets.rowsubset import RowSubset
from nlayer.datasets.tabular import split_indices
from nlayer.model.inference import EVAL_CHUNK, Evaluation, forward_rows
from nlayer.training import threads

from . import data, sources
from .errors import UserError

__all__ = ["Chunk", "Dropped", "csv_chunks", "npy_chunks", "parquet_chunks", "selected",
           "rebatch", "predictions", "evaluate", "recorded_test_set"]


PathLike = str | os.PathLike[str]


class Chunk(NamedTuple):
    """Encoded rows X (float32), their targets y (class ids or values; None without), and
    ``rows``: each row's number in its source (0-based data rows)."""

    X: np.ndarray
    y: np.ndarray | None
    rows: np.ndarray


class Dropped:
    """The rows ``--dropna`` skipped: how many, and the first few (file lines of a CSV,
    rows of a Parquet file)."""

    SHOWN = 10

    def __init__(self, unit):
        self.unit, self.count, self.first = unit, 0, []

    def add(self, where):
        self.count += len(where)
        self.first += list(where[:self.SHOWN - len(self.first)])

    def message(self, source):
        shown = ", ".join(map(str, self.first)) + (", ..." if self.count > self.SHOWN else "")
        return (f"skipped {self.count} row(s) with missing values (--dropna): {self.unit} "
                f"{shown} of {source}")


def csv_chunks(model: Any, path: PathLike, labelled: bool = False, dropna: bool = False,
               target: str | None = None, dropped: Dropped | None = None,
               max_cells: int | None = None) -> Iterator[Chunk]:
    """The CSV's rows encoded as the model's training data was (``labelled``: with the
    target column, required); ``dropped`` (a :class:`Dropped`) learns what --dropna skipped.
    An image model's raw intensities are scaled when any value of the file is above 1:
    when its first chunk does not show it and there are more, the file is read once more
    to decide."""
    def encoded(dropped):
        first = 0
        for table in data.csv_tables(model, path, target, max_cells):
            X, y, kept, lines = data.encode_table(model, table, labelled, dropna, target)
            if dropped is not None:
                dropped.add(lines)
            rows, first = first + np.asarray(kept, dtype=np.int64), first + len(table.rows)
            del table  # not alive while the next chunk is read: one chunk of text at a time
            yield Chunk(X, y, rows)

    chunks = encoded(dropped)
    head = [next(chunks)]
    raw = data.raw_pixels(model, head[0].X)
    if data.scales_pixels(model) and not raw:
        head += [c for c in [next(chunks, None)] if c is not None]
        raw = len(head) > 1 and any(data.raw_pixels(model, c.X) for c in encoded(None))
    for chunk in chain(head, chunks):
        yield chunk._replace(X=data.scale_pixels(model, chunk.X)) if raw else chunk


def _slices(n, width, max_cells=None):
    """(start, stop) of row ranges of about ``max_cells`` cells, whole EVAL_CHUNK blocks."""
    cells = max_cells or csvread.CHUNK_CELLS
    step = max(EVAL_CHUNK, cells // max(1, width) // EVAL_CHUNK * EVAL_CHUNK)
    return ((i, min(n, i + step)) for i in range(0, n, step))


def npy_chunks(model: Any, path: PathLike, labels: PathLike | None = None,
               max_cells: int | None = None) -> Iterator[Chunk]:
    """The rows of a ``.npy`` file (memory-mapped), with the labels of another when given,
    encoded with the model's class names."""
    X = open_npy(path, "X", features=True)
    _check_width(model, X.shape[1], path)
    mapped = None if labels is None else open_npy(labels, "labels")
    if mapped is not None and len(mapped) != len(X):
        raise DatasetError(f"{labels}: {len(mapped)} labels but {path} has {len(X)} rows; give "
                           "one label per row of X (the same order)")
    checked = RowSubset(X, None, str(path))  # finite, and still all there, named by row
    for i, j in _slices(len(X), X.shape[1], max_cells):
        rows = np.arange(i, j)
        yield Chunk(checked[i:j], None if mapped is None else
                    _labels(model, mapped[i:j], labels, rows), rows)


def _labels(model, values, source, rows):
    """Targets as the model's loss takes them: class ids by its class names, or values."""
    if data.task_of(model) == "classification":
        return labels_mod.encode_with_names(values, data.class_names_of(model), str(source),
                                            rows)
    return labels_mod.values_for_regression(labels_mod.label_values(values, str(source)),
                                            str(source))


def _check_width(model, width, path):
    if width != model.n_features:
        raise UserError(f"{path} has {width} features but the model takes {model.n_features}; "
                        "is it the data the model was trained on?")


def parquet_chunks(model: Any, path: PathLike, labelled: bool = False, dropna: bool = False,
                   target: str | None = None, dropped: Dropped | None = None,
                   max_cells: int | None = None) -> Iterator[Chunk]:
    """The Parquet file's rows encoded with the model's schema (a CSV or Parquet model's;
    image and ``.npy`` models: one numeric column per feature, in order of their names)."""
    schema = data.schema_of(model, target)
    source = str(path)
    pf = parquet.open_parquet(path)
    columns = [*schema.columns, *([schema.target] if schema.target in pf.schema_arrow.names
                                  else [])]
    absent = [c for c in schema.columns if c not in pf.schema_arrow.names]
    if absent:
        raise DatasetError(f"{source}: missing feature columns {absent[:10]}; expected columns "
                           f"{schema.columns[:10]}{' ...' if len(schema.columns) > 10 else ''}")
    for first, batch in parquet.batches(pf, columns, max_cells):
        X, values, kept = parquet.encode(batch, schema, first, source, dropna, labelled)
        if dropped is not None:
            dropped.add(first + np.setdiff1d(np.arange(batch.num_rows), kept))
        rows = first + kept
        yield Chunk(X, _labels(model, values, source, rows) if labelled else None, rows)


def selected(chunks: Iterable[Chunk], select: np.ndarray) -> Iterator[Chunk]:
    """The rows at the ascending positions ``select`` among all the rows of ``chunks`` (a
    recorded test split), a chunk at a time."""
    before = 0
    for chunk in chunks:
        lo, hi = np.searchsorted(select, [before, before + len(chunk.rows)])
        mine = select[lo:hi] - before
        before += len(chunk.rows)
        yield Chunk(chunk.X[mine], None if chunk.y is None else chunk.y[mine], chunk.rows[mine])


def rebatch(chunks: Iterable[Chunk], size: int = EVAL_CHUNK) -> Iterator[Chunk]:
    """The rows of ``chunks`` in blocks of exactly ``size`` rows (the last: the rest)."""
    pending: list[Chunk] = []
    held = 0
    for chunk in chunks:
        start = 0
        while start < len(chunk.rows):
            take = min(size - held, len(chunk.rows) - start)
            pending.append(Chunk(chunk.X[start:start + take],
                                 None if chunk.y is None else chunk.y[start:start + take],
                                 chunk.rows[start:start + take]))
            held, start = held + take, start + take
            if held == size:
                yield _joined(pending)
                pending, held = [], 0
    if pending:
        yield _joined(pending)


def _joined(parts: list[Chunk]) -> Chunk:
    if len(parts) == 1:
        return parts[0]
    y = None if any(p.y is None for p in parts) else np.concatenate([p.y for p in parts])
    return Chunk(np.concatenate([p.X for p in parts]), y,
                 np.concatenate([p.rows for p in parts]))


def _limited(model, chunks, where):
    """(the blocks, the BLAS limit's context): ``predict`` and ``evaluate`` choose it from
    min(EVAL_CHUNK, rows), which is the first block's row count."""
    blocks = rebatch(chunks)
    first = next(blocks, None)
    if first is None:
        raise DatasetError(f"{where}: no rows left to read (--dropna skipped every row)")
    _check_width(model, first.X.shape[1], where)
    return chain([first], blocks), threads.limit(model, len(first.rows))


def predictions(model: Any, chunks: Iterable[Chunk], where: str = "the data"
                ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(outputs, row numbers) of each block: ``model.predict``'s bits, a block at a time."""
    blocks, limit = _limited(model, chunks, where)
    with limit:
        for block in blocks:
            yield forward_rows(model, model._rows(block.X)), block.rows


def evaluate(model: Any, chunks: Iterable[Chunk], where: str = "the data"
             ) -> tuple[dict[str, float], int]:
    """(``model.evaluate``'s metrics on all the rows, how many rows), a block at a time."""
    running = Evaluation(model)
    blocks, limit = _limited(model, chunks, where)
    with limit:
        for block in blocks:
            if block.y is None:
                raise DatasetError(f"{where}: no targets to evaluate against")
            running.add(block.X, block.y)
    return running.results(), running.rows


def recorded_test_set(model, dataset=None, data_dir=None, download=True):
    """(chunks, description) of the test set a model's metadata records (or of ``dataset``)."""
    meta = model.metadata
    split = meta.get("split") or {}
    seed, size = split.get("seed", data.SPLIT_SEED), split.get("test_size", data.TEST_SIZE)
    if dataset is None and meta.get("npy"):
        return _npy_test_set(model, meta, size, seed)
    if dataset is None and meta.get("parquet"):
        return _parquet_test_set(model, meta, size, seed)
    if dataset is None and meta.get("csv_schema"):
        return _csv_test_set(model, meta, size, seed)
    name = dataset or meta.get("dataset")
    if not name:
        raise UserError("the model does not record its dataset; pass --dataset NAME or --csv FILE "
                        "(or --parquet FILE, or --npy X.npy --labels Y.npy)")
    ds = load_dataset(name, data_dir=data_dir, download=download, test_size=size, seed=seed)
    return [Chunk(ds.X_test, ds.y_test, np.arange(len(ds.y_test)))], f"{ds.name} (test split)"


def _npy_test_set(model, meta, size, seed):
    if meta.get("test_npy"):
        return npy_chunks(model, meta["test_npy"], meta["test_labels"]), \
            f"{meta['test_npy']} (the test file)"
    X = open_npy(meta["npy"], "X", features=True)
    task = data.task_of(model)
    names = data.class_names_of(model) if task == "classification" else None
    y, _, _ = sources.npy_labels(meta["labels"], len(X), meta["npy"], names, task)
    _, test = split_indices(y, size, seed, stratify=task == "classification")
    subset = RowSubset(X, test, meta["npy"])
    chunks = (Chunk(subset[i:j], y[test[i:j]], test[i:j])
              for i, j in _slices(len(test), X.shape[1]))
    return chunks, f"{meta['npy']} (test split)"


def _parquet_test_set(model, meta, size, seed):
    dropna, source = meta.get("dropna", False), meta["parquet"]
    if meta.get("test_parquet"):
        return parquet_chunks(model, meta["test_parquet"], labelled=True, dropna=dropna), \
            f"{meta['test_parquet']} (the test file)"
    schema = CsvSchema.from_dict(meta["csv_schema"])
    values = parquet.kept_targets(parquet.open_parquet(source), schema, dropna, source)
    y = _labels(model, values, source, None)
    _, test = split_indices(y, size, seed, stratify=schema.task == "classification")
    return selected(parquet_chunks(model, source, labelled=True, dropna=dropna), test), \
        f"{source} (test split)"


def _csv_test_set(model, meta, size, seed):
    """The test split ``load_csv`` made of a CSV-trained model's file, a chunk at a time.
    The split is a stratified random subset of the rows kept, so a first pass keeps the
    targets (8 bytes a row at most) to split them and a second encodes the file again and
    keeps the test rows: 1.14 times the whole-file path's time, measured."""
    source, dropna = meta["csv"], meta.get("dropna", False)

    def read():
        return csv_chunks(model, source, labelled=True, dropna=dropna)

    y = np.concatenate([chunk.y for chunk in read()])
    stratify = data.schema_of(model).task == "classification"
    _, test = split_indices(y, size, seed, stratify=stratify)
    del y
    return selected(read(), test), f"{source} (test split)"
