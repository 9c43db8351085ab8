"""The experiment and its results: what every peer is asked to train, and what it did."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .. import initializers

PEERS = ("nlayer", "keras", "pytorch", "sklearn")
ACTIVATIONS = ("relu", "tanh", "sigmoid", "leaky_relu", "linear")
OUTPUTS = ("softmax", "linear")


@dataclass
class ComparisonSpec:
    """One network and one training recipe, shared by every peer.

    ``output="softmax"`` trains a classifier with categorical cross-entropy,
    ``output="linear"`` a regressor with mean squared error. ``l2`` is nlayer's
    lambda (cost term ``lambda / (2m) sum ||W||^2``). ``patience=None`` trains
    all ``epochs``; otherwise training stops early on ``val_loss`` and the best
    epoch's weights are restored. ``seed`` fixes the initial weights, the batch
    order and (each library's own) dropout generator.

    Parameters
    ----------
    hidden : int or tuple of int, default (64,)
        Widths of the hidden layers (>= 1 each).
    activation : {"relu", "tanh", "sigmoid", "leaky_relu", "linear"}, default "relu"
    init : str, default "auto"
        A kernel initialiser's name, as for :func:`nlayer.MLP`.
    batchnorm : bool, default False
    dropout : float, default 0.0
        In [0, 1).
    output : {"softmax", "linear"}, default "softmax"
    lr : float, default 0.05
        SGD's learning rate, > 0 (constant).
    momentum : float, default 0.9
        In [0, 1).
    nesterov : bool, default False
        Needs ``momentum > 0``.
    l2 : float, default 0.0
        >= 0.
    batch_size, epochs : int, default 32, 10
        Whole numbers >= 1.
    patience : int or None, default None
    min_delta : float, default 0.0
        >= 0; the least fall of ``val_loss`` that counts as an improvement.
    seed : int, default 0
    dtype : {"float32", "float64"}, default "float32"

    Raises
    ------
    ValueError
        If a value is out of its range or of the wrong kind, or ``init`` is unknown.

    Examples
    --------
    >>> from nlayer.compare import ComparisonSpec
    >>> spec = ComparisonSpec(hidden=32, output="linear", epochs=5)
    >>> spec.hidden, spec.loss
    ((32,), 'mean_squared_error')
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
        hidden = ((self.hidden,) if isinstance(self.hidden, (int, np.integer))
                  else tuple(self.hidden))
        if any(isinstance(h, bool) or not isinstance(h, (int, np.integer)) or h < 1
               for h in hidden):
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
                raise ValueError(f"patience must be None or a whole number >= 0, "
                                 f"got {self.patience!r}")
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

    Parameters
    ----------
    name : str
        The peer: ``"nlayer"``, ``"keras"``, ``"pytorch"`` or ``"sklearn"``.
    available : bool
        False when the peer's library is missing or cannot run this spec.
    note : str, default ""
        Why the peer did not run, or what to know about its numbers.
    test_loss, test_accuracy, test_mse, test_r2 : float or None
        Test-set scores from :func:`~nlayer.compare.scores` (accuracy for classification,
        MSE and R^2 for regression; None otherwise or when the peer did not train).
    epochs_run : int, default 0
    best_epoch : int or None
    seconds_per_epoch, total_seconds : float or None
    history : dict
        Per-epoch lists, as above.
    weights : list of ndarray
    weight_names : list of str

    Examples
    --------
    >>> from nlayer.compare import PeerResult
    >>> PeerResult("keras", available=False, note="keras is not installed").available
    False
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
    history: dict = field(default_factory=dict, repr=False)  # per-epoch lists: long to print
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
