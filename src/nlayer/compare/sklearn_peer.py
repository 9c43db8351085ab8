"""The scikit-learn peer: MLPClassifier / MLPRegressor started from nlayer's weights."""

import sys
import time
import warnings

import numpy as np

from .epoch_loop import _drive, _Totals
from .scoring import _crossentropy_from_logits, data_loss, l2_term


_SK_ACT = {"relu": "relu", "tanh": "tanh", "sigmoid": "logistic", "linear": "identity"}


def _run_sklearn(run):
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    spec, B = run.spec, run.batch_size
    k = run.Y_train.shape[1]
    if run.classification:
        # sklearn's gradient is (A - Y)/m + alpha W/m: nlayer's with alpha = lambda.
        lr, alpha, cls = spec.lr, spec.l2, MLPClassifier
        y = run.Y_train.argmax(axis=1)
    else:
        # sklearn descends 0.5*MSE with deltas (A - Y)/m, i.e. k/2 times nlayer's MSE gradient
        # 2(A - Y)/(m k); lr 2 lr/k and alpha lambda k/2 make its steps exactly nlayer's.
        lr, alpha, cls = 2.0 * spec.lr / k, spec.l2 * k / 2.0, MLPRegressor
        y = run.Y_train[:, 0] if k == 1 else run.Y_train
    est = cls(hidden_layer_sizes=spec.hidden, activation=_SK_ACT[spec.activation],
              solver="sgd", alpha=alpha, batch_size=B, learning_rate="constant",
              learning_rate_init=lr, momentum=spec.momentum, nesterovs_momentum=spec.nesterov,
              shuffle=False, max_iter=1, tol=0.0, n_iter_no_change=sys.maxsize,
              random_state=run.seed)
    # Warm-up: one partial_fit on a single row creates every attribute (label binariser,
    # layer count, output activation); then the weights are replaced by nlayer's and the
    # optimiser (with its momentum) is dropped so that training starts from scratch.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "batch_size larger than sample size"
        if run.classification:
            est.partial_fit(run.X_train[:1], y[:1], classes=np.arange(k))
        else:
            est.partial_fit(run.X_train[:1], y[:1])
    n_layers = len(spec.hidden) + 1
    w0 = [np.array(w, dtype=run.X_train.dtype) for w in run.initial]
    est.coefs_ = [w0[2 * i] for i in range(n_layers)]
    est.intercepts_ = [w0[2 * i + 1] for i in range(n_layers)]
    del est._optimizer
    est.loss_curve_, est.n_iter_, est.t_ = [], 0, 0
    est.best_loss_, est._no_improvement_count = np.inf, 0

    # Record each batch's training output (before its update) for the running metrics.
    # _backprop is private; it is wrapped on this instance only.
    totals = None
    backprop = est._backprop

    def recording_backprop(Xb, yb, sample_weight, activations, *rest):
        out = backprop(Xb, yb, sample_weight, activations, *rest)
        A, m = activations[-1], Xb.shape[0]
        if run.classification:
            # cross-entropy from the logits (as nlayer, Keras and PyTorch report it), not
            # from probabilities that may have underflowed; coefs_ are not yet updated here
            Z = activations[-2] @ est.coefs_[-1] + est.intercepts_[-1]
            J = _crossentropy_from_logits(Z, yb)
        else:
            J = data_loss(False, A, yb)
        J += l2_term(spec.l2, est.coefs_, m)
        hits = int(np.count_nonzero(A.argmax(axis=1) == np.asarray(yb).argmax(axis=1))) \
            if run.classification else 0
        totals.add(J, m, hits)
        return out

    est._backprop = recording_backprop

    def train_epoch(order):
        nonlocal totals
        totals = _Totals()
        start = time.perf_counter()
        est.partial_fit(run.X_train[order], y[order])
        seconds = time.perf_counter() - start
        return seconds, totals.logs(run.classification)

    def predict(X):
        if run.classification:
            return est.predict_proba(X)
        return np.asarray(est.predict(X)).reshape(X.shape[0], -1)

    def get_weights():
        return [w.copy() for pair in zip(est.coefs_, est.intercepts_) for w in pair]

    def restore(state):
        for dst, src in zip(est.coefs_ + est.intercepts_, state):
            dst[...] = src

    return _drive(run, "sklearn", train_epoch, predict, get_weights,
                  lambda: [w.copy() for w in est.coefs_ + est.intercepts_], restore)
