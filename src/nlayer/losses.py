"""Losses J(A, Y) = (1/m) sum_i L(a_i, y_i) and their gradients.

Each loss returns the mean over the m rows of a batch, and gradients that
already carry that 1/m, so layers compute ``dW = A_prev^T dZ`` (the article's
``A_prev^T dZ / m`` with the 1/m taken once, here).

Two losses are fused with their natural output activation, which gives the
short and numerically exact gradient ``dZ = (A - Y) / m``:

- categorical cross-entropy with softmax, evaluated as ``-log a_y`` while the
  probability of the true class is a normal float, and otherwise through
  ``log softmax(Z) = Z - logsumexp(Z)``, so no log of 0 is ever taken;
- binary cross-entropy with sigmoid, evaluated as
  ``max(z, 0) - z y + log(1 + e^{-|z|})``.

With any other output activation the loss falls back to ``dA`` and the
activation's own backward pass.

Weighted rows (``sample_weight``, ``class_weight`` in ``fit``): ``weights`` holds
``r_i = m w_i / sum_j w_j`` (mean 1 over the batch), so the loss becomes the
weighted mean ``sum_i w_i L_i / sum_i w_i`` and every gradient row i is scaled by
``r_i``. Without weights nothing changes.
"""

import numpy as np

from .utils import fastpaths, system
from .preprocessing import one_hot

__all__ = ["Loss", "get", "NAMES"]

_EPS = 1e-7  # keeps log() finite when a non-fused output reaches 0 or 1
_TINY = {np.dtype(t): float(np.finfo(t).tiny) for t in ("float32", "float64")}  # smallest normal


class Loss:
    """Base class. ``Y`` is always a 2-D float array of the output layer's shape."""

    name = "loss"
    fused_activation: str | None = None  # name of the output activation the loss fuses with
    classification = False

    def prepare_targets(self, y, n_outputs, dtype):
        """Validate labels and return Y of shape (m, n_outputs) in ``dtype``."""
        raise NotImplementedError

    def loss(self, Z, A, Y, weights=None):
        """Mean loss over the m rows (weighted: see the module); Z is given so fused
        losses can use it."""
        raise NotImplementedError

    def dZ(self, A, Y, scale=1.0, weights=None):
        """Fused gradient dJ/dZ = (A - Y) / (m k) for the paired activation, times ``scale``."""
        dZ = np.subtract(A, Y)
        dZ *= A.dtype.type(scale / self._norm(A))
        return _weigh_rows(dZ, weights)

    def dA(self, A, Y, scale=1.0, weights=None):
        """Gradient dJ/dA of the output, including the 1/m, times ``scale``."""
        raise NotImplementedError

    def _norm(self, A):
        return A.shape[0]

    def get_config(self):
        return {"name": self.name}


class CategoricalCrossentropy(Loss):
    """L = -sum_k y_k log a_k. Labels: class ids 0..k-1 or one-hot rows."""

    name = "categorical_crossentropy"
    fused_activation = "softmax"
    classification = True

    def prepare_targets(self, y, n_outputs, dtype):
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.ndim == 1:
            ids = class_ids(y)
            if n_outputs is not None and ids.size and ids.max() >= n_outputs:
                raise ValueError(
                    f"class id {int(ids.max())} is beyond the output layer's {n_outputs} units; "
                    f"ids must be in 0..{n_outputs - 1} (give the last Dense more units)"
                )
            if n_outputs is None and ids.size:
                _check_one_hot_fits(ids, dtype)
            return one_hot(ids, n_outputs, dtype)
        if y.ndim == 2:
            _check_finite(y, "y")
            if not (np.all((y == 0) | (y == 1)) and np.all(y.sum(axis=1) == 1)):
                raise ValueError(
                    "2-D labels for categorical_crossentropy must be one-hot rows "
                    "(each row all 0 with a single 1); or pass integer class ids as a 1-D array"
                )
            if n_outputs is not None and y.shape[1] != n_outputs:
                raise ValueError(
                    f"one-hot labels have {y.shape[1]} columns but the output layer has "
                    f"{n_outputs} units"
                )
            return y.astype(dtype)
        raise ValueError(f"labels must be 1-D class ids or 2-D one-hot rows, got shape {y.shape}")

    def loss(self, Z, A, Y, weights=None):
        m = A.shape[0]
        if Z is not None:
            # One-hot rows make L = -log a_y. Read a_y off the softmax output when every
            # a_y is a normal float (then it is exact to rounding): cheaper than a second
            # softmax. Otherwise log softmax(Z) = Z - max - log sum exp(Z - max).
            a_y = np.multiply(Y, A) @ fastpaths.ones(A.shape[1], A.dtype)
            if a_y.min() >= _TINY[A.dtype]:
                return -_mean(np.log(a_y), m, weights)
            shifted = Z - fastpaths.row_max(Z)[:, None]
            log_A = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        else:
            log_A = np.log(np.clip(A, _EPS, 1.0))
        return -_mean(Y * log_A, m, weights)

    def dA(self, A, Y, scale=1.0, weights=None):
        dA = -Y / np.clip(A, _EPS, None) * A.dtype.type(scale / A.shape[0])
        return _weigh_rows(dA, weights)


class BinaryCrossentropy(Loss):
    """L = -(1/k) sum_k [y log a + (1 - y) log(1 - a)]. Labels: 0/1, shape (m,) or (m, k)."""

    name = "binary_crossentropy"
    fused_activation = "sigmoid"
    classification = True

    def prepare_targets(self, y, n_outputs, dtype):
        Y = _as_2d(y)
        _check_finite(Y, "y")
        if not np.all((Y == 0) | (Y == 1)):
            raise ValueError("binary_crossentropy labels must be 0 or 1")
        _check_width(Y, n_outputs)
        return Y.astype(dtype)

    def loss(self, Z, A, Y, weights=None):
        if Z is not None:
            # -[y log s(z) + (1-y) log(1-s(z))] = max(z,0) - z y + log(1 + e^-|z|)
            per = np.maximum(Z, 0) - Z * Y + np.log1p(np.exp(-np.abs(Z)))
        else:
            A = np.clip(A, _EPS, 1 - _EPS)
            per = -(Y * np.log(A) + (1 - Y) * np.log(1 - A))
        return _mean(per, A.size, weights)

    def dA(self, A, Y, scale=1.0, weights=None):
        A = np.clip(A, _EPS, 1 - _EPS)
        return _weigh_rows((A - Y) / (A * (1 - A)) * A.dtype.type(scale / A.size), weights)

    def _norm(self, A):
        return A.size


class MeanSquaredError(Loss):
    """L = (1/k) sum_k (a_k - y_k)^2, for (multi-output) regression."""

    name = "mean_squared_error"

    def prepare_targets(self, y, n_outputs, dtype):
        Y = _as_2d(y)
        if Y.dtype.kind == "c":
            raise ValueError(f"regression targets must be real numbers, got {Y.dtype}; pass "
                             "y.real, or np.abs(y), or both parts as two outputs")
        if not np.issubdtype(Y.dtype, np.number) or Y.dtype == np.bool_:
            raise ValueError(f"regression targets must be numbers, got dtype {Y.dtype}")
        _check_finite(Y, "y")
        _check_width(Y, n_outputs)
        return Y.astype(dtype)

    def loss(self, Z, A, Y, weights=None):
        D = A - Y
        return _mean(D * D, A.size, weights)

    def dA(self, A, Y, scale=1.0, weights=None):
        return _weigh_rows((A - Y) * A.dtype.type(2.0 * scale / A.size), weights)


def _mean(per, norm, weights):
    """sum(per) / norm, each row of ``per`` weighted by ``weights`` (r_i) when given."""
    if weights is None:
        return float(np.sum(per, dtype=np.float64) / norm)
    rows = per.reshape(per.shape[0], -1).sum(axis=1, dtype=np.float64)
    return float(rows @ weights.astype(np.float64) / norm)


def _weigh_rows(grad, weights):
    """Row i of the gradient times r_i (in place), when rows are weighted."""
    if weights is not None:
        grad *= weights[:, None]
    return grad


def class_ids(y):
    """Validate a 1-D array of class ids and return it as int64."""
    y = np.asarray(y)
    if y.size == 0:
        return y.astype(np.int64)
    if y.dtype.kind in "iu":
        ids = y.astype(np.int64)
    elif y.dtype.kind == "f":
        _check_finite(y, "y")
        if not np.all(y == np.round(y)):
            raise ValueError(
                "labels for classification must be integer class ids 0..k-1 or one-hot rows; "
                "got non-integer values (for regression use loss='mse' and a linear output)"
            )
        ids = y.astype(np.int64)
    else:
        raise ValueError(
            f"labels must be integer class ids 0..k-1 or one-hot rows, got dtype {y.dtype}; "
            "encode string labels first (e.g. numpy.unique(y, return_inverse=True))"
        )
    if ids.min() < 0:
        raise ValueError(f"class ids must be >= 0, got {int(ids.min())}")
    return ids


def _check_one_hot_fits(ids, dtype):
    """Refuse, before allocating it, a one-hot target too large for memory (huge class ids)."""
    k = int(ids.max()) + 1
    size = ids.size * k * np.dtype(dtype).itemsize
    available = system.available_bytes()
    if available is not None and size > available:
        raise ValueError(
            f"class id {k - 1} would need an output layer of {k:,} units and a one-hot target "
            f"of {system.format_bytes(size)} (only {system.format_bytes(available)} is free); "
            "class ids must be 0..k-1 for k classes: map the labels with "
            "numpy.unique(y, return_inverse=True)")


def _as_2d(y):
    Y = np.asarray(y)
    if Y.ndim == 1:
        Y = Y[:, None]
    if Y.ndim != 2:
        raise ValueError(f"targets must be 1-D or 2-D, got shape {Y.shape}")
    return Y


def _check_width(Y, n_outputs):
    if n_outputs is not None and Y.shape[1] != n_outputs:
        raise ValueError(
            f"targets have {Y.shape[1]} columns but the output layer has {n_outputs} units"
        )


def _check_finite(a, what):
    if np.issubdtype(a.dtype, np.floating) and not np.all(np.isfinite(a)):
        raise ValueError(f"{what} contains NaN or inf; clean or impute those rows first")


_REGISTRY = {
    "categorical_crossentropy": CategoricalCrossentropy,
    "binary_crossentropy": BinaryCrossentropy,
    "mean_squared_error": MeanSquaredError,
}
_ALIASES = {"mse": "mean_squared_error", "crossentropy": "categorical_crossentropy"}
NAMES = tuple(_REGISTRY) + tuple(_ALIASES)


def get(spec):
    """Return a :class:`Loss` from a name or an instance."""
    if isinstance(spec, Loss):
        return spec
    if isinstance(spec, dict):
        spec = spec.get("name")
    if not isinstance(spec, str):
        raise TypeError(f"loss must be a name or Loss, got {type(spec).__name__}")
    name = _ALIASES.get(spec.lower(), spec.lower())
    try:
        return _REGISTRY[name]()
    except KeyError:
        raise ValueError(f"unknown loss {spec!r}; valid names: {', '.join(NAMES)}") from None
