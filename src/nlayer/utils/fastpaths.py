"""NumPy idioms that give the same result as the obvious call, faster.

- ``zeros``/``ones``: read-only arrays made once per shape and shared. NumPy's
  two-array loops are vectorised where its array-and-scalar loops are not
  (``max(Z, zeros)`` is 3x faster than ``max(Z, 0)`` on float32).
- ``column_sums`` / ``column_means``: ``X.sum(axis=0)`` written as ``1^T X``: one BLAS
  call, 2.5x faster than NumPy's reduction (both add the rows in sequence, so
  the rounding is alike).
- ``zeros_on_huge_pages``: a large array placed in its own 2 MiB-aligned block
  that NumPy asks the kernel to back with transparent huge pages. The optimiser
  sweeps all parameters, gradients and velocities every step; with 4 KiB pages
  those sweeps miss the TLB, and the update measured 15 % slower.
- ``packed_layout``: every trainable array 64-byte aligned in one packed buffer, so
  the optimiser updates all of them in one pass over contiguous memory.
- ``all_finite``: the input check of ``fit``/``predict`` as one BLAS pass (the row
  sums ``X 1``) instead of NumPy's ``min`` and ``max``, two single-threaded passes
  over the whole of X (1.4 -> 0.3 ms for 10,000 MNIST rows).
- ``row_max``: the maximum of each row. ``Z.max(axis=1)`` runs one short loop per
  row (10 classes: 45 ns a row); the transposed copy reduces whole columns at
  once, 3x faster at 128 rows and 9x at 4096.
- ``index_dtype``: row positions in int32 while they fit (half the memory of intp: an
  epoch's order and a split's positions are the per-row arrays of ``fit``);
  ``permutation``: ``rng.permutation(n)``'s values and draws in such positions.
"""

import functools
import math
from typing import Any

import numpy as np

_HUGE_PAGE = 2 << 20      # bytes in an x86-64 / arm64 transparent huge page
_NUMPY_MADVISE = 4 << 20  # NumPy asks for huge pages on allocations of at least this size


_ZEROS: dict[np.dtype[Any], np.ndarray[Any, Any]] = {}  # dtype -> one flat read-only array of zeros, as large as the largest asked for


@functools.lru_cache(maxsize=64)  # asked once per ReLU layer per batch: 0.5 -> 0.1 us
def zeros(shape, dtype):
    """Zeros of ``shape`` (a tuple) and ``dtype``, not writeable.

    Views of one shared array per dtype, so the memory kept is one array of the
    largest shape seen, however many shapes are asked for.
    """
    size = math.prod(shape)
    flat = _ZEROS.get(dtype)
    if flat is None or flat.size < size:
        zeros.cache_clear()  # the cached views would keep the smaller arrays alive
        flat = _ZEROS[dtype] = _frozen(np.zeros(size, dtype=dtype))
    return flat[:size].reshape(shape)


@functools.lru_cache(maxsize=32)
def ones(shape, dtype):
    """Ones of ``shape`` (int or tuple) and ``dtype``, not writeable."""
    return _frozen(np.ones(shape, dtype=dtype))


def _frozen(a):
    a.flags.writeable = False
    return a


def index_dtype(n: int) -> type[np.integer[Any]]:
    """The integer type of positions below n: int32 when it holds them, else intp."""
    return np.int32 if n <= np.iinfo(np.int32).max else np.intp


def permutation(rng: np.random.Generator, n: int) -> np.ndarray[Any, Any]:
    """``rng.permutation(n)``: the same values from the same draws, in :func:`index_dtype`."""
    order = np.arange(n, dtype=index_dtype(n))
    rng.shuffle(order)
    return order


def row_max(Z):
    """``Z.max(axis=1)`` for a 2-D array (exact: a maximum does not depend on order)."""
    return np.ascontiguousarray(Z.T).max(axis=0)


def all_finite(X):
    """True when every entry of the 2-D float array X is finite (no NaN, no infinity).

    A NaN or an infinity makes its row's sum NaN or infinite; finite entries can also
    add up to an infinite sum, so a non-finite sum is confirmed entry by entry.
    """
    with np.errstate(over="ignore", invalid="ignore"):  # the answer, not a warning
        sums = np.matmul(X, ones(X.shape[1], X.dtype))
    return bool(np.isfinite(sums).all() or np.isfinite(X).all())


def column_sums(X, out=None):
    """``X.sum(axis=0)`` for a 2-D array, as the product ``1^T X``."""
    return np.matmul(ones(X.shape[0], X.dtype), X, out=out)


def column_means(X):
    """``X.mean(axis=0)`` for a 2-D array, as ``(1/m) 1^T X``."""
    means = column_sums(X)
    means *= X.dtype.type(1.0 / X.shape[0])
    return means


def zeros_on_huge_pages(n, dtype):
    """A 1-D array of n zeros; from 512 KiB up, 2 MiB-aligned in a block NumPy madvises.

    Where transparent huge pages are off, this is an ordinary array with some
    unused (never touched, so never resident) address space after it.
    """
    dtype = np.dtype(dtype)
    nbytes = n * dtype.itemsize
    if nbytes < _HUGE_PAGE // 4:
        return np.zeros(n, dtype=dtype)
    size = max(_NUMPY_MADVISE, -(-nbytes // _HUGE_PAGE) * _HUGE_PAGE + _HUGE_PAGE)
    block = np.zeros(size, dtype=np.uint8)
    start = -block.ctypes.data % _HUGE_PAGE
    return block[start:start + nbytes].view(dtype)


def packed_layout(sizes):
    """Where each trainable array starts in the packed buffer, and the buffer's length.

    Each array starts 64-byte aligned (a multiple of 16 elements), as BLAS likes; the
    optimiser's state arrays have the buffer's length.
    """
    starts, total = [], 0
    for size in sizes:
        total = -(-total // 16) * 16
        starts.append(total)
        total += size
    return starts, total


def pack(layers, dtype):
    """Move every trainable array of ``layers`` into one contiguous buffer, and its gradient
    into another; returns (parameters, gradients).

    Layers keep their ``params``/``grads`` dicts, now views into the two buffers, so the
    math reads the same while the optimiser updates all parameters in a handful of NumPy
    calls instead of a handful per array.
    """
    entries = [(layer, key) for layer in layers for key in layer.trainable_names]
    starts, total = packed_layout([layer.params[key].size for layer, key in entries])
    # gaps stay 0 forever; huge pages make the optimiser's sweeps cheaper
    flat_params = zeros_on_huge_pages(total, dtype)
    flat_grads = zeros_on_huge_pages(total, dtype)
    for (layer, key), start in zip(entries, starts):
        shape, size = layer.params[key].shape, layer.params[key].size
        view = flat_params[start:start + size].reshape(shape)
        view[...] = layer.params[key]
        layer.params[key] = view
        layer.grads[key] = flat_grads[start:start + size].reshape(shape)
    return flat_params, flat_grads
