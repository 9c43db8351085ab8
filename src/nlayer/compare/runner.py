"""The comparison: check the inputs, set up the shared run and train each peer in turn."""

import numpy as np

from .. import losses as losses_mod
from ..utils import checks
from ..model import batch_orders
from .availability import _notes_for, _unsupported, available_peers
from .keras_peer import _run_keras
from .nlayer_peer import _run_nlayer, build_model
from .scoring import _kernel_positions, weight_names
from .sklearn_peer import _run_sklearn
from .spec import PEERS, ComparisonSpec, PeerResult
from .threads import same_threads
from .torch_peer import _run_torch


class _Run:
    """Everything the peers share: data, targets, initial weights, batch orders."""

    def __init__(self, spec, model, X_train, Y_train, X_dev, Y_dev, X_test, Y_test, y_raw,
                 seed, progress):
        self.spec, self.model, self.seed, self.progress = spec, model, seed, progress
        self.X_train, self.Y_train = X_train, Y_train
        self.X_dev, self.Y_dev = X_dev, Y_dev
        self.X_test, self.Y_test = X_test, Y_test
        self.y_raw = y_raw  # (y_train, y_dev) as given, for nlayer's fit
        self.initial = model.get_weights()
        self.kernel_pos = _kernel_positions(model)
        self.names = weight_names(model)
        self.n = X_train.shape[0]
        self.batch_size = min(spec.batch_size, self.n)
        self.orders = batch_orders(seed, self.n, spec.epochs)
        self.classification = spec.classification
        self.torch_threads = None

    def kernels_of(self, weights):
        return [weights[i] for i in self.kernel_pos]

    def report(self, peer, epoch, logs):
        if self.progress is not None:
            self.progress(peer, epoch, logs)


def run_comparison(spec, X_train, y_train, X_dev, y_dev, X_test, y_test, peers=PEERS,
                   progress=None, *, threads=None, torch_threads=None):
    """Train ``spec`` in each of ``peers`` from identical weights and batches.

    Inputs are used as given (already normalised; the caller made the dev
    split). ``y`` are class ids or one-hot rows (softmax output) or target
    values (linear output). ``X_dev`` may be None only without early stopping.
    ``progress(peer, epoch, logs)``, if given, is called with ``epoch=0,
    logs=None`` when a peer starts and after each of its epochs with that
    epoch's logs. Returns one :class:`PeerResult` per requested peer, in order;
    a peer that is missing, unknown or cannot represent the spec comes back
    with ``available=False`` and a note, and one that fails while training
    with ``available=True``, no scores and the error in its note.

    ``threads``, if given, is the one thread count every system trains with: BLAS
    (threadpoolctl) for nlayer and scikit-learn, nlayer's own choice
    (``NLAYER_BLAS_THREADS``), PyTorch's intra-op threads and TensorFlow's intra- and
    inter-op threads (see :mod:`nlayer.compare.threads`), so that no system is slowed by
    threads the others do not have. ``torch_threads`` sets PyTorch's alone (without
    ``threads``). Small networks train fastest on one thread, and on a machine busy with
    other work a default thread team can be slowed down many times over.

    Parameters
    ----------
    spec : ComparisonSpec
    X_train, X_dev, X_test : array-like of shape (n_samples, n_features)
        Finite values; ``X_dev`` (with ``y_dev``) may be None without early stopping.
    y_train, y_dev, y_test : array-like
        One target row per row of the matching X.
    peers : str or sequence of str, default PEERS
        From ``"nlayer"``, ``"keras"``, ``"pytorch"``, ``"sklearn"``.
    progress : callable, optional
    threads, torch_threads : int, optional
        Whole numbers >= 1.

    Returns
    -------
    list of PeerResult

    Raises
    ------
    TypeError
        If ``spec`` is not a ComparisonSpec.
    ValueError
        If an X is not 2-D, is empty, holds NaN or inf, or has another width than
        ``X_train``; a y is None or has another number of rows than its X; there are
        fewer than two classes; ``patience`` is set without a development set; or a
        thread count is not a whole number >= 1.

    Examples
    --------
    >>> import numpy as np
    >>> from nlayer.compare import ComparisonSpec, run_comparison
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.normal(size=(60, 4)), np.arange(60) % 3
    >>> spec = ComparisonSpec(hidden=(8,), epochs=2)
    >>> [nl_result] = run_comparison(spec, X[:40], y[:40], X[40:50], y[40:50], X[50:], y[50:],
    ...                              peers="nlayer")
    >>> nl_result.ok, nl_result.epochs_run, len(nl_result.history["val_loss"])
    (True, 2, 2)
    """
    if not isinstance(spec, ComparisonSpec):
        raise TypeError(f"spec must be a ComparisonSpec, got {type(spec).__name__}")
    if isinstance(peers, str):
        peers = (peers,)
    dtype = np.dtype(spec.dtype)
    X_train = _matrix(X_train, dtype, "X_train")
    X_test = _matrix(X_test, dtype, "X_test", X_train.shape[1])
    if X_dev is None or y_dev is None:
        if spec.patience is not None:
            raise ValueError("early stopping (patience) needs a development set X_dev, y_dev")
        X_dev = y_dev = None
    else:
        X_dev = _matrix(X_dev, dtype, "X_dev", X_train.shape[1])
    n_outputs = _n_outputs(spec, (y_train, y_dev, y_test))
    seed = spec.seed if spec.seed is not None else int(np.random.SeedSequence().entropy % 2**31)
    model = build_model(spec, X_train.shape[1], n_outputs)
    loss = model.loss
    Y_train = _targets(loss, y_train, n_outputs, dtype, X_train, "y_train")
    Y_test = _targets(loss, y_test, n_outputs, dtype, X_test, "y_test")
    Y_dev = None if X_dev is None else _targets(loss, y_dev, n_outputs, dtype, X_dev, "y_dev")
    run = _Run(spec, model, X_train, Y_train, X_dev, Y_dev, X_test, Y_test,
               (y_train, y_dev), seed, progress)
    if torch_threads is not None and (isinstance(torch_threads, bool) or
                                      not isinstance(torch_threads, (int, np.integer)) or
                                      torch_threads < 1):
        raise ValueError(f"torch_threads must be None or a whole number >= 1, "
                         f"got {torch_threads!r}")
    if threads is not None:
        threads = checks.whole(threads, "threads")
    run.torch_threads = threads or torch_threads

    notes = available_peers()
    runners = {"nlayer": _run_nlayer, "keras": _run_keras, "pytorch": _run_torch,
               "sklearn": _run_sklearn}
    results = []
    for peer in peers:
        if peer not in runners:
            results.append(PeerResult(peer, False, f"unknown peer {peer!r}; known: "
                                                   f"{', '.join(PEERS)}"))
            continue
        missing = notes.get(peer) or _unsupported(peer, spec, n_outputs)
        if missing:
            results.append(PeerResult(peer, False, missing))
            continue
        run.report(peer, 0, None)
        try:
            with same_threads(peer, threads) as thread_notes:
                result = runners[peer](run)
        except ImportError as exc:
            result = PeerResult(peer, False, f"{peer} could not be imported: {exc}")
        except Exception as exc:  # one peer failing must not lose the others' results
            result = PeerResult(peer, True, f"failed: {type(exc).__name__}: {exc}")
        else:
            extra = _notes_for(peer, spec)
            result.note = "; ".join(n for n in (result.note, extra, *thread_notes) if n)
        results.append(result)
    return results


def _matrix(X, dtype, what, n_features=None):
    if X is None:
        raise ValueError(f"{what} is None")
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"{what} must be 2-D (samples, features), got shape {X.shape}")
    if X.shape[0] == 0:
        raise ValueError(f"{what} has no rows")
    if n_features is not None and X.shape[1] != n_features:
        raise ValueError(f"{what} has {X.shape[1]} features, X_train has {n_features}")
    X = np.ascontiguousarray(X, dtype=dtype)
    if not np.isfinite(X).all():
        raise ValueError(f"{what} contains NaN or inf")
    return X


def _n_outputs(spec, ys):
    ys = [np.asarray(y) for y in ys if y is not None]
    if not spec.classification:
        y = ys[0]
        return 1 if y.ndim == 1 else int(y.shape[1])
    width = 0
    for y in ys:
        if y.ndim == 2 and y.shape[1] > 1:
            width = max(width, int(y.shape[1]))
        else:
            ids = losses_mod.class_ids(y.reshape(-1))
            width = max(width, int(ids.max()) + 1 if ids.size else 0)
    if width < 2:
        raise ValueError("classification needs at least two classes")
    return width


def _targets(loss, y, n_outputs, dtype, X, what):
    if y is None:
        raise ValueError(f"{what} is None")
    Y = loss.prepare_targets(y, n_outputs, dtype)
    if Y.shape[0] != X.shape[0]:
        raise ValueError(f"{what} has {Y.shape[0]} rows, its X has {X.shape[0]}")
    return np.ascontiguousarray(Y)
