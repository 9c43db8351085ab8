"""The rows a pass reads, gathered a batch at a time: never a copy of the whole of X.

``fit``, ``predict`` and ``evaluate`` take X as a NumPy array or as any array-like with
``shape``, ``dtype`` and row indexing: a memory map (``np.load(path, mmap_mode="r")``),
an h5py or zarr array. A :class:`Rows` stands for some rows of such an X (all of them,
or the training rows given by their indices, an array or a
:class:`~nlayer.training.order.RowsBut`) and hands out blocks of them in the
model's dtype, normalised as they are gathered::

    A^[0] = (X[rows] - shift) * (1 / scale)

So the extra memory of a pass is a few batches, whatever the size of X, and the same
data in memory or memory-mapped gives the same bits: every route computes each entry
with the same two operations. Rows of an array, in memory or a memory map of the
model's dtype, are taken as asked; of another array-like (h5py, zarr, a map of another
dtype) read in ascending order (chunks once each, in file order) and put back in the
batch's order in memory.
"""

from typing import Any, Protocol

import numpy as np

from ..utils import checks

__all__ = ["Rows", "BLOCK_BYTES"]

#: How much of X one block of :meth:`Rows.blocks` holds (checks and normaliser fits).
BLOCK_BYTES = 1 << 22


class Rows:
    """Rows ``index`` (all when None) of the 2-D array-like X, as arrays of ``dtype``.

    ``normalizer``: applied to what :meth:`gather` returns, once it is fitted.
    """

    def __init__(self, X, dtype, normalizer=None, index=None, what="X"):
        self.source, self.dtype, self.normalizer = X, np.dtype(dtype), normalizer
        self.index, self.what = index, what
        self.n_features = X.shape[1]
        self.row_bytes = self.n_features * np.dtype(X.dtype).itemsize  # in X, as read
        self.shape = (X.shape[0] if index is None else len(index), self.n_features)
        # an array (in memory or a memory map) is read as it is asked; anything else in
        # ascending rows. A map's batch in ascending rows cost 0.12x of a page-cached
        # epoch (0.88x the array's speed; taken as asked: 0.98x), and its pages are
        # faulted in alike either way
        self._direct = isinstance(X, np.ndarray) and X.dtype == self.dtype

    def __len__(self):
        return self.shape[0]

    def __getitem__(self, positions):
        """The normalised rows at ``positions`` (a new array): what a batch would hold."""
        return self.gather(positions)

    def gather(self, positions, out=None, transform=None):
        """Rows at ``positions`` (a slice or an array of positions), converted and
        normalised, in ``out`` (a buffer with at least as many rows) or a new array.
        ``transform(block)``: changes the raw rows in place before they are normalised
        (fit's augmentation); the block is then nlayer's own, never a view of X."""
        block = self.raw(positions, out)
        if transform is None:
            return self.normalized(block, owned=out is not None)
        if out is None and block.base is not None:
            block = block.copy()
        return self.normalized(transform(block), owned=True)

    def batches(self, size):
        """(first position, rows) over all the rows in order, ``size`` at a time: checked as
        :meth:`check` does, then normalised (``predict`` and ``evaluate``)."""
        for start, block in self.blocks(size, checked=True):
            yield start, self.normalized(block)

    def normalized(self, block, owned=False):
        """``(block - shift) * (1 / scale)``: in place when the block is nlayer's own, in
        a new array when it may be a view of the caller's X."""
        norm = self.normalizer
        if norm is None or not norm.fitted:
            return block
        shift, inv_scale = norm.factors(self.dtype)
        block = np.subtract(block, shift, out=block if owned or block.base is None else None)
        block *= inv_scale
        return block

    def raw(self, positions, out=None):
        """Rows at ``positions`` in the model's dtype, not normalised (``out`` as in
        :meth:`gather`). A slice of an array of that dtype comes back as a view."""
        if isinstance(positions, slice):
            start, stop, _ = positions.indices(len(self))
            if self.index is None:
                block = self.source[start:stop]
                if self._direct and out is None:
                    return block
                return _into(np.asarray(block), out, self.dtype)
            positions = np.arange(start, stop)
        rows = positions if self.index is None else self.index.take(positions)
        m = rows.size
        if self._direct:
            target = np.empty((m, self.n_features), self.dtype) if out is None else out[:m]
            return self.source.take(rows, axis=0, out=target, mode="clip")
        if m < 2 or np.all(rows[1:] > rows[:-1]):  # ascending already (the dev rows): one copy
            return _into(np.asarray(self.source[rows]), out, self.dtype)
        order = np.argsort(rows, kind="stable")
        block = np.asarray(self.source[rows[order]])  # ascending: each page read once
        target = np.empty((m, self.n_features), self.dtype) if out is None else out[:m]
        target[order] = block
        return target

    def blocks(self, rows_per_block=None, checked=False):
        """(first position, block) over all the rows in order, in the model's dtype.
        ``checked``: each block finite and within the dtype's range, or the error naming
        the row (counted in X); a normaliser's fit reads rows :meth:`check` has seen."""
        size = rows_per_block or max(1, BLOCK_BYTES // (self.n_features * 8))
        for start in range(0, len(self), size):
            stop = min(len(self), start + size)
            rows = range(start, stop) if self.index is None else self.index[start:stop]
            # the index is ascending (the development split keeps the rows' order)
            original = np.asarray(self.source[start:stop] if self.index is None
                                  else self.source[rows])
            yield start, (checks.finite_block(original, self.dtype, self.what, rows) if checked
                          else original.astype(self.dtype, copy=False))

    def check(self):
        """Read every row once: the error ``blocks(checked=True)`` names, before training."""
        for _ in self.blocks(checked=True):
            pass


def _into(block, out, dtype):
    """``block`` as ``dtype``: in ``out`` when given, else a copy only if the type differs."""
    if out is None:
        return block.astype(dtype, copy=False)
    target = out[:block.shape[0]]
    with np.errstate(over="ignore", invalid="ignore"):  # range checks name these values
        np.copyto(target, block, casting="unsafe")
    return target


class RowSource(Protocol):
    """What ``fit``, ``predict`` and ``evaluate`` need of an X that is not a NumPy array:
    a ``shape`` (rows, features), a ``dtype`` and row indexing (``X[i:j]``, ``X[[i, k]]``),
    as a memory map, an h5py or a zarr array has. For type checkers only: X is read
    through :class:`Rows`, which asks nothing else of it."""

    @property
    def shape(self) -> tuple[int, ...]: ...

    @property
    def dtype(self) -> np.dtype[Any]: ...

    def __getitem__(self, key: Any, /) -> Any: ...
