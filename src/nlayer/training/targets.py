"""A model's targets: labels y as the loss's Y, the output width, and row weights.

``Y = prepare(model, y)`` is what the loss compares the output A^[L] with (one-hot
rows for softmax, one column per output for regression), checked against the
width of the output layer; an unbuilt model takes that width from y
(:func:`infer_output_units`). Class ids (``strata``) drive the stratified dev
split and ``class_weight``; :func:`row_weights` turns ``sample_weight`` and
``class_weight`` into one weight per row (see :mod:`nlayer.training.sample_weights`).
"""

import numpy as np

from ..losses import CategoricalCrossentropy, _check_one_hot_fits, class_ids
from . import sample_weights
from .rows import Rows

__all__ = ["check_rows", "prepare", "check_width", "prepare_rows", "OneHotRows", "infer_output_units",
           "strata", "class_weights", "row_weights", "rows"]


def check_rows(y, X):
    """y is given and has one target per row of X."""
    if y is None:
        raise ValueError("y is None; pass the targets, one per row of X")
    n = np.shape(y)[0] if np.ndim(y) else 0
    if n != X.shape[0]:
        raise ValueError(f"X has {X.shape[0]} rows but y has {n}; they must match")


def prepare(model, y, what="y"):
    """The loss's Y for labels y, checked against the width of the model's output."""
    return check_width(model, model.loss.prepare_targets(y, model.n_outputs, model.dtype),
                       what)


def check_width(model, Y, what="y"):
    """Y itself, once its columns are as many as the model's outputs (when known)."""
    width = model.layers[-1].n_out if model.built else model.n_outputs
    if width is not None and Y.shape[1] != width:
        raise ValueError(f"the model's output has {width} units but {what} has {Y.shape[1]} "
                         f"column(s); end the model with Dense({Y.shape[1]}) (or give "
                         f"{what} one column per output)")
    return Y


class OneHotRows:
    """Class ids as the one-hot rows Y of the loss, made a batch at a time: the training
    targets cost the ids, which are the caller's integer labels themselves (no copy; other
    labels: 1 byte a row for up to 256 classes), not k floats a row.

    Gives what :class:`~nlayer.training.rows.Rows` gives of a one-hot array: ``shape``,
    ``dtype``, ``gather(positions, out)`` and indexing, with the same values. ``index``:
    the rows it stands for (positions or a :class:`~nlayer.training.order.RowsBut`), all
    when None."""

    def __init__(self, ids, k, dtype, index=None):
        self.ids, self.k, self.dtype, self.index = ids, k, np.dtype(dtype), index
        self.shape = (len(ids) if index is None else len(index), k)

    def __len__(self):
        return self.shape[0]

    def gather(self, positions, out=None):
        ids = np.asarray(self.ids[positions if self.index is None else self.index[positions]])
        Y = np.zeros((len(ids), self.k), self.dtype) if out is None else out[:len(ids)]
        if out is not None:
            Y.fill(0)
        Y[np.arange(len(ids)), ids] = 1
        return Y

    __getitem__ = gather

    def subset(self, index):
        """The rows ``index`` of these (which stand for all of the ids)."""
        assert self.index is None, "a subset of a subset"
        return OneHotRows(self.ids, self.k, self.dtype, index)


def prepare_rows(model, y):
    """The training targets as rows gathered per batch: :class:`OneHotRows` for class ids of
    a softmax output, else the loss's Y (:func:`prepare`) as it is."""
    labels = np.asarray(y)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if not isinstance(model.loss, CategoricalCrossentropy) or labels.ndim != 1 or \
            not labels.size:
        return prepare(model, y)
    # integer ids are checked and used as they are (class_ids would copy them to int64)
    ids = labels if labels.dtype.kind in "iu" and labels.min() >= 0 else class_ids(labels)
    width = model.layers[-1].n_out if model.built else model.n_outputs
    if width is not None and ids.max() >= width:
        prepare(model, y)  # the error naming the class id and the fix
    if width is None:
        _check_one_hot_fits(ids, model.dtype)  # a huge id: refused before the output layer
    k = width if width is not None else int(ids.max()) + 1
    if ids is not labels:  # converted (floats, negatives refused): kept in the narrowest type
        ids = ids.astype(np.min_scalar_type(k - 1))
    return OneHotRows(ids, k, model.dtype)


def rows(Y, dtype, index=None):
    """Y (an array or OneHotRows) as rows gathered per batch, only those at ``index``."""
    if isinstance(Y, OneHotRows):
        return Y if index is None else Y.subset(index)
    return Rows(Y, dtype, index=index)


def infer_output_units(model, Y):
    """Give an output Dense(None) the width of the targets Y (:func:`prepare_rows` of the
    unbuilt model: class ids count their classes without a one-hot copy), at least two
    classes."""
    dense = model._dense_layers()
    last = dense[-1] if dense else None
    if last is not None and last.units is None:
        if model.loss.fused_activation == "softmax":
            used = np.unique(Y.ids) if isinstance(Y, OneHotRows) else \
                np.flatnonzero(Y.any(axis=0))
            if used.size < 2:
                raise ValueError(f"y holds a single class ({int(used[0])}); a classifier "
                                 "needs at least two classes to tell apart")
        last.units = Y.shape[1]


def strata(model, Y):
    """Each row's class id (classification), or None (regression)."""
    if not model.loss.classification:
        return None
    if isinstance(Y, OneHotRows):
        return Y.ids if Y.index is None else Y.ids[Y.index[:]]
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
