"""Parquet files read a batch at a time with pyarrow, encoded as CSV files are."""

import builtins

import numpy as np
import pytest

from nlayer.datasets import CsvSchema, DatasetError, encode_csv_rows
from nlayer.datasets import parquet

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

COLUMNS = {"size": [0.5, -1.25, 2.0, 0.0, 3.5], "n": [1, 2, 3, 4, 5],
           "colour": ["red", "blue", "red", "green", "blue"],
           "kind": ["big", "small", "big", "small", "big"]}


def _write(path, columns=COLUMNS, row_group_size=2):
    pq.write_table(pa.table(columns), path, row_group_size=row_group_size)
    return path


def test_infer_reads_kinds_categories_and_target(tmp_path):
    pf = parquet.open_parquet(_write(tmp_path / "t.parquet"))
    columns, kinds, categories, values, kept = parquet.infer(pf, "kind", False, "t.parquet")
    assert columns == ["size", "n", "colour"] and kept == 5
    assert kinds == {"size": "numeric", "n": "numeric", "colour": "categorical"}
    assert categories == {"colour": ["blue", "green", "red"]}
    assert values.tolist() == COLUMNS["kind"]


def test_batches_encode_as_the_csv_rows_do(tmp_path):
    pf = parquet.open_parquet(_write(tmp_path / "t.parquet"))
    schema = CsvSchema("kind", "classification", ["size", "n", "colour"],
                       {"size": "numeric", "n": "numeric", "colour": "categorical"},
                       {"colour": ["blue", "green", "red"]}, ["big", "small"])
    parts = [parquet.encode(batch, schema, first, "t")
             for first, batch in parquet.batches(pf, ["size", "n", "colour", "kind"], 8)]
    assert len(parts) == 3  # 8 cells: 2 rows of 4 columns a batch
    X = np.concatenate([p[0] for p in parts])
    rows = [["size", "n", "colour", "kind"]] + [list(map(str, r)) for r in zip(*COLUMNS.values())]
    expected, _, _ = encode_csv_rows(rows, schema)
    assert X.dtype == np.float32 and np.array_equal(X, expected)
    assert np.concatenate([p[1] for p in parts]).tolist() == COLUMNS["kind"]


def test_missing_values_are_named_or_dropped(tmp_path):
    columns = {**COLUMNS, "size": [0.5, None, 2.0, float("nan"), 3.5]}
    pf = parquet.open_parquet(_write(tmp_path / "holes.parquet", columns))
    with pytest.raises(DatasetError, match=r"holes: missing value in row 1 \(counted from 0\), "
                       "column 'size'; pass --dropna"):
        parquet.infer(pf, "kind", False, "holes")
    *_, values, kept = parquet.infer(pf, "kind", True, "holes")
    assert kept == 3 and values.tolist() == ["big", "big", "big"]


def test_bad_columns_are_named(tmp_path):
    pf = parquet.open_parquet(_write(tmp_path / "t.parquet"))
    with pytest.raises(DatasetError, match="target column 'label' not found"):
        parquet.infer(pf, "label", False, "t")
    schema = CsvSchema("kind", "classification", ["size", "colour"],
                       {"size": "numeric", "colour": "categorical"},
                       {"colour": ["blue", "red"]}, ["big", "small"])
    batch = next(parquet.batches(pf, ["size", "colour"]))[1]
    with pytest.raises(DatasetError, match=r"row 3 \(counted from 0\), column 'colour': unknown "
                       "category 'green'"):
        parquet.encode(batch, schema, 0, "t")
    with pytest.raises(DatasetError, match=r"missing feature columns \['weight'\]"):
        parquet.encode(batch, CsvSchema("kind", "regression", ["weight"], {"weight": "numeric"}),
                       0, "t")
    dates = _write(tmp_path / "dates.parquet", {"when": pa.array([1, 2], pa.timestamp("s")),
                                                "y": [0.5, 1.5]})
    with pytest.raises(DatasetError, match="column 'when' has type timestamp.* neither numbers"):
        parquet.infer(parquet.open_parquet(dates), "y", False, "dates")
    not_parquet = tmp_path / "x.parquet"
    not_parquet.write_text("a,b\n1,2\n")
    with pytest.raises(DatasetError, match="not a readable Parquet file"):
        parquet.open_parquet(not_parquet)


def test_without_pyarrow_the_error_names_the_extra(monkeypatch, tmp_path):
    real_import = builtins.__import__

    def no_pyarrow(name, *args, **kwargs):
        if name == "pyarrow" or name.startswith("pyarrow."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pyarrow)
    with pytest.raises(parquet.ParquetUnavailableError,
                       match=r'needs pyarrow: pip install "nlayer\[parquet\]"') as info:
        parquet.open_parquet(tmp_path / "t.parquet")
    assert isinstance(info.value, (DatasetError, ImportError))
