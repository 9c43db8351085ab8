"""The nlayer peer: the reference model, trained by nlayer's own ``fit``."""

import time

from ..callbacks import Callback, EarlyStopping
from ..model import MLP
from ..optimizers import SGD
from .epoch_loop import _best_epoch, _finish, _history_keys
from .scoring import scores


def build_model(spec, n_features, n_outputs):
    """The nlayer model of ``spec``, built (seeded initial weights) and compiled.

    Its initial weights are the ones every peer starts from; it is compiled with SGD
    (``spec``'s lr, momentum and nesterov), ``spec.loss`` and ``spec.l2``.

    Parameters
    ----------
    spec : ComparisonSpec
    n_features : int
        Input width.
    n_outputs : int
        Output width (classes for softmax, targets for linear).

    Returns
    -------
    nlayer.Sequential
        Named ``"nlayer"``.

    Examples
    --------
    >>> from nlayer.compare import ComparisonSpec, build_model
    >>> model = build_model(ComparisonSpec(hidden=(8,)), n_features=4, n_outputs=3)
    >>> [w.shape for w in model.get_weights()]
    [(4, 8), (8,), (8, 3), (3,)]
    """
    model = MLP(hidden=spec.hidden, activation=spec.activation, output=spec.output,
                n_outputs=n_outputs, batchnorm=spec.batchnorm, dropout=spec.dropout,
                init=spec.init, dtype=spec.dtype, name="nlayer")
    model.build((None, int(n_features)), seed=spec.seed)
    model.compile(optimizer=SGD(lr=spec.lr, momentum=spec.momentum, nesterov=spec.nesterov),
                  loss=spec.loss, l2=spec.l2,
                  metrics=["accuracy"] if spec.classification else None)
    return model


_SHARED_VAL_KEY = "val_compare_loss"


class _EpochEnd(Callback):
    """Times the training part of each epoch and scores the dev set with :func:`scores`.

    The training time runs from the start of an epoch to the end of its last
    batch (nlayer's own validation and checkpointing are left out). The shared
    validation loss is put into the epoch's logs under ``val_compare_loss``
    before :class:`EarlyStopping` (listed after this callback) reads them, so
    nlayer stops on exactly the numbers the other peers stop on.
    """

    def __init__(self, run):
        self.run, self.seconds, self.val = run, [], []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = self._last = time.perf_counter()

    def on_batch_end(self, batch, logs=None):
        self._last = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        run, logs = self.run, logs if logs is not None else {}
        self.seconds.append(self._last - self._start)
        report = {k: logs[k] for k in ("loss", "accuracy") if k in logs}
        if run.X_dev is not None:
            val = scores(run.classification, self.model.predict(run.X_dev), run.Y_dev,
                         run.kernels_of(self.model.get_weights()), run.spec.l2)
            self.val.append(val)
            logs[_SHARED_VAL_KEY] = val["loss"]
            report.update({f"val_{k}": val[k] for k in ("loss", "accuracy") if k in val})
        report["seconds"] = self.seconds[-1]
        run.report("nlayer", epoch, report)


def _run_nlayer(run):
    spec, model = run.spec, run.model
    model.set_weights(run.initial)
    model.optimizer.reset()  # no momentum left over should nlayer be listed twice
    epoch_end = _EpochEnd(run)
    callbacks = [epoch_end]
    if spec.patience is not None:
        callbacks.append(EarlyStopping(monitor=_SHARED_VAL_KEY, patience=spec.patience,
                                       min_delta=spec.min_delta, restore_best_weights=True))
    y_train, y_dev = run.y_raw
    hist = model.fit(run.X_train, y_train, epochs=spec.epochs, batch_size=spec.batch_size,
                     validation_data=None if run.X_dev is None else (run.X_dev, y_dev),
                     shuffle=True, seed=run.seed, callbacks=callbacks, verbose=0)
    history = {k: [float(v) for v in hist.history.get(k, [])] for k in ("loss", "accuracy")
               if k in _history_keys(run)}
    for key in ("loss", "accuracy"):
        if f"val_{key}" in _history_keys(run):
            history[f"val_{key}"] = [v[key] for v in epoch_end.val]
    history["seconds"] = list(epoch_end.seconds)
    best = hist.best_epoch if spec.patience is not None else _best_epoch(history)
    return _finish(run, "nlayer", history, model.get_weights(), model.predict(run.X_test), best)
