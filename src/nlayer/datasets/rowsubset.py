"""Some rows of an array-like, as an array-like: a train or test split of a memory map
without a copy of its rows.

``fit``, ``predict`` and ``evaluate`` take any X with ``shape``, ``dtype`` and row
indexing (:mod:`nlayer.training.rows`); a :class:`RowSubset` is such an X made of the
rows ``index`` of another one (or all of them). It reads only the rows asked for, in
ascending order of the file (the order ``fit`` asks them in), and checks what it reads:

- finite values, else the error naming the row **of the file** (``fit`` would count rows
  of the subset);
- of a memory-mapped file, that the file still holds every byte the map covers: reading a
  page past the end of a file truncated after it was mapped stops the process with
  SIGBUS, so a ``stat`` before each read turns the common case (a file rewritten between
  two reads) into an error saying what happened. A truncation during the read itself
  cannot be caught.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .idx import DatasetError

__all__ = ["RowSubset", "check_finite"]


class RowSubset:
    """The rows ``index`` (ascending, each once; None: every row) of the array-like
    ``source``.

    ``what`` names the source in messages (a file name). Indexing takes an integer, a
    slice or an array of positions, as a NumPy array's first axis does, and returns a
    NumPy array.
    """

    def __init__(self, source: Any, index: NDArray[Any] | None = None, what: str = "X") -> None:
        if index is not None:
            index = np.asarray(index)  # int32 row numbers (a split's) stay 4 bytes a row
            index = index if index.dtype.kind in "iu" else index.astype(np.intp)
            if index.ndim != 1 or (index.size and (index[0] < 0 or index[-1] >= source.shape[0]
                                                   or np.any(np.diff(index) <= 0))):
                raise ValueError("a row subset's index must be ascending row numbers of its "
                                 "source, each once")
        self.source, self.index, self.what = source, index, what
        n = source.shape[0] if index is None else len(index)
        self.shape: tuple[int, ...] = (n, *source.shape[1:])
        self.dtype = np.dtype(source.dtype)
        self.ndim = len(self.shape)
        self._file = _mapped_file(source)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key: Any) -> NDArray[Any]:
        if isinstance(key, tuple):  # rows first, then the rest within them
            rows = self[key[0]]
            return rows[key[1:]] if np.ndim(key[0]) == 0 else rows[(slice(None), *key[1:])]
        if self.index is None:
            n = len(self)
            if isinstance(key, slice):
                rows = np.arange(*key.indices(n))
            else:
                rows = np.asarray(key)
                if np.any((rows < -n) | (rows >= n)):
                    raise IndexError(f"row numbers of {self.what} run from 0 to {n - 1}")
                rows = np.where(rows < 0, rows + n, rows)
        else:
            rows = self.index[key]
        if np.ndim(rows) == 0:
            return self._read(np.asarray([rows]))[0]
        return self._read(np.asarray(rows))

    def _read(self, rows: NDArray[Any]) -> NDArray[Any]:
        if self._file is not None:
            _check_length(*self._file, self.what)
        if rows.size and rows[-1] - rows[0] + 1 == rows.size and np.all(np.diff(rows) == 1):
            block = np.asarray(self.source[int(rows[0]):int(rows[-1]) + 1])  # a run: a slice
        elif rows.size < 2 or np.all(np.diff(rows) > 0):
            block = np.asarray(self.source[rows])
        else:  # read in file order, hand back in the order asked
            order = np.argsort(rows, kind="stable")
            block = np.empty((rows.size, *self.shape[1:]), dtype=self.dtype)
            block[order] = np.asarray(self.source[rows[order]])
        check_finite(block, rows, self.what)
        return block


def _mapped_file(source: Any) -> tuple[str, int, int] | None:
    """(file name, inode, bytes the map needs) of a memory map of a file; None otherwise
    (or when the file is already gone: the map keeps its data)."""
    name = getattr(source, "filename", None)
    if not isinstance(source, np.memmap) or not name:
        return None
    try:
        inode = os.stat(name).st_ino
    except OSError:
        return None
    return name, inode, int(source.offset) + int(source.nbytes)


def _check_length(name: str, inode: int, needed: int, what: str) -> None:
    try:
        st = os.stat(name)
    except OSError:
        return  # deleted: the map still holds the file's data
    if st.st_ino == inode and st.st_size < needed:  # (a replaced file: the map reads the old)
        raise DatasetError(f"{what}: the file was truncated while it was read (it has "
                           f"{st.st_size:,} bytes now, the array needs {needed:,}); do not "
                           "rewrite a file a run reads: save it again and start over")


def check_finite(block: NDArray[Any], rows: NDArray[Any], what: str) -> None:
    """Nothing when the block read from ``what`` is finite, else the error naming the first
    NaN or infinity by its row of the source (``rows[i]`` for the block's row i)."""
    if block.dtype.kind not in "fc" or np.isfinite(block).all():
        return
    bad = tuple(np.argwhere(~np.isfinite(block))[0])
    column = f", column {bad[1]}" if len(bad) > 1 else ""
    raise DatasetError(f"{what}: row {int(rows[bad[0]])} (counted from 0){column} holds "
                       f"{block[bad].item()!r}, not a finite number; drop or impute such rows")
