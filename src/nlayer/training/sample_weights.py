"""Row weights: ``sample_weight`` and ``class_weight`` of ``fit`` and ``evaluate``.

A row of weight w counts as w rows: the loss becomes the weighted mean
``J = sum_i w_i L_i / sum_i w_i + lambda/(2 sum_i w_i) sum ||W||^2`` (m, the rows of
the batch, becomes the sum of their weights), its gradient row i is scaled by
``r_i = m w_i / sum_j w_j`` (see ``losses``), and every metric sums rows w_i times.
With integer weights, full batches and no shuffling this is exactly training on
the rows repeated w_i times. scikit-learn's MLP weights the same way; Keras divides
the weighted sum by m and leaves the regulariser alone.
"""

import math

import numpy as np

__all__ = ["class_weights", "row_weights", "Batch", "weighted_l2"]


def class_weights(class_weight, ids, k):
    """One weight per class id 0..k-1 from ``"balanced"`` or ``{class id: weight}``.

    ``"balanced"`` gives class c the weight ``n / (k_present n_c)`` (scikit-learn's),
    so that every class present carries the same total weight.
    """
    if isinstance(class_weight, str):
        if class_weight != "balanced":
            raise ValueError(f"class_weight must be 'balanced', a dict {{class id: weight}} or "
                             f"None, got {class_weight!r}")
        counts = np.bincount(ids, minlength=k).astype(np.float64)
        present = counts > 0
        weights = np.zeros(k)
        weights[present] = len(ids) / (present.sum() * counts[present])
        return weights
    if not isinstance(class_weight, dict):
        raise TypeError(f"class_weight must be 'balanced', a dict {{class id: weight}} or None, "
                        f"got {type(class_weight).__name__}")
    weights = np.ones(k)
    for key, value in class_weight.items():
        if isinstance(key, bool) or not isinstance(key, (int, np.integer)) or not 0 <= key < k:
            raise ValueError(f"class_weight key {key!r} is not a class id in 0..{k - 1}")
        weights[int(key)] = _weight(value, f"class_weight[{key}]")
    return weights


def row_weights(n, sample_weight, class_weights, ids, dtype):
    """w_i = sample_weight_i * class_weights[class of row i] for n rows; None if neither."""
    if sample_weight is None and class_weights is None:
        return None
    w = np.ones(n)
    if sample_weight is not None:
        w = np.asarray(sample_weight)
        numeric = np.issubdtype(w.dtype, np.number) and not np.iscomplexobj(w)
        if not numeric or w.shape != (n,):
            raise ValueError(f"sample_weight must be {n} numbers >= 0, one per row of X; "
                             f"got {w.dtype} of shape {w.shape}")
        w = w.astype(np.float64)
        if not np.isfinite(w).all() or (w < 0).any():
            raise ValueError("sample_weight must be finite and >= 0")
    if class_weights is not None:
        w = w * class_weights[ids]
    if not w.sum() > 0:
        raise ValueError("the row weights are all zero; at least one row must count")
    return w.astype(dtype)


class Batch:
    """A batch's row weights w_i, worked out once: ``total`` = sum w (the m of the L2 term)
    and ``r`` with r_i = m w_i / sum w (mean 1; all 0 when nothing counts)."""

    __slots__ = ("w", "total", "r")

    def __init__(self, w):
        self.w, self.total = w, float(w.sum(dtype=np.float64))
        self.r = w * w.dtype.type(w.shape[0] / self.total) if self.total > 0 else \
            np.zeros_like(w)


def _weight(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


class weighted_l2:
    """Within a weighted batch, the Dense layers' L2 gradient divides by sum w, not m."""

    def __init__(self, dense, total):
        self.dense, self.rows = dense, total

    def __enter__(self):
        for layer in self.dense:
            layer.l2_rows = self.rows

    def __exit__(self, *exc):
        for layer in self.dense:
            layer.l2_rows = None
