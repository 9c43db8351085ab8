"""Metrics reported during training and evaluation.

Each metric reduces a batch to a few sums (``stats``) so that results over many
batches are exact, not averages of averages; ``result`` turns the summed stats
into the number reported. With row weights w (``sample_weight``) every sum over
rows is weighted, so a weight of 2 counts a row twice.
"""

import numpy as np

__all__ = ["Metric", "get", "NAMES"]


class Metric:
    name = "metric"

    def stats(self, A, Y, weights=None):
        raise NotImplementedError

    def result(self, stats):
        return float(stats[0] / stats[1]) if stats[1] else float("nan")


class CategoricalAccuracy(Metric):
    """Share of rows whose largest output is the true class."""

    name = "accuracy"

    def stats(self, A, Y, weights=None):
        hit = A.argmax(axis=1) == Y.argmax(axis=1)
        if weights is None:
            return np.array([np.count_nonzero(hit), A.shape[0]], dtype=np.float64)
        return np.array([_row_sum(hit, weights), _row_sum(1.0, weights)])


class BinaryAccuracy(Metric):
    """Share of outputs on the right side of 0.5."""

    name = "accuracy"

    def stats(self, A, Y, weights=None):
        hit = (A > 0.5) == (Y > 0.5)
        if weights is None:
            return np.array([np.count_nonzero(hit), A.size], dtype=np.float64)
        return np.array([_row_sum(hit, weights), _row_sum(A.shape[1], weights)])


class MeanSquaredError(Metric):
    name = "mse"

    def stats(self, A, Y, weights=None):
        D = (A - Y).astype(np.float64, copy=False)
        return np.array([_row_sum(D * D, weights), _row_sum(A.shape[1], weights, A.shape[0])])


class MeanAbsoluteError(Metric):
    name = "mae"

    def stats(self, A, Y, weights=None):
        D = np.abs(A - Y).astype(np.float64, copy=False)
        return np.array([_row_sum(D, weights), _row_sum(A.shape[1], weights, A.shape[0])])


class R2(Metric):
    """Coefficient of determination 1 - SS_res / SS_tot (averaged over outputs)."""

    name = "r2"

    def stats(self, A, Y, weights=None):
        Y = Y.astype(np.float64, copy=False)
        w = np.ones(Y.shape[0]) if weights is None else weights.astype(np.float64)
        res = w @ (A - Y) ** 2
        return np.concatenate([res, w @ Y, w @ (Y * Y), [w.sum()]])

    def result(self, stats):
        k = (stats.size - 1) // 3
        res, s, ss, n = stats[:k], stats[k:2 * k], stats[2 * k:3 * k], stats[-1]
        tot = ss - s * s / n
        with np.errstate(divide="ignore", invalid="ignore"):
            r2 = np.where(tot > 0, 1.0 - res / np.where(tot > 0, tot, 1.0), 0.0)
        return float(r2.mean())


def _row_sum(values, weights, rows=None):
    """sum over rows and columns of ``values``, each row counted w_i times (once without weights).

    ``values`` may be a number that every entry of a row has (``rows`` rows of it).
    """
    if np.ndim(values) == 0:
        total = weights.sum(dtype=np.float64) if weights is not None else rows
        return float(values * total)
    values = values.reshape(values.shape[0], -1).sum(axis=1, dtype=np.float64)
    return float(values.sum() if weights is None else values @ weights.astype(np.float64))


_ALIASES = {"acc": "accuracy", "mean_squared_error": "mse", "mean_absolute_error": "mae"}
NAMES = ("accuracy", "mse", "mae", "r2")


def get(name, loss):
    """A metric by name; ``accuracy`` follows the loss (argmax for softmax, 0.5 threshold for sigmoid)."""
    if not isinstance(name, str):
        raise TypeError(f"metrics are given by name, got {type(name).__name__}")
    key = _ALIASES.get(name.lower(), name.lower())
    if key == "accuracy":
        if not loss.classification:
            raise ValueError(f"metric 'accuracy' needs a classification loss, not {loss.name!r}")
        return CategoricalAccuracy() if loss.fused_activation == "softmax" else BinaryAccuracy()
    table = {"mse": MeanSquaredError, "mae": MeanAbsoluteError, "r2": R2}
    if key not in table:
        raise ValueError(f"unknown metric {name!r}; valid names: {', '.join(NAMES)}")
    return table[key]()
