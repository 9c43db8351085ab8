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

__all__ = ["predict", "evaluate", "evaluate_arrays", "EVAL_CHUNK"]

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
    out = np.empty((rows.shape[0], model.layers[-1].n_out), dtype=model.dtype)
    with threads.limit(model, min(chunk, rows.shape[0])):
        for i, block in rows.batches(chunk):
            out[i:i + len(block)] = model.forward(block)  # copy: layers reuse buffers
    return model._unscale_targets(out)


def evaluate(model: Any, X: ArrayLike | RowSource, y: ArrayLike, batch_size: int | None = None,
             sample_weight: ArrayLike | None = None) -> dict[str, float]:
    """:meth:`Sequential.evaluate <nlayer.model.sequential.Sequential.evaluate>`."""
    model._require_compiled()
    model._require_built()
    checks.whole(batch_size, "batch_size", optional=True)
    rows = model._rows(X)
    targets.check_rows(y, rows)
    Y = targets.prepare(model, y)
    W = targets.row_weights(model, Y, sample_weight, None)
    if model.target_scaler is not None:
        if not model.target_scaler.fitted:
            raise NotFittedError("the target scaler is not fitted yet; call fit() first")
        Y = model._scale_targets(Y)
    with threads.limit(model, min(batch_size or EVAL_CHUNK, rows.shape[0])):
        return evaluate_arrays(model, rows, Y, batch_size, W)


def evaluate_arrays(model: Any, X: Rows, Y: NDArray[Any], batch_size: int | None = None,
                    W: NDArray[Any] | None = None, parts: bool = False) -> dict[str, float]:
    """``evaluate``'s logs on X's Rows and prepared targets; ``parts``: with an L2 penalty,
    also ``data_loss`` and ``l2_penalty`` (fit records them for the development set)."""
    chunk = batch_size or EVAL_CHUNK
    totals = model._totals(penalised=False)
    for i, block in X.batches(chunk):
        Yc, Wc = Y[i:i + chunk], None if W is None else W[i:i + chunk]
        A = model.forward(block)
        r = None if Wc is None else sample_weights.Batch(Wc).r
        totals.add(model.loss.loss(model._output_logits(), A, Yc, r), A, Yc, Wc)
    logs: dict[str, float] = totals.results()
    penalty = model._l2_term(X.shape[0] if W is None else float(W.sum(dtype=np.float64)))
    if parts and model.l2:
        logs["data_loss"], logs["l2_penalty"] = logs["loss"], penalty
    logs["loss"] += penalty
    return logs
