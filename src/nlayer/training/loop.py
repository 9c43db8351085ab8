"""The one fit loop: mini-batch gradient descent over the training rows.

``Sequential.fit`` calls :func:`fit`. Each epoch draws a row order from the
seeded shuffling generator and runs ``model.train_step`` on every batch (the last
partial one too), then evaluates the development rows and calls the callbacks.
The development split, row weights (``sample_weights``), the input normaliser and
target scaler are fitted here on the training rows only. Where the loop is lives
in a :class:`~nlayer.training.state.FitState`, which checkpoints store and
``resume_from`` restores (:mod:`nlayer.training.resume`).
"""

import math
import time
import warnings

import numpy as np

from ..callbacks import Callback, CallbackList, History, progress
from ..errors import TrainingDivergedError
from ..layers import BatchNorm
from ..preprocessing import dev_rows
from ..utils import checks
from . import augmentation, memory, resume, targets, threads
from .order import RowsBut, epoch_order
from .rows import Rows
from .state import FitState

__all__ = ["fit", "batch_orders"]


def fit(model, X, y, epochs=1, batch_size=32, validation_split=0.0, validation_data=None,
        shuffle=True, seed=None, callbacks=None, verbose=0, resume_from=None,
        sample_weight=None, class_weight=None, augment=None, adversarial=None):
    """Train ``model`` (see :meth:`Sequential.fit`); returns its History."""
    model._require_compiled()
    reporter = progress.reporter(verbose)  # None when silent: the batches run as without it
    checks.whole(epochs, "epochs", low=0)
    checks.whole(batch_size, "batch_size")
    callbacks = checks.callbacks(callbacks, Callback)
    resumed = None
    if resume_from is not None:
        resumed = resume.restore(model, resume_from, seed)
        seed = resumed["settings"]["seed"]
    elif seed is None:  # draw the seed here, so that a checkpoint can name it
        seed = np.random.SeedSequence().entropy
    if shuffle not in (True, False, "blocks"):
        raise ValueError(f"shuffle must be True, False or 'blocks', got {shuffle!r}")
    split_rng, init_rng, shuffle_rng, dropout_rng, augment_rng = _generators(checks.seed(seed))
    X = model._rows(X)  # X itself, never copied whole: batches are gathered from it
    augment = augmentation.coerce(augment)
    if augment is not None:
        augment.shape_for(X.shape[1])  # rows that are not its images: refused before reading
        if model.normalizer is not None and model.normalizer.name == "standard":
            warnings.warn("augment with per-pixel standard scaling: a pixel of the image's "
                          "near-empty border has almost no spread, so ink moved onto it is "
                          "scaled to tens of standard deviations; compile(normalize='global')"
                          " scales every pixel alike", stacklevel=3)
    if adversarial is not None:
        adversarial = checks.real(adversarial, "adversarial", low=0.0, low_open=True)
    targets.check_rows(y, X)
    X.check()
    # class ids stay ids (one-hot a batch at a time); an unbuilt output takes their width
    Y = targets.prepare_rows(model, y)
    if not model.built:
        targets.infer_output_units(model, Y)
        memory.check(model.layers, X.shape[1], model.dtype, min(batch_size, X.shape[0]),
                     model.optimizer)
        model.build((None, X.shape[1]), seed=init_rng)
        targets.check_width(model, Y)  # a model ending without Dense knows it only now
    class_weight = targets.class_weights(model, Y, class_weight)
    W = targets.row_weights(model, Y, sample_weight, class_weight)
    X_train, Y_train, W_train, X_dev, Y_dev, W_dev = _split(
        model, X, Y, W, validation_split, validation_data, split_rng, class_weight)
    if model.normalizer is not None and not model.normalizer.fitted:
        model.normalizer.fit(X_train, W_train)  # block by block; X_train normalises from now
    # normalised once, in place where they are nlayer's own copy (not a view of a map)
    X_dev = None if X_dev is None else Rows(X_train.normalized(X_dev), model.dtype)
    if model.target_scaler is not None:
        if not model.target_scaler.fitted:
            model.target_scaler.fit(Y_train, W_train)
        # regression targets (a few columns): the training rows' scaled copy is small
        Y_train = Rows(model._scale_targets(Y_train.gather(slice(None))), model.dtype)
        Y_dev = model._scale_targets(Y_dev)
    state = FitState(model, epochs, min(batch_size, X_train.shape[0]), X_train.shape[0],
                     shuffle_rng if shuffle else None, dropout_rng, callbacks,
                     augment, augment_rng, adversarial)
    state.shuffle = shuffle if shuffle == "blocks" else bool(shuffle)
    _batches_batch_norm_can_use(model, state)
    # what a checkpoint records and a resume compares; worked out only when one asks
    state.describe = lambda: {
        "seed": seed, "batch_size": state.batch_size, "shuffle": state.shuffle,
        "validation_split": float(validation_split or 0.0),
        "validation_data": validation_data is not None,
        "rows": int(X_train.shape[0]), "features": int(X_train.shape[1]),
        "fingerprint": resume.fingerprint(X_train, Y_train, W_train),
        "dev_fingerprint": None if X_dev is None else
        resume.fingerprint(X_dev, Y_dev, W_dev), "epochs": epochs,
        "augment": None if augment is None else augment.get_config(),
        "adversarial": adversarial}
    if resumed is not None:
        resume.check_settings(resumed, state.settings, resume_from)
        state.resume(resumed)
    model._fit_state = state
    try:
        with threads.limit(model, state.batch_size,
                           resume.blas_threads(resumed)) as state.blas_threads:
            return _train_loop(model, X_train, Y_train, W_train, X_dev, Y_dev, W_dev, state,
                               resumed, resume_from, reporter)
    finally:
        model._fit_state = None
        if reporter is not None:
            reporter.close()  # ends the bar's line also when training raised


def _train_loop(model, X, Y, W, X_dev, Y_dev, W_dev, state, resumed, resume_from, reporter):
    epochs, batch_size, n_batches = state.epochs, state.batch_size, state.n_batches
    model.history = (resumed and resumed["history"]) or History()
    model.history.interrupted = False
    shown = [reporter] if reporter is not None else []  # after the others: their logs are final
    cbs = CallbackList([model.history, *state.callbacks, *shown], model)
    model.stop_training = False
    n = X.shape[0]
    largest = n - (n_batches - 1) * batch_size  # the last batch may hold one row more
    buf_X = np.empty((max(batch_size, largest), X.shape[1]), dtype=model.dtype)
    buf_Y = np.empty((buf_X.shape[0], Y.shape[1]), dtype=model.dtype)
    buf_W = None if W is None else np.empty(buf_X.shape[0], dtype=model.dtype)
    model.optimizer.begin_training(n_batches, epochs)  # a schedule learns the run's length
    cbs.on_train_begin({"epochs": epochs, "steps": n_batches, "samples": n,
                        "blas_threads": state.blas_threads})
    if resumed is not None:
        resume.restore_callbacks(resumed, state.callbacks, resume_from)
        model.stop_training = model.stop_training or resumed["position"]["stopped"]
    shuffle_rng, rng = state.shuffle_rng, state.dropout_rng
    # raw pixels transformed before they are normalised, from its own generator
    augment = None if state.augment is None else \
        (lambda block, aug=state.augment, g=state.augment_rng: aug(block, g))
    for epoch in range(state.epoch, epochs + 1):
        if model.stop_training:  # a checkpoint of a run that had already decided to stop
            model.history.interrupted = True
            break
        start, good = time.perf_counter(), _snapshot(model)
        state.epoch, state.epoch_ended = epoch, False
        if state.batch == 0:  # a fresh epoch (a resumed one continues where it was)
            cbs.on_epoch_begin(epoch)
            if shuffle_rng is not None:
                state.shuffle_state = shuffle_rng.bit_generator.state
            state.totals = model._totals()
        order = epoch_order(shuffle_rng, n, state.shuffle, X.row_bytes)
        totals = state.totals
        with np.errstate(over="ignore", invalid="ignore"):  # divergence is reported below
            for b in range(state.batch, n_batches):
                idx = order[b * batch_size:(b + 1) * batch_size if b + 1 < n_batches else n]
                Xb = X.gather(idx, out=buf_X, transform=augment)  # converted, normalised
                # mode="clip" skips the bounds check (idx is a permutation): 1.6x faster
                Yb = Y.gather(idx, out=buf_Y)
                Wb = None if W is None else W.take(idx, out=buf_W[:idx.size], mode="clip")
                J, A = model.train_step(Xb, Yb, rng, Wb, state.adversarial)
                if not math.isfinite(J):
                    _restore(model, good)
                    raise TrainingDivergedError(epoch, b + 1, J, divergence_fixes(model))
                totals.add(J, A, Yb, Wb, model._batch_penalty)
                state.batch = b + 1
                if cbs.batch_hooks:  # skip building the logs dict when nobody reads it
                    cbs.on_batch_end(b + 1, {"loss": J, "size": idx.size, "epoch": epoch,
                                             "steps": n_batches})
                if model.stop_training:
                    break
        if state.batch < n_batches:  # stopped mid-epoch: that epoch is not recorded
            model.history.interrupted = True
            cbs.on_interrupt(epoch, state.batch)
            break
        logs = totals.results()
        if X_dev is not None:
            logs.update({f"val_{k}": v
                         for k, v in model._evaluate_arrays(X_dev, Y_dev, W=W_dev,
                                                            parts=True).items()})
        logs["lr"] = model.optimizer.lr
        logs["seconds"] = time.perf_counter() - start
        # a stop asked for during the batches is an interruption; one decided at the
        # epoch's end (early stopping) is where the run ends, also when resumed
        state.epoch_ended, state.interrupting = True, model.stop_training
        cbs.on_epoch_end(epoch, logs)
        if model.stop_training:
            model.history.interrupted = epoch < epochs
            break
        state.batch = 0
    cbs.on_train_end()
    return model.history


def _batches_batch_norm_can_use(model, state):
    """Batch norm normalises each unit over the batch: a batch of one row makes every Z
    zero (its own mean), nothing before the layer would learn from it, and its variance
    of 0 would pull the moving variance down. So batches of one row are refused, and a
    last batch of one row (rows = k * batch_size + 1) joins the batch before it."""
    if not any(isinstance(layer, BatchNorm) for layer in model.layers):
        return
    if state.n_batches > 1 and state.rows % state.batch_size == 1:
        state.n_batches -= 1
    if state.batch_size == 1:
        raise ValueError("BatchNorm normalises over the rows of a batch, and batches of 1 row "
                         "leave nothing to normalise (every Z would be 0, and the layers "
                         "before it would not learn); use batch_size >= 2, or a model "
                         "without BatchNorm")


def divergence_fixes(model):
    """What may have made training diverge, most likely first (TrainingDivergedError)."""
    fixes = ["lr"]
    if not model.loss.classification and model.target_scaler is None:
        fixes.insert(0, "scale_targets")
    if model.normalizer is None:
        fixes.append("normalize")
    if any(l.initializer is not None and l.initializer.name == "random_normal"
           for l in model._dense_layers()):
        fixes.append("init")
    return fixes


def _snapshot(model):
    return model.get_weights(), model.optimizer.get_state()


def _restore(model, snapshot):
    weights, opt_state = snapshot
    model.set_weights(weights)
    model.optimizer.set_state(opt_state)


def _split(model, X, Y, W, validation_split, validation_data, rng, class_weight):
    """(X, Y, W) of the training rows (X and Y as Rows), then of the development rows
    (arrays; None without)."""
    if validation_data is not None:
        if validation_split:
            raise ValueError("give validation_split or validation_data, not both")
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise ValueError("validation_data must be a pair (X_dev, y_dev)")
        dev = model._rows(validation_data[0], "validation_data X")
        targets.check_rows(validation_data[1], dev)
        X_dev = np.concatenate([block for _, block in dev.blocks(checked=True)])
        Y_dev = targets.prepare(model, validation_data[1], "validation_data y")
        return (X, targets.rows(Y, model.dtype), W, X_dev, Y_dev,
                targets.row_weights(model, Y_dev, None, class_weight))
    if not validation_split:
        return X, targets.rows(Y, model.dtype), W, None, None, None
    dev = dev_rows(X.shape[0], float(validation_split), rng, targets.strata(model, Y))
    train = RowsBut(X.shape[0], dev)  # the training rows, without an array of them
    X_train = Rows(X.source, model.dtype, model.normalizer, index=train)
    Y_train = targets.rows(Y, model.dtype, train)  # gathered per batch too: no copy of Y
    X_dev = X.raw(dev)  # the development rows are the one part of X held in memory
    if W is None:
        return X_train, Y_train, None, X_dev, Y[dev], None
    return X_train, Y_train, train.of(W), X_dev, Y[dev], W[dev]


def _generators(seed):
    """Independent generators for the dev split, weight init, shuffling, dropout and
    augmentation.

    Kept apart so that, for one seed, the batch order does not depend on whether
    the model was already built or uses dropout (see :func:`batch_orders`).
    """
    return [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(5)]


def batch_orders(seed, n_rows, epochs, shuffle=True, row_bytes=1):
    """The row order of each epoch that ``fit(..., seed=seed, shuffle=shuffle)`` uses.

    ``n_rows`` counts the training rows after the development split; ``row_bytes`` (a row
    of X as stored: features x item size) matters to ``shuffle="blocks"`` only (see
    :func:`nlayer.training.order.epoch_order`). Peers in a comparison use it to see
    exactly the same batches.
    """
    rng = _generators(seed)[2]
    # read whole, epoch by epoch: a block order draws its windows as it is read
    return [epoch_order(rng, n_rows, shuffle, row_bytes)[0:n_rows] for _ in range(epochs)]

