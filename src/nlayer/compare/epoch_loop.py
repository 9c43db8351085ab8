"""Epoch machinery the peers share: history keys, early stopping, running batch means,
the epoch loop of every peer but nlayer, and the final :class:`PeerResult`.
"""

import math

import numpy as np

from .scoring import scores
from .spec import PeerResult


class _EarlyStop:
    """nlayer's EarlyStopping rule (see ``callbacks.EarlyStopping``) for a peer's epoch loop."""

    def __init__(self, patience, min_delta):
        self.patience, self.min_delta = patience, min_delta
        self.best = self.best_epoch = self.best_state = None
        self.wait = 0

    def update(self, epoch, value, snapshot):
        """Record epoch's val_loss; return True when training should stop."""
        if not math.isnan(value) and (self.best is None or value < self.best - self.min_delta):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            self.best_state = snapshot()
            return False
        self.wait += 1
        return self.wait >= max(self.patience, 1)


def _best_epoch(history):
    """Like ``History.best_epoch``: lowest val_loss (else loss), NaN ignored, earliest on ties."""
    values = history.get("val_loss") or history.get("loss") or []
    finite = [(v, e) for e, v in enumerate(values, 1) if not math.isnan(v)]
    return min(finite)[1] if finite else None


def _finish(run, name, history, weights, P_test, best_epoch):
    secs = history.get("seconds", [])
    test = scores(run.classification, P_test, run.Y_test, run.kernels_of(weights), run.spec.l2)
    result = PeerResult(
        name, True, test_loss=test["loss"], epochs_run=len(history.get("loss", [])),
        best_epoch=best_epoch,
        seconds_per_epoch=float(np.median(secs)) if secs else None,
        total_seconds=float(np.sum(secs)) if secs else None,
        history=history, weights=[np.array(w) for w in weights], weight_names=list(run.names))
    if run.classification:
        result.test_accuracy = test["accuracy"]
    else:
        result.test_mse, result.test_r2 = test["mse"], test["r2"]
    return result


def _history_keys(run):
    keys = ["loss", "accuracy"] if run.classification else ["loss"]
    if run.X_dev is not None:
        keys += [f"val_{k}" for k in keys]
    return keys + ["seconds"]


def _drive(run, name, train_epoch, predict, get_weights, snapshot, restore):
    """The epoch loop of a peer other than nlayer.

    ``train_epoch(order) -> (seconds, {"loss", ["accuracy"]})`` trains one epoch;
    ``predict(X)`` gives probabilities or values in inference mode;
    ``get_weights()`` arrays in Keras order; ``snapshot()`` / ``restore(s)`` the
    peer's full state for early stopping.
    """
    spec = run.spec
    history = {k: [] for k in _history_keys(run)}
    stopper = _EarlyStop(spec.patience, spec.min_delta) if spec.patience is not None else None
    for epoch, order in enumerate(run.orders, 1):
        seconds, logs = train_epoch(order)
        logs = dict(logs)
        if run.X_dev is not None:
            val = scores(run.classification, predict(run.X_dev), run.Y_dev,
                         run.kernels_of(get_weights()), spec.l2)
            logs.update({f"val_{k}": val[k] for k in ("loss", "accuracy") if k in val})
        logs["seconds"] = seconds
        for k in history:
            history[k].append(float(logs[k]))
        run.report(name, epoch, logs)
        if stopper is not None and stopper.update(epoch, logs["val_loss"], snapshot):
            break
    if stopper is not None:
        if stopper.best_state is not None:
            restore(stopper.best_state)
        best = stopper.best_epoch
    else:
        best = _best_epoch(history)
    return _finish(run, name, history, get_weights(), predict(run.X_test), best)


class _Totals:
    """Running means over an epoch's batches, weighted by batch size."""

    def __init__(self):
        self.loss = self.hits = 0.0
        self.rows = 0

    def add(self, J, m, hits=0):
        self.loss += J * m
        self.hits += hits
        self.rows += m

    def logs(self, classification):
        logs = {"loss": self.loss / self.rows if self.rows else float("nan")}
        if classification:
            logs["accuracy"] = self.hits / self.rows if self.rows else float("nan")
        return logs
