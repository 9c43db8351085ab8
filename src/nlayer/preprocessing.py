"""Input normalisation and the development-set split.

Normalisers are fit on training rows only and then applied unchanged to the
development set, the test set and at prediction time, so no information about
held-out rows leaks into training. Their state is plain arrays, saved with the model.
"""

import math
from collections.abc import Callable, Iterator
from typing import Any, Protocol, Self, cast

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from .utils import fastpaths

__all__ = ["Standardizer", "MinMaxScaler", "GlobalStandardizer", "get_normalizer", "train_dev_split", "one_hot",
           "NORMALIZERS"]

#: a function giving (first row, block of rows) over all the rows X, block by block
_Blocks = Callable[[], Iterator[tuple[int, NDArray[Any]]]]


class _RowBlocks(Protocol):
    """Rows that hand out their blocks themselves (:class:`nlayer.training.rows.Rows`)."""

    def blocks(self) -> Iterator[tuple[int, NDArray[Any]]]: ...

    def __len__(self) -> int: ...


class _Normalizer:
    """``fit(X)`` learns per-feature statistics; ``transform(X)`` returns a new array."""

    name = "normalizer"

    def __init__(self) -> None:
        self.shift: NDArray[np.float64] | None = None
        self.scale: NDArray[np.float64] | None = None
        self._factors: dict[np.dtype[Any], tuple[NDArray[Any], NDArray[Any]]] = {}  # factors()

    @property
    def fitted(self) -> bool:
        return self.shift is not None

    def _fitted_statistics(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """(shift, scale), or the error saying that ``fit`` comes first."""
        if self.shift is None or self.scale is None:
            raise RuntimeError(f"{type(self).__name__} is not fitted; call fit(X_train) first")
        return self.shift, self.scale

    def _statistics(self, blocks: "_Blocks", w: NDArray[np.float64] | None,
                    rows: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        raise NotImplementedError  # each normaliser's own

    def fit(self, X: ArrayLike | _RowBlocks, sample_weight: ArrayLike | None = None) -> Self:
        """Statistics of the rows of X; a row of weight w counts w times (0: not at all).

        X is a 2-D array, or the rows ``fit`` reads block by block (``training.rows``):
        the statistics are accumulated over blocks of rows in float64, so X is never
        copied whole."""
        blocks, rows = _blocks(X)
        if rows == 0:
            raise ValueError("cannot fit a normaliser on 0 rows")
        w = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        if w is not None and not w.sum() > 0:  # else no statistics (None, or 0 / 0)
            raise ValueError("cannot fit a normaliser on rows whose weights are all zero")
        self.shift, self.scale = self._statistics(blocks, w, rows)
        self._factors.clear()  # of the former statistics
        return self

    def factors(self, dtype: DTypeLike) -> tuple[NDArray[Any], NDArray[Any]]:
        """(shift, 1 / scale) in ``dtype``: ``x' = (x - shift) * (1 / scale)``."""
        key = np.dtype(dtype)
        if key not in self._factors:
            shift, scale = self._fitted_statistics()
            self._factors[key] = (shift.astype(key), (1.0 / scale).astype(key))
        return self._factors[key]

    def transform(self, X: ArrayLike) -> NDArray[Any]:
        """Return ``(X - shift) * (1 / scale)`` in X's dtype (a new array)."""
        fitted_shift, _ = self._fitted_statistics()
        X = _check_2d(X)
        if X.shape[1] != fitted_shift.shape[0]:
            raise ValueError(
                f"X has {X.shape[1]} features but the normaliser was fit on {fitted_shift.shape[0]}"
            )
        shift, inv_scale = self.factors(X.dtype if X.dtype.kind == "f" else np.float64)
        out = np.subtract(X, shift, dtype=shift.dtype)
        out *= inv_scale
        return out

    def fit_transform(self, X: ArrayLike) -> NDArray[Any]:
        return self.fit(X).transform(X)

    def inverse_transform(self, X: ArrayLike) -> NDArray[Any]:
        shift, scale = self._fitted_statistics()
        X = np.asarray(X, dtype=float) if np.asarray(X).dtype.kind != "f" else np.asarray(X)
        return X * scale.astype(X.dtype) + shift.astype(X.dtype)

    def get_state(self) -> dict[str, Any]:
        return {"name": self.name, "shift": self.shift, "scale": self.scale}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> "_Normalizer":
        norm = NORMALIZERS[state["name"]]()
        norm.shift = np.asarray(state["shift"], dtype=np.float64)
        norm.scale = np.asarray(state["scale"], dtype=np.float64)
        return norm

    def __repr__(self) -> str:
        return f"{type(self).__name__}(fitted={self.fitted})"


class Standardizer(_Normalizer):
    """x' = (x - mean) / std per feature; a constant feature (std 0) gets scale 1, so x' = 0.

    Examples
    --------
    >>> import numpy as np, nlayer as nl
    >>> X = np.array([[1.0, 5.0], [3.0, 5.0]])
    >>> nl.Standardizer().fit(X).transform(X)
    array([[-1.,  0.],
           [ 1.,  0.]])
    """

    name = "standard"

    def _statistics(self, blocks: _Blocks, w: NDArray[np.float64] | None,
                    rows: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        total = rows if w is None else w.sum()
        mean = _weighted_sum(blocks, w, lambda B: B) / total
        var = _weighted_sum(blocks, w, lambda B: np.square(B - mean)) / total
        std = np.sqrt(var)
        std[std < 1e-12] = 1.0
        return mean, std


class MinMaxScaler(_Normalizer):
    """x' = (x - min) / (max - min) per feature, into [0, 1]; a constant feature maps to 0.

    Examples
    --------
    >>> import numpy as np, nlayer as nl
    >>> nl.MinMaxScaler().fit(np.array([[0.0, 7.0], [4.0, 7.0]])).transform([[1.0, 7.0]])
    array([[0.25, 0.  ]])
    """

    name = "minmax"

    def _statistics(self, blocks: _Blocks, w: NDArray[np.float64] | None,
                    rows: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        lo: NDArray[Any] | None = None
        hi: NDArray[Any] | None = None
        for start, B in blocks():
            if w is not None:  # the rows that count, however often
                B = B[w[start:start + len(B)] > 0]
            if len(B):
                b_lo, b_hi = B.min(axis=0), B.max(axis=0)
                lo = b_lo if lo is None else np.minimum(lo, b_lo)
                hi = b_hi if hi is None else np.maximum(hi, b_hi)
        # some row counts (fit checks the weights), so lo and hi are arrays here
        lo = cast(NDArray[Any], lo).astype(np.float64)
        span = cast(NDArray[Any], hi).astype(np.float64) - lo
        span[span < 1e-12] = 1.0
        return lo, span


class GlobalStandardizer(_Normalizer):
    """x' = (x - mean) / std with one mean and one std over every feature (all pixels), as
    images are normalised: a pixel keeps its meaning wherever augmentation moves it
    (per-pixel statistics would blow up a pixel of the near-empty border that a shift
    fills). The statistics are stored per feature, all equal.

    Examples
    --------
    >>> import numpy as np, nlayer as nl
    >>> X = np.array([[1.0, 3.0], [3.0, 5.0]])  # mean 3, std sqrt(2) over the four values
    >>> nl.preprocessing.GlobalStandardizer().fit(X).transform(X) * np.sqrt(2)
    array([[-2.,  0.],
           [ 0.,  2.]])
    """

    name = "global"

    def _statistics(self, blocks: _Blocks, w: NDArray[np.float64] | None,
                    rows: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        total = rows if w is None else w.sum()
        sums = _weighted_sum(blocks, w, lambda B: B)
        features = len(sums)
        mean = sums.sum() / (total * features)
        var = _weighted_sum(blocks, w, lambda B: np.square(B - mean)).sum() / (total * features)
        std = float(np.sqrt(var)) if var >= 1e-24 else 1.0
        return np.full(features, mean), np.full(features, std)


def _weighted_sum(blocks: _Blocks, w: NDArray[np.float64] | None,
                  f: Callable[[NDArray[Any]], NDArray[Any]]) -> Any:
    """Sum over all rows of f(rows) in float64 (weighted by w when given), block by block."""
    total = 0.0
    for start, B in blocks():
        values = f(B)
        total = total + (values.sum(axis=0, dtype=np.float64) if w is None
                         else w[start:start + len(B)] @ values)
    return total


def _blocks(X: ArrayLike | _RowBlocks, rows_per_block: int = 4096) -> tuple[_Blocks, int]:
    """(a function giving (first row, block) over X's rows, X's row count): X's own
    ``blocks`` or slices."""
    if hasattr(X, "blocks") and callable(X.blocks):
        return X.blocks, len(cast(_RowBlocks, X))
    A = _check_2d(cast(ArrayLike, X))  # not rows with blocks of their own: an array-like
    return (lambda: ((s, A[s:s + rows_per_block]) for s in range(0, A.shape[0], rows_per_block)),
            A.shape[0])


NORMALIZERS = {"standard": Standardizer, "minmax": MinMaxScaler, "global": GlobalStandardizer}


def get_normalizer(spec: "str | _Normalizer | None") -> "_Normalizer | None":
    """None, ``"standard"``, ``"minmax"`` or a normaliser instance."""
    if spec is None or isinstance(spec, _Normalizer):
        return spec
    if isinstance(spec, str) and spec.lower() in NORMALIZERS:
        return NORMALIZERS[spec.lower()]()
    valid = ", ".join(list(NORMALIZERS) + ["None"])
    raise ValueError(f"unknown normalize {spec!r}; valid values: {valid}")


def train_dev_split(n_rows: int, dev_fraction: float, rng: np.random.Generator,
                    strata: ArrayLike | None = None, name: str = "validation_split",
                    ) -> tuple[NDArray[np.signedinteger[Any]], NDArray[np.signedinteger[Any]]]:
    """Split the row indices 0..n_rows-1 at random into (train, dev), each in ascending order
    (int32 when n_rows fits in it). ``fit`` keeps the dev part only (:func:`dev_rows`).

    The development part gets ``ceil(dev_fraction * n_rows)`` rows, as Keras's
    ``validation_split`` and scikit-learn's ``train_test_split`` count them. With
    ``strata`` (one class id per row) every class first gives the whole part of
    its proportional share; the rows still missing come from the classes with the
    largest remainders (ties at random). So each class's share of either part is
    within one row of its share of the data, and no class gives all its rows.
    ``name`` is the caller's name for the fraction, used in error messages.
    """
    dev = dev_rows(n_rows, dev_fraction, rng, strata, name)
    train = np.ones(n_rows, dtype=bool)
    train[dev] = False
    return _positions(n_rows, n_rows - dev.size, lambda a, b: train[a:b]), dev


def dev_rows(n_rows: int, dev_fraction: float, rng: np.random.Generator,
             strata: ArrayLike | None = None, name: str = "validation_split",
             ) -> NDArray[np.signedinteger[Any]]:
    """The development part of :func:`train_dev_split` (the same draws), ascending."""
    if not 0.0 < dev_fraction < 1.0:
        raise ValueError(f"{name} must be in (0, 1), got {dev_fraction}")
    n_dev = math.ceil(round(dev_fraction * n_rows, 9))  # round: 0.1 * 30 is 3.0000000000000004
    if strata is None:
        dev = fastpaths.permutation(rng, n_rows)[:n_dev]
    else:
        dev = _stratified_rows(np.asarray(strata), n_dev, rng)
    if dev.size == 0 and strata is not None and n_rows > 1:
        k = np.unique(np.asarray(strata), axis=0).shape[0]
        raise ValueError(
            f"{name}={dev_fraction} of {n_rows} rows, split by class, sets no row aside: each "
            f"of the {k} classes keeps its rows for training, and most classes have a single "
            "row; a target with about as many classes as rows is a regression target")
    if dev.size == 0 or dev.size == n_rows:
        raise ValueError(
            f"{name}={dev_fraction} of {n_rows} rows leaves an empty training or "
            "development set; use more data or another fraction"
        )
    return np.sort(dev.astype(fastpaths.index_dtype(n_rows), copy=False))  # a copy: no view


def _positions(n: int, count: int, holds: Callable[[int, int], NDArray[np.bool_]],
               ) -> NDArray[np.signedinteger[Any]]:
    """The ``count`` positions below n where ``holds(a, b)`` (a mask of rows a..b-1) is
    True, found a chunk at a time into one array of 4-byte ints while they fit: no mask or
    8-byte positions of all n rows at once."""
    out = np.empty(count, fastpaths.index_dtype(n))
    done, chunk = 0, 1 << 18
    for a in range(0, n, chunk):
        part = np.flatnonzero(holds(a, min(n, a + chunk)))
        np.add(part, a, out=out[done:done + part.size], casting="unsafe")
        done += part.size
    return out


def _stratified_rows(strata: NDArray[Any], n_pick: int,
                     rng: np.random.Generator) -> NDArray[np.signedinteger[Any]]:
    """About n_pick row indices, each class in proportion.

    Fewer than n_pick only where a class would otherwise give all its rows.
    """
    classes, counts = _class_counts(strata)
    share = counts * (n_pick / strata.size)
    take = np.floor(share).astype(np.int64)
    order = np.lexsort((rng.random(counts.size), -(share - take)))  # largest remainder first
    short = n_pick - int(take.sum())
    for c in order:
        if short <= 0:
            break
        take[c] += 1
        short -= 1
    take = np.minimum(take, counts - 1)  # every class keeps a training row
    # copies of the first k: a view would keep each class's whole permutation alive
    picks = [rng.permutation(_positions(strata.size, count, _class_mask(strata, c)))[:k].copy()
             for c, k, count in zip(classes, take, counts)]
    return np.concatenate(picks)


def _class_mask(strata: NDArray[Any], c: Any) -> Callable[[int, int], NDArray[np.bool_]]:
    """Which of rows a..b-1 hold class c, as :func:`_positions` asks."""
    return lambda a, b: np.asarray(strata[a:b] == c)


def _class_counts(strata: NDArray[Any]) -> tuple[NDArray[Any], NDArray[np.intp]]:
    """The classes present, in ascending order, and their row counts. Small non-negative
    integer ids are counted without sorting a copy of the rows (np.unique would)."""
    if strata.dtype.kind in "iu" and strata.size and 0 <= strata.min() and \
            strata.max() < (1 << 16):
        k, chunk = int(strata.max()) + 1, 1 << 18  # bincount counts in intp: chunked
        counts = np.zeros(k, np.intp)
        for a in range(0, strata.size, chunk):
            counts += np.bincount(strata[a:a + chunk], minlength=k)
        present = np.flatnonzero(counts)
        return present, counts[present]
    return np.unique(strata, return_counts=True)


def one_hot(ids: ArrayLike, n_classes: int | None = None,
            dtype: DTypeLike = np.float32) -> NDArray[Any]:
    """Rows of zeros with a 1 at each class id."""
    ids = np.asarray(ids, dtype=np.int64)
    k = int(ids.max()) + 1 if n_classes is None else n_classes
    Y = np.zeros((ids.size, k), dtype=dtype)
    Y[np.arange(ids.size), ids] = 1
    return Y


def _check_2d(X: ArrayLike) -> NDArray[Any]:
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (samples, features), got shape {X.shape}")
    return X
