"""Training data bigger than memory: ``.npy`` files memory-mapped, Parquet files encoded a
batch at a time (``nlayer train --npy X.npy --labels y.npy``, ``--parquet FILE --target COL``).

The Dataset's X is never a copy of the file's rows:

- ``--npy``: X is the read-only memory map itself; the labels are read once and become
  class ids (int64) or float32 values, which ``fit`` keeps in memory anyway.
- ``--parquet``: one pass reads the columns a schema needs (the categories of text columns,
  the missing values, the target, a batch at a time); a second encodes the features a
  batch at a time into a float32 scratch ``.npy`` file in the temporary folder (``TMPDIR``),
  which is memory-mapped and unlinked at once: it takes disk space (rows x features x 4
  bytes) while the run lasts, and goes when the process ends, even if it is killed.
  Training reads rows in random order, which a Parquet file (compressed row groups) cannot
  serve row by row.

The test set: ``--test-npy X_test.npy --test-labels y_test.npy`` or ``--test-parquet FILE``
(encoded with the training file's schema into a scratch map of its own) when given (the
training file is then trained on whole), else the split of CSV files (:data:`~nlayer.runs.data.TEST_SIZE` of the
rows, stratified for classes, fixed seed): train and test sets are then
:class:`~nlayer.datasets.rowsubset.RowSubset` views of the map, sorted row numbers and no
copy. ``model.metadata`` records the files and the split, so ``nlayer evaluate RUN``
rebuilds the same test rows (:mod:`nlayer.runs.stream`).
"""

import contextlib
import os
import tempfile
from pathlib import Path

import numpy as np

from nlayer.datasets import CsvSchema, Dataset, DatasetError
from nlayer.datasets import labels as labels_mod, parquet
from nlayer.datasets.npyfile import open_npy
from nlayer.datasets.rowsubset import RowSubset
from nlayer.datasets.tabular import split_indices

__all__ = ["npy_dataset", "parquet_dataset", "parquet_test_file", "describe", "npy_labels",
           "SOURCES"]

#: The config keys that name such a file (a run's data is one of these or a CSV or dataset).
SOURCES = ("npy", "parquet")


def npy_labels(path, n_rows, x_path, class_names=None, task="auto"):
    """(y, task, class names) of the labels file for ``n_rows`` rows of ``x_path``: encoded
    with ``class_names`` when given (a model's classes), else as ``task`` says."""
    mapped = open_npy(path, "labels")
    if len(mapped) != n_rows:
        raise DatasetError(f"{path}: {len(mapped)} labels but {x_path} has {n_rows} rows; give "
                           "one label per row of X (the same order)")
    return _targets(mapped, str(path), class_names, task)


def _targets(values, source, class_names=None, task="auto", target="labels"):
    """(y, task, class names) of target values: class ids by ``class_names`` when given (the
    training data's classes), else as ``task`` says."""
    if class_names is not None:
        return labels_mod.encode_with_names(values, class_names, source), \
            "classification", class_names
    return labels_mod.encode_labels(values, task, source, target)


def npy_dataset(cfg, test_size, seed):
    """The Dataset of ``--npy`` (with ``--labels``, and ``--test-npy``/``--test-labels``)."""
    X = open_npy(cfg["npy"], "X", features=True)
    y, task, names = npy_labels(cfg["labels"], len(X), cfg["npy"], task=cfg["task"])
    if cfg["test_npy"]:
        X_test = open_npy(cfg["test_npy"], "X", features=True)
        if X_test.shape[1] != X.shape[1]:
            raise DatasetError(f"{cfg['test_npy']}: {X_test.shape[1]} features, but "
                               f"{cfg['npy']} has {X.shape[1]}; the test set needs the same "
                               "columns")
        y_test, _, _ = npy_labels(cfg["test_labels"], len(X_test), cfg["test_npy"], names, task)
        X_train, y_train = RowSubset(X, None, str(cfg["npy"])), y
        X_test = RowSubset(X_test, None, str(cfg["test_npy"]))
    else:
        train, test = split_indices(y, test_size, seed, stratify=task == "classification")
        X_train, y_train = RowSubset(X, train, str(cfg["npy"])), y[train]
        X_test, y_test = RowSubset(X, test, str(cfg["npy"])), y[test]
    return Dataset(name=Path(cfg["npy"]).stem, X_train=X_train, y_train=y_train, X_test=X_test,
                   y_test=y_test, task=task, feature_names=[f"x{j}" for j in range(X.shape[1])],
                   class_names=names, source=str(cfg["npy"]))


def parquet_dataset(cfg, test_size, seed):
    """The Dataset of ``--parquet FILE --target COLUMN`` (see the module docstring)."""
    path, source = cfg["parquet"], str(cfg["parquet"])
    pf = parquet.open_parquet(path)
    columns, kinds, categories, values, kept = parquet.infer(pf, cfg["target"], cfg["dropna"],
                                                             source)
    y, task, names = labels_mod.encode_labels(values, cfg["task"], source, cfg["target"])
    schema = CsvSchema(cfg["target"], task, columns, kinds, categories, names)
    X = encoded_map(pf, schema, kept, cfg["dropna"], source)
    if cfg["test_parquet"]:
        X_test, y_test = parquet_test_file(cfg["test_parquet"], schema, cfg["dropna"], source)
        X_train, y_train = RowSubset(X, None, source), y
        X_test = RowSubset(X_test, None, str(cfg["test_parquet"]))
    else:
        train, test = split_indices(y, test_size, seed, stratify=task == "classification")
        X_train, y_train = RowSubset(X, train, source), y[train]
        X_test, y_test = RowSubset(X, test, source), y[test]
    return Dataset(name=Path(path).stem, X_train=X_train, y_train=y_train, X_test=X_test,
                   y_test=y_test, task=task, feature_names=schema.feature_names,
                   class_names=names, source=source, schema=schema)


def parquet_test_file(path, schema, dropna, train_source):
    """(X, y) of ``--test-parquet``: its rows encoded with the training file's ``schema``
    into a scratch map as the training rows are (its categories and classes must be the
    training file's), and their targets."""
    source = str(path)
    pf = parquet.open_parquet(path)
    needed = [*schema.columns, schema.target]
    absent = [c for c in needed if c not in pf.schema_arrow.names]
    if absent:
        raise DatasetError(f"{source}: no column {', '.join(map(repr, absent[:10]))}; a test "
                           f"file needs the columns of the training file {train_source} (the "
                           f"features and the target {schema.target!r}): add or rename them")
    values = parquet.kept_targets(pf, schema, dropna, source)
    if not len(values):
        raise DatasetError(f"{source}: no test rows" + (" left after dropping rows with "
                                                        "missing values" if dropna else ""))
    y, _, _ = _targets(values, source, schema.class_names, schema.task, schema.target)
    return encoded_map(pf, schema, len(values), dropna, source), y


def encoded_map(pf, schema, rows, dropna, source, directory=None):
    """The file's features encoded (``rows`` kept rows) into a float32 scratch file in
    ``directory`` (default: the temporary folder), returned as a read-only memory map of a
    file already unlinked (see the module docstring)."""
    width = len(schema.feature_names)
    fd, name = tempfile.mkstemp(prefix="nlayer-parquet-", suffix=".npy", dir=directory)
    os.close(fd)
    try:
        out = np.lib.format.open_memmap(name, mode="w+", dtype=np.float32, shape=(rows, width))
        at = 0
        for first, batch in parquet.batches(pf, [*schema.columns, schema.target]):
            X, _, _ = parquet.encode(batch, schema, first, source, dropna, require_target=True)
            out[at:at + len(X)] = X
            at += len(X)
        if at != rows:
            raise DatasetError(f"{source}: {at} rows read now, {rows} before; was the file "
                               "changed while it was read?")
        out.flush()
        del out
        return open_npy(name, "X", features=True)
    except OSError as exc:
        raise DatasetError(f"cannot write the scratch file {name} for {source} "
                           f"({rows} x {width} float32): {exc.strerror or exc}; set TMPDIR "
                           "to a folder with room") from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(name)  # the map, if any, keeps the data until it is closed


def describe(ds, cfg):
    """What ``model.metadata`` keeps about an ``--npy`` or ``--parquet`` run's data."""
    if cfg.get("npy"):
        files = {key: str(Path(cfg[key]).resolve()) if cfg[key] else None
                 for key in ("npy", "labels", "test_npy", "test_labels")}
        return {**files, "feature_names": list(ds.feature_names),
                **({"split": None} if cfg["test_npy"] else {})}
    test = cfg.get("test_parquet")
    return {"parquet": str(Path(cfg["parquet"]).resolve()), "csv_schema": ds.schema.to_dict(),
            "dropna": cfg["dropna"],
            **({"test_parquet": str(Path(test).resolve()), "split": None} if test else {})}
