"""Train the same network side by side in nlayer, Keras, PyTorch and scikit-learn.

Every peer gets, as far as its library allows, *exactly* the same experiment:

- the same initial weights: nlayer builds and initialises the model, and the
  arrays of ``model.get_weights()`` (Keras order: Dense kernel, bias; BatchNorm
  gamma, beta, moving mean, moving variance) are loaded into each peer
  (PyTorch ``nn.Linear`` stores the kernel transposed; scikit-learn takes
  ``coefs_`` / ``intercepts_``);
- the same mini-batches: epoch e visits the rows ``batch_orders(seed, n, epochs)[e]``
  in consecutive chunks of ``batch_size``, the last partial chunk included;
- the same optimiser, SGD with (Nesterov) momentum. nlayer and Keras write it
  ``v <- mu v - lr g; w <- w + v``, PyTorch ``b <- mu b + g; w <- w - lr b``:
  the same update with ``v = -lr b`` as long as lr is constant (it is here);
- the same cost per batch of m rows, ``J = mean loss + lambda / (2m) sum ||W||^2``
  over the kernels, with m the size of *that* batch (the last one may be
  smaller). nlayer does it natively, PyTorch and Keras add the term to their
  loss (in Keras through a loss function that reads the kernels, so it also
  sees the current m; a ``kernel_regularizer`` could only use the nominal
  batch size), scikit-learn's ``alpha`` is exactly this penalty;
- the same early stopping rule: stop after ``patience`` epochs in which
  ``val_loss`` did not fall below the best value by more than ``min_delta``,
  then go back to the weights of the best epoch. nlayer uses its own
  :class:`~nlayer.EarlyStopping` inside ``fit``; the other peers run in this
  module's epoch loop, which applies the same rule.

Numbers that are compared are computed in one place: validation and test
loss, accuracy, MSE and R^2 come from :func:`scores`, in float64, from each
peer's predictions (probabilities, clipped at 1e-7 before the log, or values)
and its kernels, so differences between peers reflect training, not
bookkeeping. The loss includes the L2 term with m = the number of rows scored,
as nlayer's ``evaluate`` does. nlayer's EarlyStopping watches this shared
validation loss too (an extra log key filled in by a callback), not the
logit-based one of nlayer's ``fit``: the two differ once a probability falls
below 1e-7, and the stopping decisions must not. Training ``loss`` and
``accuracy`` are each library's running means over the epoch's batches, as
Keras reports them (cross-entropy from the logits in all four).

Keras runs with ``floatx`` set to the spec's dtype (restored afterwards) and
``keras.utils.set_random_seed(seed)``, which also seeds Python's and NumPy's
global generators.

What cannot agree, and why:

- dropout masks come from each library's own random generator, so runs with
  dropout agree only in distribution;
- PyTorch's ``BatchNorm1d`` updates ``running_var`` with the unbiased batch
  variance (factor m / (m - 1)); nlayer and Keras use the biased one. Training
  is unaffected (batch statistics are used), inference differs slightly;
- scikit-learn has no batch norm, no dropout and no leaky ReLU, and for two
  classes uses a single logistic output: those runs are skipped with a note;
- for regression scikit-learn minimises ``0.5 * MSE`` and, with k outputs, its
  gradient is k times the gradient of its own loss; the learning rate and
  ``alpha`` given to it are rescaled (``2 lr / k`` and ``lambda k / 2``) so
  that its updates are exactly nlayer's.

Keras, PyTorch and scikit-learn are imported only when their run starts; none
of them is a dependency of nlayer's core (``pip install "nlayer[compare]"``).
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
import math
import sys
import time
import warnings
from dataclasses import dataclass, field

import numpy as np

from . import initializers, layers as layers_mod, losses as losses_mod
from .callbacks import Callback, EarlyStopping
from .model import MLP, batch_orders
from .optimizers import SGD

__all__ = [
    "PEERS", "ComparisonSpec", "PeerResult", "available_peers", "run_comparison",
    "build_model", "build_keras_model", "build_torch_model", "torch_get_weights",
    "torch_set_weights", "weight_names", "rel_errors", "scores",
]

PEERS = ("nlayer", "keras", "pytorch", "sklearn")
ACTIVATIONS = ("relu", "tanh", "sigmoid", "leaky_relu", "linear")
OUTPUTS = ("softmax", "linear")
_PROB_EPS = 1e-7  # probabilities are clipped to [1e-7, 1] before the log (nlayer's and Keras's choice)

_INSTALL_HINT = {
    "keras": 'pip install "nlayer[compare]"',
    "pytorch": 'pip install "nlayer[compare]"',
    "sklearn": 'pip install "nlayer[sklearn]"',
}


# ---------------------------------------------------------------------------
# The experiment and its results
# ---------------------------------------------------------------------------
@dataclass
class ComparisonSpec:
    """One network and one training recipe, shared by every peer.

    ``output="softmax"`` trains a classifier with categorical cross-entropy,
    ``output="linear"`` a regressor with mean squared error. ``l2`` is nlayer's
    lambda (cost term ``lambda / (2m) sum ||W||^2``). ``patience=None`` trains
    all ``epochs``; otherwise training stops early on ``val_loss`` and the best
    epoch's weights are restored. ``seed`` fixes the initial weights, the batch
    order and (each library's own) dropout generator.
    """

    hidden: tuple = (64,)
    activation: str = "relu"
    init: str = "auto"
    batchnorm: bool = False
    dropout: float = 0.0
    output: str = "softmax"
    lr: float = 0.05
    momentum: float = 0.9
    nesterov: bool = False
    l2: float = 0.0
    batch_size: int = 32
    epochs: int = 10
    patience: int | None = None
    min_delta: float = 0.0
    seed: int = 0
    dtype: str = "float32"

    def __post_init__(self):
        hidden = (self.hidden,) if isinstance(self.hidden, (int, np.integer)) else tuple(self.hidden)
        if any(isinstance(h, bool) or not isinstance(h, (int, np.integer)) or h < 1 for h in hidden):
            raise ValueError(f"hidden must be positive layer widths, got {self.hidden!r}")
        self.hidden = tuple(int(h) for h in hidden)
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}, "
                             f"got {self.activation!r}")
        if self.output not in OUTPUTS:
            raise ValueError(f"output must be 'softmax' (classification) or 'linear' "
                             f"(regression), got {self.output!r}")
        initializers.get(self.init)  # raises on unknown names
        self.dtype = np.dtype(self.dtype).name
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be float32 or float64, got {self.dtype!r}")
        self.dropout = float(self.dropout)
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        self.lr, self.momentum, self.l2 = float(self.lr), float(self.momentum), float(self.l2)
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"lr must be a positive number, got {self.lr}")
        if not 0.0 <= self.momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum}")
        self.nesterov = bool(self.nesterov)
        if self.nesterov and not self.momentum:
            raise ValueError("nesterov=True needs momentum > 0")
        if not (self.l2 >= 0 and math.isfinite(self.l2)):
            raise ValueError(f"l2 must be a finite number >= 0, got {self.l2}")
        for name, low in (("batch_size", 1), ("epochs", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise ValueError(f"{name} must be a whole number >= {low}, got {value!r}")
            setattr(self, name, int(value))
        if self.patience is not None:
            if isinstance(self.patience, bool) or not isinstance(self.patience, (int, np.integer)) \
                    or self.patience < 0:
                raise ValueError(f"patience must be None or a whole number >= 0, got {self.patience!r}")
            self.patience = int(self.patience)
        self.min_delta = float(self.min_delta)
        if not self.min_delta >= 0:
            raise ValueError(f"min_delta must be >= 0, got {self.min_delta}")
        if self.seed is not None:
            self.seed = int(self.seed)

    @property
    def classification(self):
        return self.output == "softmax"

    @property
    def loss(self):
        return "categorical_crossentropy" if self.classification else "mean_squared_error"


@dataclass
class PeerResult:
    """What one peer did.

    ``history`` holds per-epoch lists: ``loss`` and (classification) ``accuracy``
    are running means over the epoch's batches, measured before each batch's
    update, as Keras reports them; ``val_loss`` / ``val_accuracy`` are measured
    on the development set after the epoch; ``seconds`` is the wall time of the
    epoch's training alone (no validation, no checkpointing).
    ``seconds_per_epoch`` is the median of ``seconds`` (robust to the first
    epoch's one-off costs such as graph tracing); ``total_seconds`` their sum.
    ``weights`` are the final arrays (after restoring the best epoch when
    early stopping is on) in Keras order, named by ``weight_names``.
    """

    name: str
    available: bool
    note: str = ""
    test_loss: float | None = None
    test_accuracy: float | None = None
    test_mse: float | None = None
    test_r2: float | None = None
    epochs_run: int = 0
    best_epoch: int | None = None
    seconds_per_epoch: float | None = None
    total_seconds: float | None = None
    history: dict = field(default_factory=dict)
    weights: list = field(default_factory=list, repr=False)
    weight_names: list = field(default_factory=list, repr=False)

    @property
    def ok(self):
        """True when the peer trained to the end (possibly with an informational note)."""
        return self.available and self.test_loss is not None

    def to_dict(self):
        """Plain JSON-friendly fields (no weight arrays)."""
        return {k: getattr(self, k) for k in (
            "name", "available", "note", "test_loss", "test_accuracy", "test_mse", "test_r2",
            "epochs_run", "best_epoch", "seconds_per_epoch", "total_seconds", "history")}


# ---------------------------------------------------------------------------
# Shared arithmetic
# ---------------------------------------------------------------------------
def data_loss(classification, P, Y):
    """Mean loss over rows in float64: cross-entropy of probabilities P, or MSE."""
    P = np.asarray(P, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    if classification:
        return float(-np.sum(Y * np.log(np.clip(P, _PROB_EPS, 1.0))) / P.shape[0])
    D = P - Y
    return float(np.sum(D * D) / D.size)


def _crossentropy_from_logits(Z, Y):
    Z = np.asarray(Z, dtype=np.float64)
    shifted = Z - Z.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(-np.sum(np.asarray(Y, dtype=np.float64) * log_p) / Z.shape[0])


def l2_term(l2, kernels, m):
    """lambda / (2m) * sum of squared kernel entries, in float64."""
    if not l2:
        return 0.0
    total = 0.0
    for w in kernels:
        w = np.asarray(w, dtype=np.float64).ravel()
        total += float(np.dot(w, w))
    return l2 / (2 * m) * total


def scores(classification, P, Y, kernels=(), l2=0.0):
    """``{"loss", "accuracy"}`` (classification) or ``{"loss", "mse", "r2"}`` (regression).

    ``loss`` is the data loss plus the L2 term with m = number of rows, as
    nlayer's ``evaluate`` reports it. R^2 is averaged over outputs.
    """
    P = np.asarray(P, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    if P.ndim == 1:
        P = P[:, None]
    out = {"loss": data_loss(classification, P, Y) + l2_term(l2, kernels, P.shape[0])}
    if classification:
        out["accuracy"] = float(np.mean(P.argmax(axis=1) == Y.argmax(axis=1)))
        return out
    res = np.sum((P - Y) ** 2, axis=0)
    tot = np.sum((Y - Y.mean(axis=0)) ** 2, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(tot > 0, 1.0 - res / np.where(tot > 0, tot, 1.0), 0.0)
    out["mse"] = float(np.mean((P - Y) ** 2))
    out["r2"] = float(r2.mean())
    return out


def rel_errors(weights, reference):
    """Per array: ``max|a - b| / max(max|b|, 1e-12)`` between two weight lists."""
    weights, reference = list(weights), list(reference)
    if len(weights) != len(reference):
        raise ValueError(f"{len(weights)} arrays against {len(reference)}")
    out = []
    for a, b in zip(weights, reference):
        a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
        if a.shape != b.shape:
            raise ValueError(f"shape {a.shape} against {b.shape}")
        scale = max(float(np.max(np.abs(b))) if b.size else 0.0, 1e-12)
        out.append(float(np.max(np.abs(a - b))) / scale if a.size else 0.0)
    return out


def weight_names(model):
    """``"<layer>/<array>"`` for every array of ``model.get_weights()``."""
    return [f"{layer.name}/{key}" for layer in model.layers for key in layer.weight_names]


def _kernel_positions(model):
    """Indices of the Dense kernels in ``get_weights()`` order."""
    pos, i = [], 0
    for layer in model.layers:
        for key in layer.weight_names:
            if isinstance(layer, layers_mod.Dense) and key == "kernel":
                pos.append(i)
            i += 1
    return pos


# ---------------------------------------------------------------------------
# Availability
# ---------------------------------------------------------------------------
def available_peers():
    """``{peer: None}`` when the library can be imported, else a note saying why not.

    Cheap: looks for the packages without importing them (TensorFlow alone
    takes seconds to import).
    """
    notes = {"nlayer": None}
    notes["keras"] = _missing("keras", "keras")
    if notes["keras"] is None:
        try:
            major = int(importlib.metadata.version("keras").split(".")[0])
        except (importlib.metadata.PackageNotFoundError, ValueError):
            major = 3
        if major < 3:
            notes["keras"] = f"keras {importlib.metadata.version('keras')} is too old (needs 3.x): " \
                             f"{_INSTALL_HINT['keras']}"
    notes["pytorch"] = _missing("torch", "pytorch")
    notes["sklearn"] = _missing("sklearn", "sklearn", label="scikit-learn")
    return notes


def _missing(module, peer, label=None):
    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        found = False
    if found:
        return None
    return f"{label or module} not installed: {_INSTALL_HINT[peer]}"


def _unsupported(peer, spec, n_outputs):
    """Why ``peer`` cannot run this experiment faithfully, or None."""
    if peer != "sklearn":
        return None
    if spec.batchnorm:
        return "skipped: scikit-learn's MLP has no batch normalisation"
    if spec.dropout:
        return "skipped: scikit-learn's MLP has no dropout"
    if spec.activation == "leaky_relu":
        return "skipped: scikit-learn's MLP has no leaky ReLU"
    if not spec.hidden:
        return "skipped: scikit-learn's MLP needs at least one hidden layer"
    if spec.classification and n_outputs < 3:
        return ("skipped: for two classes scikit-learn uses one logistic output, which cannot "
                "start from the weights of a two-unit softmax")
    return None


def _notes_for(peer, spec):
    notes = []
    if spec.dropout and peer != "nlayer":
        notes.append("dropout masks come from this library's own generator, so the run agrees "
                     "with nlayer only in distribution")
    if spec.batchnorm and peer == "pytorch":
        notes.append("BatchNorm1d's running_var uses the unbiased batch variance (m/(m-1)); "
                     "inference differs slightly from nlayer/Keras")
    return "; ".join(notes)


# ---------------------------------------------------------------------------
# Models of the same architecture in each library
# ---------------------------------------------------------------------------
def build_model(spec, n_features, n_outputs):
    """The nlayer model of ``spec``, built (seeded initial weights) and compiled."""
    model = MLP(hidden=spec.hidden, activation=spec.activation, output=spec.output,
                n_outputs=n_outputs, batchnorm=spec.batchnorm, dropout=spec.dropout,
                init=spec.init, dtype=spec.dtype, name="nlayer")
    model.build((None, int(n_features)), seed=spec.seed)
    model.compile(optimizer=SGD(lr=spec.lr, momentum=spec.momentum, nesterov=spec.nesterov),
                  loss=spec.loss, l2=spec.l2,
                  metrics=["accuracy"] if spec.classification else None)
    return model


def build_keras_model(model, seed=None):
    """An (uncompiled) ``keras.Sequential`` with the layers of the nlayer ``model``.

    Keras initialises its own weights; load nlayer's with
    ``keras_model.set_weights(model.get_weights())`` (same order and shapes).
    Layers are made in the nlayer model's dtype.
    """
    import keras

    model._require_built()
    dtype = model.dtype.name
    stack = [keras.Input(shape=(model.n_features,), dtype=dtype)]
    for layer in model.layers:
        if isinstance(layer, layers_mod.Dense):
            act = layer.activation
            keras_act = None if act.name in ("linear", "leaky_relu") else act.name
            stack.append(keras.layers.Dense(layer.units, activation=keras_act,
                                            use_bias=layer.use_bias, dtype=dtype))
            if act.name == "leaky_relu":
                stack.append(keras.layers.LeakyReLU(negative_slope=act.alpha, dtype=dtype))
        elif isinstance(layer, layers_mod.BatchNorm):
            stack.append(keras.layers.BatchNormalization(
                momentum=layer.momentum, epsilon=layer.epsilon, dtype=dtype))
        elif isinstance(layer, layers_mod.Activation):
            act = layer.activation
            if act.name == "leaky_relu":
                stack.append(keras.layers.LeakyReLU(negative_slope=act.alpha, dtype=dtype))
            else:
                stack.append(keras.layers.Activation(act.name, dtype=dtype))
        elif isinstance(layer, layers_mod.Dropout):
            stack.append(keras.layers.Dropout(layer.rate, seed=seed, dtype=dtype))
        else:
            raise TypeError(f"no Keras counterpart for layer {type(layer).__name__}")
    return keras.Sequential(stack, name="keras")


def build_torch_model(model):
    """A ``torch.nn.Sequential`` with the layers of the nlayer ``model``.

    A softmax output is left out: the module returns logits (``F.cross_entropy``
    takes logits; apply ``softmax`` for probabilities). BatchNorm1d gets
    ``momentum = 1 - nlayer momentum`` (PyTorch weighs the new batch by it).
    Load nlayer's weights with :func:`torch_set_weights`.
    """
    import torch
    from torch import nn

    model._require_built()
    dt = getattr(torch, model.dtype.name)
    last = len(model.layers) - 1
    mods = []
    for i, layer in enumerate(model.layers):
        if isinstance(layer, layers_mod.Dense):
            mods.append(nn.Linear(layer.n_in, layer.units, bias=layer.use_bias, dtype=dt))
            act = _torch_activation(layer.activation, i == last)
        elif isinstance(layer, layers_mod.BatchNorm):
            mods.append(nn.BatchNorm1d(layer.n_in, eps=layer.epsilon,
                                       momentum=1.0 - layer.momentum, dtype=dt))
            act = None
        elif isinstance(layer, layers_mod.Activation):
            act = _torch_activation(layer.activation, i == last)
        elif isinstance(layer, layers_mod.Dropout):
            act = nn.Dropout(layer.rate)
        else:
            raise TypeError(f"no PyTorch counterpart for layer {type(layer).__name__}")
        if act is not None:
            mods.append(act)
    return nn.Sequential(*mods)


def _torch_activation(act, is_last):
    from torch import nn

    name = act.name
    if name == "softmax":
        return None if is_last else nn.Softmax(dim=1)
    if name == "linear":
        return None
    if name == "leaky_relu":
        return nn.LeakyReLU(act.alpha)
    return {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}[name]()


def torch_set_weights(module, weights):
    """Load arrays in nlayer/Keras order into a module from :func:`build_torch_model`."""
    import torch
    from torch import nn

    weights = [np.asarray(w) for w in weights]
    it = iter(weights)
    with torch.no_grad():
        for m in module:
            if isinstance(m, nn.Linear):
                m.weight.copy_(torch.from_numpy(np.ascontiguousarray(next(it).T)))
                if m.bias is not None:
                    m.bias.copy_(torch.from_numpy(next(it)))
            elif isinstance(m, nn.BatchNorm1d):
                for t in (m.weight, m.bias, m.running_mean, m.running_var):
                    t.copy_(torch.from_numpy(next(it)))
    if next(it, None) is not None:
        raise ValueError("more weight arrays than the module holds")


def torch_get_weights(module):
    """Copies of the module's arrays in nlayer/Keras order (kernels as (n_in, n_out))."""
    from torch import nn

    out = []
    for m in module:
        if isinstance(m, nn.Linear):
            out.append(m.weight.detach().numpy().T.copy())
            if m.bias is not None:
                out.append(m.bias.detach().numpy().copy())
        elif isinstance(m, nn.BatchNorm1d):
            out += [t.detach().numpy().copy()
                    for t in (m.weight, m.bias, m.running_mean, m.running_var)]
    return out


@contextlib.contextmanager
def _keras_floatx(dtype):
    """Run Keras code with ``floatx`` = dtype (optimizer and loss variables follow it)."""
    import keras

    previous = keras.config.floatx()
    keras.config.set_floatx(dtype)
    try:
        yield keras
    finally:
        keras.config.set_floatx(previous)


# ---------------------------------------------------------------------------
# The comparison
# ---------------------------------------------------------------------------
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
                   progress=None, *, torch_threads=None):
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

    ``torch_threads``, if given, is PyTorch's intra-op thread count during its
    run (``torch.set_num_threads``, restored afterwards). Small networks train
    fastest on one thread, and on a machine that is busy with other work
    PyTorch's default OpenMP team can be slowed down many times over.
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
        raise ValueError(f"torch_threads must be None or a whole number >= 1, got {torch_threads!r}")
    run.torch_threads = torch_threads

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
            result = runners[peer](run)
        except ImportError as exc:
            result = PeerResult(peer, False, f"{peer} could not be imported: {exc}")
        except Exception as exc:  # one peer failing must not lose the others' results
            result = PeerResult(peer, True, f"failed: {type(exc).__name__}: {exc}")
        else:
            extra = _notes_for(peer, spec)
            result.note = "; ".join(n for n in (result.note, extra) if n)
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


# -- nlayer ------------------------------------------------------------------
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


# -- Keras -------------------------------------------------------------------
def _keras_loss(keras, kernels, l2, classification):
    """Per-row loss plus lambda/(2m) sum ||W||^2 with m the rows of the current batch.

    Keras averages the returned per-row values, so every row carries the whole
    penalty and the mean is data loss + penalty. Reading the kernel variables
    here puts the penalty's gradient ``(lambda/m) W`` into the training step.
    """
    ops = keras.ops

    def loss(y_true, y_pred):
        if classification:
            per_row = keras.losses.categorical_crossentropy(y_true, y_pred)
        else:
            per_row = ops.mean(ops.square(y_pred - y_true), axis=-1)
        if l2:
            m = ops.sum(ops.ones_like(per_row))
            penalty = ops.sum(ops.stack([ops.sum(ops.square(k)) for k in kernels]))
            # a Python float keeps full precision; ops.cast(0.001, "float64") would round
            # it through float32 on the TensorFlow backend
            per_row = per_row + (l2 / 2.0) * penalty / m
        return per_row

    return loss


def _run_keras(run):
    spec = run.spec
    with _keras_floatx(spec.dtype) as keras:
        keras.utils.set_random_seed(run.seed)
        km = build_keras_model(run.model, seed=run.seed)
        km.set_weights(run.initial)
        kernels = [layer.kernel for layer in km.layers if isinstance(layer, keras.layers.Dense)]
        km.compile(
            # np.float64 (a float subclass): Keras's SGD casts a plain Python momentum with
            # ops.cast, which on TensorFlow goes through float32 (0.9 -> 0.899999976).
            optimizer=keras.optimizers.SGD(learning_rate=spec.lr,
                                           momentum=np.float64(spec.momentum),
                                           nesterov=spec.nesterov),
            loss=_keras_loss(keras, kernels, spec.l2, run.classification),
            metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")]
            if run.classification else None,
            jit_compile=False)

        def train_epoch(order):
            start = time.perf_counter()
            Xo, Yo = run.X_train[order], run.Y_train[order]
            h = km.fit(Xo, Yo, batch_size=run.batch_size, epochs=1, shuffle=False, verbose=0)
            seconds = time.perf_counter() - start
            return seconds, {k: h.history[k][0] for k in ("loss", "accuracy") if k in h.history}

        def predict(X):
            return keras.ops.convert_to_numpy(km(X, training=False))

        return _drive(run, "keras", train_epoch, predict, km.get_weights, km.get_weights,
                      km.set_weights)


# -- PyTorch -----------------------------------------------------------------
def _run_torch(run):
    import torch

    previous = torch.get_num_threads()
    if run.torch_threads:
        torch.set_num_threads(int(run.torch_threads))
    try:
        return _train_torch(run)
    finally:
        torch.set_num_threads(previous)


def _train_torch(run):
    import torch
    import torch.nn.functional as F
    from torch import nn

    spec = run.spec
    torch.manual_seed(run.seed)
    module = build_torch_model(run.model)
    torch_set_weights(module, run.initial)
    opt = torch.optim.SGD(module.parameters(), lr=spec.lr, momentum=spec.momentum,
                          nesterov=spec.nesterov)
    weights_l2 = [m.weight for m in module if isinstance(m, nn.Linear)]
    X = torch.from_numpy(run.X_train)
    if run.classification:
        T = torch.from_numpy(run.Y_train.argmax(axis=1))
    else:
        T = torch.from_numpy(run.Y_train)
    B, l2 = run.batch_size, spec.l2

    def train_epoch(order):
        module.train()
        totals = _Totals()
        start = time.perf_counter()
        idx = torch.from_numpy(order)
        for b in range(0, run.n, B):
            bi = idx[b:b + B]
            xb, tb = X[bi], T[bi]
            out = module(xb)
            loss = F.cross_entropy(out, tb) if run.classification else F.mse_loss(out, tb)
            if l2:
                m = xb.shape[0]
                loss = loss + (l2 / (2 * m)) * sum((w * w).sum() for w in weights_l2)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            hits = int((out.argmax(dim=1) == tb).sum()) if run.classification else 0
            totals.add(float(loss.detach()), int(xb.shape[0]), hits)
        seconds = time.perf_counter() - start
        return seconds, totals.logs(run.classification)

    def predict(Xn):
        module.eval()
        with torch.no_grad():
            out = module(torch.from_numpy(Xn))
            if run.classification:
                out = torch.softmax(out, dim=1)
        return out.numpy()

    def snapshot():
        return {k: v.detach().clone() for k, v in module.state_dict().items()}

    return _drive(run, "pytorch", train_epoch, predict, lambda: torch_get_weights(module),
                  snapshot, module.load_state_dict)


# -- scikit-learn ------------------------------------------------------------
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
