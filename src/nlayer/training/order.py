"""Which rows of X an epoch trains on, and in what order, in as little memory as each allows.

- :func:`epoch_order`: the order of an epoch's n training positions. An exact shuffle is
  one array of n positions (4 bytes each while n fits in int32), the one per-row array an
  epoch holds; ``shuffle="blocks"`` is a :class:`BlockOrder`, made a window at a time, so
  its memory does not grow with the data.
- :class:`RowsBut`: the training rows of a development split, every row but the few set
  aside, held as the set-aside rows only: position p is row p + (set-aside rows up to it).
"""

import numpy as np

from ..utils.fastpaths import index_dtype, permutation

__all__ = ["epoch_order", "BlockOrder", "RowsBut", "SHUFFLE_RUN_BYTES", "SHUFFLE_WINDOW_RUNS"]

#: ``shuffle="blocks"``: runs of consecutive rows of about this size are read in random
#: order, and the rows of each window of SHUFFLE_WINDOW_RUNS runs are shuffled together.
SHUFFLE_RUN_BYTES = 1 << 20
SHUFFLE_WINDOW_RUNS = 64


def epoch_order(rng, n, shuffle=True, row_bytes=1):
    """The order of an epoch's n rows: an array, or a :class:`BlockOrder`; both are read
    by slices in ascending order of the slices (``order[i:j]``: a batch's positions).

    ``shuffle=True``: a uniform permutation (every batch reads rows from all over X),
    rng.permutation(n)'s draws and values in 4-byte positions when n allows;
    ``"blocks"``: runs of consecutive rows (about SHUFFLE_RUN_BYTES each) in random order,
    then the rows inside each window of SHUFFLE_WINDOW_RUNS runs shuffled: a batch reads
    from one window (about 64 MiB) in long runs, so a file on a slow disk or larger than
    memory is read nearly sequentially. Each batch then mixes rows of a few dozen runs
    instead of the whole data: keep rows in a random order on disk when they come sorted.
    ``False``: the rows in order. ``rng`` is None when not shuffling."""
    if rng is None or not shuffle:
        return np.arange(n, dtype=index_dtype(n))
    if shuffle == "blocks":
        return BlockOrder(rng, n, max(1, SHUFFLE_RUN_BYTES // max(1, row_bytes)))
    return permutation(rng, n)


class BlockOrder:
    """``shuffle="blocks"``'s order of n rows, a window of runs at a time.

    The runs' starts are drawn at once (one number per run of ``run`` rows); each window's
    rows are listed and shuffled when a slice first reaches it, windows in order, so the
    draws are those of listing the whole order and shuffling every window in turn. Holds
    one window's positions (about SHUFFLE_RUN_BYTES x SHUFFLE_WINDOW_RUNS of X), whatever n.
    Slices must come in ascending order (an epoch's batches; a resumed epoch may start at
    any one: the windows before it are drawn and dropped)."""

    def __init__(self, rng, n, run):
        self.rng, self.n, self.run = rng, n, run
        self.dtype = index_dtype(n + run)
        self.starts = rng.permutation(-(-n // run)).astype(self.dtype) * self.dtype(run)
        lengths = np.minimum(run, n - self.starts)  # the last run may be short, anywhere
        ends = np.cumsum(lengths)[SHUFFLE_WINDOW_RUNS - 1::SHUFFLE_WINDOW_RUNS]
        self.bounds = np.unique(np.concatenate([[0], ends, [n]]))
        self._window, self._rows = -1, None

    def __len__(self):
        return self.n

    def __getitem__(self, key):
        start, stop, step = key.indices(self.n) if isinstance(key, slice) else (None,) * 3
        if step != 1:
            raise TypeError("a BlockOrder is read by slices of consecutive positions")
        pieces = []
        while start < stop:
            w = int(np.searchsorted(self.bounds, start, side="right")) - 1
            first, last = self.bounds[w], min(stop, self.bounds[w + 1])
            pieces.append(self._window_rows(w)[start - first:last - first])
            start = last
        if len(pieces) == 1:
            return pieces[0]
        return np.concatenate(pieces) if pieces else np.empty(0, self.dtype)

    def _window_rows(self, w):
        if w < self._window:
            raise IndexError("a BlockOrder is read forwards (its windows' draws are spent)")
        while self._window < w:  # each window shuffled as its draws come, in order
            self._window += 1
            runs = self.starts[self._window * SHUFFLE_WINDOW_RUNS:
                               (self._window + 1) * SHUFFLE_WINDOW_RUNS]
            rows = (runs[:, None] + np.arange(self.run, dtype=self.dtype)).ravel()
            rows = rows[rows < self.n]
            self.rng.shuffle(rows)
            self._rows = rows
        return self._rows


class RowsBut:
    """The ascending rows 0..n-1 but the sorted ``removed`` ones (a development split's
    training rows), held as the removed rows only: position p is row p + the number of
    removed rows at or before it, found by a binary search per batch (about 5 us for 128
    positions), instead of an array of every training row's number."""

    def __init__(self, n, removed):
        removed = np.asarray(removed)
        self.removed, self.n = removed, n - removed.size
        # removed[i] - i: the positions after which the i-th removed row is skipped
        self._skips = removed - np.arange(removed.size, dtype=removed.dtype)
        self.dtype = index_dtype(n)

    def __len__(self):
        return self.n

    def take(self, positions):
        """The rows at ``positions`` (an array of positions below len(self))."""
        positions = np.asarray(positions)
        return positions + np.searchsorted(self._skips, positions, side="right").astype(
            self.dtype)

    def __getitem__(self, key):
        if isinstance(key, slice):
            start, stop, step = key.indices(self.n)
            key = np.arange(start, stop, step, dtype=self.dtype)
        return self.take(key)

    def of(self, values):
        """The entries of ``values`` (one per row of all n) at these rows: a copy."""
        return np.delete(values, self.removed, axis=0)
