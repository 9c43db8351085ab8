"""Inference: ``predict`` and ``evaluate`` of :class:`~nlayer.model.sequential.Sequential`.

Both read X a chunk of rows at a time (X may be a memory map or any array-like with
``shape``, ``dtype`` and row indexing, see :mod:`nlayer.training.rows`), so their extra
memory is a few chunks whatever the size of X. The methods of the model delegate here.
"""

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..errors import NotFittedError
from ..training import sample_weights, targets, threads
from ..training.rows import Rows, RowSource
from ..utils import checks

__all__ = ["predict", "forward_rows", "evaluate", "Evaluation", "evaluate_arrays", "EVAL_CHUNK"]

EVAL_CHUNK = 4096  # rows per forward pass in predict/evaluate: bounds memory

# ``model`` is a Sequential, typed Any: the model module imports this one, so naming its
# class here would be an import circle (tests/test_package_layout.py)


def predict(model: Any, X: ArrayLike | RowSource, batch_size: int | None = None) -> NDArray[Any]:
    """:meth:`Sequential.predict <nlayer.model.sequential.Sequential.predict>`."""
    rows = model._rows(X)  # read a chunk at a time: X may be a memory map
    if not model.built and model.n_outputs is not None and model.layers:
        model.build((None, rows.shape[1]))
    model._require_built()
    if model.normalizer is not None and not model.normalizer.fitted:
        raise NotFittedError("the input normaliser is not fitted yet; call fit() first")
    chunk = checks.whole(batch_size, "batch_size", optional=True) or EVAL_CHUNK
    with threads.limit(model, min(chunk, rows.shape[0])):
        return forward_rows(model, rows, chunk)


def forward_rows(model: Any, rows: Rows, chunk: int = EVAL_CHUNK) -> NDArray[Any]:
    """``predict``'s outputs for X's Rows, ``chunk`` rows per forward pass, under the
    caller's BLAS thread limit (:func:`nlayer.training.threads.limit`)."""
    out = np.empty((rows.shape[0], model.layers[-1].n_out), dtype=model.dtype)
    for i, block in rows.batches(chunk):
        out[i:i + len(block)] = model.forward(block)  # copy: layers reuse buffers
    return model._unscale_targets(out)


def evaluate(model: Any, X: ArrayLike | RowSource, y: ArrayLike, batch_size: int | None = None,
             sample_weight: ArrayLike | None = None) -> dict[str, float]:
    """:meth:`Sequential.evaluate <nlayer.model.sequential.Sequential.evaluate>`."""
    checks.whole(batch_size, "batch_size", optional=True)
    running = Evaluation(model, batch_size)
    rows = model._rows(X)
    with threads.limit(model, min(batch_size or EVAL_CHUNK, rows.shape[0])):
        running.add(rows, y, sample_weight)
    return running.results()


class Evaluation:
    """``evaluate``'s running sums, given the rows a part at a time: :meth:`add` each part
    (under one BLAS thread limit, as ``evaluate`` runs), then :meth:`results`. Parts of
    ``batch_size`` rows (default :data:`EVAL_CHUNK`; the last may be shorter) give the bits
    ``evaluate`` gives on all the rows at once (``nlayer evaluate`` streams files so)."""

    def __init__(self, model: Any, batch_size: int | None = None) -> None:
        model._require_compiled()
        model._require_built()
        if model.target_scaler is not None and not model.target_scaler.fitted:
            raise NotFittedError("the target scaler is not fitted yet; call fit() first")
        self.model, self.chunk = model, batch_size or EVAL_CHUNK
        self.totals = model._totals(penalised=False)
        self.rows: int = 0
        self.weight: float | None = None  # the sum of the row weights, when there are any

    def add(self, X: ArrayLike | RowSource | Rows, y: ArrayLike,
            sample_weight: ArrayLike | None = None) -> None:
        """Add the rows X with their targets y (and weights)."""
        model = self.model
        rows = X if isinstance(X, Rows) else model._rows(X)
        targets.check_rows(y, rows)
        Y = targets.prepare(model, y)
        W = targets.row_weights(model, Y, sample_weight, None)
        if model.target_scaler is not None:
            Y = model._scale_targets(Y)
        self.add_prepared(rows, Y, W)

    def add_prepared(self, X: Rows, Y: NDArray[Any], W: NDArray[Any] | None = None) -> None:
        """Add X's Rows with prepared (one-hot or scaled) targets."""
        model, chunk = self.model, self.chunk
        for i, block in X.batches(chunk):
            Yc, Wc = Y[i:i + chunk], None if W is None else W[i:i + chunk]
            A = model.forward(block)
            r = None if Wc is None else sample_weights.Batch(Wc).r
            self.totals.add(model.loss.loss(model._output_logits(), A, Yc, r), A, Yc, Wc)
        self.rows += X.shape[0]
        if W is not None:
            self.weight = (self.weight or 0.0) + float(W.sum(dtype=np.float64))

    def results(self, parts: bool = False) -> dict[str, float]:
        """The logs of the rows added; ``parts``: with an L2 penalty, also ``data_loss`` and
        ``l2_penalty`` (fit records them for the development set)."""
        logs: dict[str, float] = self.totals.results()
        penalty = self.model._l2_term(self.rows if self.weight is None else self.weight)
        if parts and self.model.l2:
            logs["data_loss"], logs["l2_penalty"] = logs["loss"], penalty
        logs["loss"] += penalty
        return logs


def evaluate_arrays(model: Any, X: Rows, Y: NDArray[Any], batch_size: int | None = None,
                    W: NDArray[Any] | None = None, parts: bool = False) -> dict[str, float]:
    """``evaluate``'s logs on X's Rows and prepared targets; ``parts``: with an L2 penalty,
    also ``data_loss`` and ``l2_penalty`` (fit records them for the development set)."""
    running = Evaluation(model, batch_size)
    running.add_prepared(X, Y, W)
    return running.results(parts)
