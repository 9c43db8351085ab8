"""``.npy`` files opened as memory maps (header checked first) and row subsets of them."""

import os
import pickle

import numpy as np
import pytest

from nlayer.datasets import DatasetError, DatasetNotFoundError
from nlayer.datasets.npyfile import npy_header, open_npy
from nlayer.datasets.rowsubset import RowSubset


@pytest.fixture
def table(tmp_path):
    X = np.arange(600, dtype=np.float32).reshape(100, 6)
    path = tmp_path / "X.npy"
    np.save(path, X)
    return path, X


def test_open_npy_maps_without_reading(table):
    path, X = table
    mapped = open_npy(path, "X", features=True)
    assert isinstance(mapped, np.memmap) and not mapped.flags.writeable
    assert np.array_equal(mapped, X)
    shape, dtype, fortran, offset = npy_header(path)
    assert shape == (100, 6) and dtype == np.float32 and not fortran and offset % 64 == 0


def test_a_truncated_file_is_named_with_the_sizes(table):
    path, _ = table
    size = path.stat().st_size
    os.truncate(path, size - 100)
    with pytest.raises(DatasetError, match=r"X\.npy: the file is truncated: .* shape \(100, 6\)"
                       r".* copy or save it again"):
        open_npy(path, "X", features=True)


@pytest.mark.parametrize("array, words", [
    (np.zeros(10, np.float32), "must be 2-D (rows, features); got shape (10,) (one feature"),
    (np.zeros((2, 3, 4)), "flatten images"),
    (np.array([["a", "b"]]), "must hold numbers"),
    (np.zeros((0, 3)), "is empty"),
])
def test_what_features_cannot_be(tmp_path, array, words):
    path = tmp_path / "bad.npy"
    np.save(path, array)
    with pytest.raises(DatasetError, match=str(path).replace(".", r"\.")) as info:
        open_npy(path, "X", features=True)
    assert words in str(info.value)


def test_pickled_objects_and_other_files_are_refused(tmp_path):
    path = tmp_path / "objects.npy"
    np.save(path, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    with pytest.raises(DatasetError, match="Python objects .* never loaded"):
        open_npy(path)
    text = tmp_path / "text.npy"
    text.write_text("a,b\n1,2\n")
    with pytest.raises(DatasetError, match="not a NumPy .npy file"):
        open_npy(text)
    with pytest.raises(DatasetNotFoundError, match="not found"):
        open_npy(tmp_path / "absent.npy")


def test_row_subset_reads_the_rows_asked_for(table):
    path, X = table
    index = np.array([1, 4, 5, 6, 50, 99])
    subset = RowSubset(open_npy(path), index, str(path))
    assert subset.shape == (6, 6) and len(subset) == 6 and subset.dtype == np.float32
    assert np.array_equal(subset[1:4], X[[4, 5, 6]])  # a run of rows: one slice of the map
    assert np.array_equal(subset[np.array([5, 0, 3])], X[[99, 1, 6]])  # any order back
    assert np.array_equal(subset[-1], X[99]) and np.array_equal(subset[2, 3:], X[5, 3:])
    whole = RowSubset(open_npy(path), None, str(path))
    assert whole.shape == X.shape and np.array_equal(whole[[-1, 0]], X[[99, 0]])
    with pytest.raises(ValueError, match="ascending"):
        RowSubset(X, np.array([3, 1]))
    with pytest.raises(IndexError):
        whole[np.array([100])]
    assert np.array_equal(pickle.loads(pickle.dumps(subset))[:], X[index])


def test_row_subset_names_the_file_row_of_a_nan(tmp_path):
    X = np.ones((50, 3))
    X[37, 2] = np.nan
    path = tmp_path / "nan.npy"
    np.save(path, X)
    subset = RowSubset(open_npy(path), np.arange(30, 50), str(path))
    assert np.array_equal(subset[:5], X[30:35])
    with pytest.raises(DatasetError, match=r"nan\.npy: row 37 \(counted from 0\), column 2 "
                       "holds nan"):
        subset[5:10]


def test_a_file_truncated_under_its_map_is_an_error_not_a_crash(table):
    path, X = table
    subset = RowSubset(open_npy(path), np.arange(100), str(path))
    assert np.array_equal(subset[:10], X[:10])
    os.truncate(path, 200)  # reading the map past this would be SIGBUS
    with pytest.raises(DatasetError, match="truncated while it was read .* do not rewrite"):
        subset[90:100]
