"""A model's targets: labels y as the loss's Y, the output width, and row weights.

``Y = prepare(model, y)`` is what the loss compares the output A^[L] with (one-hot
rows for softmax, one column per output for regression), checked against the
width of the output layer; an unbuilt model takes that width from y
(:func:`infer_output_units`). Class ids (``strata``) drive the stratified dev
split and ``class_weight``; :func:`row_weights` turns ``sample_weight`` and
``class_weight`` into one weight per row (see :mod:`nlayer.training.sample_weights`).
"""

import numpy as np

from . import sample_weights

__all__ = ["check_rows", "prepare", "infer_output_units", "strata", "class_weights",
           "row_weights"]


def check_rows(y, X):
    """y is given and has one target per row of X."""
    if y is None:
        raise ValueError("y is None; pass the targets, one per row of X")
    n = np.shape(y)[0] if np.ndim(y) else 0
    if n != X.shape[0]:
        raise ValueError(f"X has {X.shape[0]} rows but y has {n}; they must match")


def prepare(model, y, what="y"):
    """The loss's Y for labels y, checked against the width of the model's output."""
    Y = model.loss.prepare_targets(y, model.n_outputs, model.dtype)
    width = model.layers[-1].n_out if model.built else model.n_outputs
    if width is not None and Y.shape[1] != width:
        raise ValueError(f"the model's output has {width} units but {what} has {Y.shape[1]} "
                         f"column(s); end the model with Dense({Y.shape[1]}) (or give "
                         f"{what} one column per output)")
    return Y


def infer_output_units(model, y):
    """Give an output Dense(None) the width of the targets (at least two classes)."""
    dense = model._dense_layers()
    last = dense[-1] if dense else None
    if last is not None and last.units is None:
        Y = model.loss.prepare_targets(y, None, model.dtype)
        if model.loss.fused_activation == "softmax":
            used = np.flatnonzero(Y.any(axis=0))
            if used.size < 2:
                raise ValueError(f"y holds a single class ({int(used[0])}); a classifier "
                                 "needs at least two classes to tell apart")
        last.units = Y.shape[1]


def strata(model, Y):
    """Each row's class id (classification), or None (regression)."""
    if not model.loss.classification:
        return None
    return Y.argmax(axis=1) if Y.shape[1] > 1 else Y[:, 0].astype(np.int64)


def class_weights(model, Y, class_weight):
    """``class_weight`` as one weight per class id, or None (see ``sample_weights``)."""
    if class_weight is None:
        return None
    if not model.loss.classification:
        raise ValueError("class_weight is for classification; weight regression rows "
                         "with sample_weight")
    return sample_weights.class_weights(class_weight, strata(model, Y),
                                        Y.shape[1] if Y.shape[1] > 1 else 2)


def row_weights(model, Y, sample_weight, per_class):
    """One weight per row of Y in the model's dtype, or None (every row counts once)."""
    ids = strata(model, Y) if per_class is not None else None
    return sample_weights.row_weights(Y.shape[0], sample_weight, per_class, ids, model.dtype)
