"""scikit-learn estimators backed by nlayer networks.

``NLayerClassifier`` and ``NLayerRegressor`` wrap :func:`nlayer.MLP` so that an
N-layer perceptron can be used wherever scikit-learn expects an estimator:
pipelines, grid searches, cross-validation, ``clone`` and pickling::

    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from nlayer.sklearn import NLayerClassifier

    clf = make_pipeline(StandardScaler(),
                        NLayerClassifier(hidden_layer_sizes=(64,), random_state=0))
    clf.fit(X_train, y_train).score(X_test, y_test)

scikit-learn is an optional dependency (``pip install nlayer[sklearn]``); it is
imported only by this module.

Training follows the network's own ``fit``: mini-batch gradient descent with the chosen
optimiser for ``max_epochs`` epochs, rows reshuffled every epoch. With
``early_stopping=True`` a stratified (classifier) or random (regressor)
``validation_fraction`` of the rows is held out, training stops once the development loss
has not improved for ``patience`` epochs, and the weights of the best epoch are kept.
The same ``random_state`` gives the same weights, batches and predictions.
"""

import numbers
from collections.abc import Mapping, Sequence
from typing import Any, Self

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_is_fitted

try:  # scikit-learn >= 1.6
    from sklearn.utils.validation import validate_data as _validate_data
except ImportError:  # pragma: no cover - older scikit-learn
    def _validate_data(estimator, X="no_validation", y="no_validation", reset=True,
                       **check_params):
        return estimator._validate_data(X, y, reset=reset, **check_params)

from .callbacks import EarlyStopping
from .errors import TrainingDivergedError
from .model import MLP
from .optimizers import NAMES, from_settings

__all__ = ["NLayerClassifier", "NLayerRegressor"]

# float32 inputs stay float32, everything else numeric becomes float64 (then the
# network casts to its own dtype).
_X_DTYPES = (np.float64, np.float32)

#: The fixes a TrainingDivergedError suggests, worded as the estimators' parameters.
_SKLEARN_FIXES = {"lr": "a smaller learning_rate (e.g. 10x smaller)",
                  "scale_targets": "scale_targets=True (NLayerRegressor's default)",
                  "normalize": "normalize='standard'", "init": "init='auto'"}


class _BaseNLayer(BaseEstimator):
    """Parameters and training shared by the classifier and the regressor."""

    # Set by subclasses.
    _output: str | None = None
    _loss: str | None = None
    _score_metric: str | None = None

    # The parameters, each subclass's __init__ names them and their defaults (scikit-learn
    # reads them from its signature) and stores them with _keep.
    hidden_layer_sizes: int | Sequence[int]
    activation: str
    init: str | dict[str, Any]
    batchnorm: bool
    dropout: float
    optimizer: str
    learning_rate: float
    momentum: float
    l2: float
    batch_size: int | str
    max_epochs: int
    early_stopping: bool
    patience: int
    validation_fraction: float
    normalize: str | None
    random_state: int | np.random.RandomState | None
    dtype: DTypeLike | None
    warm_start: bool
    verbose: int

    def _keep(self, params: dict[str, Any]) -> None:
        """Store each __init__ parameter under its own name, unchanged, as scikit-learn
        expects of an estimator's __init__ (``params``: its ``locals()``)."""
        for name, value in params.items():
            if name != "self":
                setattr(self, name, value)

    # -- parameter checks (done at fit time, scikit-learn convention) ----------
    def _hidden(self):
        sizes = self.hidden_layer_sizes
        if isinstance(sizes, numbers.Integral) and not isinstance(sizes, bool):
            sizes = (sizes,)
        try:
            sizes = tuple(sizes)
        except TypeError:
            raise ValueError("hidden_layer_sizes must be an int or a sequence of ints, "
                             f"got {self.hidden_layer_sizes!r}") from None
        for units in sizes:
            if isinstance(units, bool) or not isinstance(units, numbers.Integral) or units < 1:
                raise ValueError("hidden_layer_sizes must contain positive integers, "
                                 f"got {self.hidden_layer_sizes!r}")
        return tuple(int(u) for u in sizes)

    def _batch_size(self, n_samples):
        if isinstance(self.batch_size, str) and self.batch_size == "auto":
            return min(200, n_samples)
        if isinstance(self.batch_size, bool) or \
                not isinstance(self.batch_size, numbers.Integral) or self.batch_size < 1:
            raise ValueError(f"batch_size must be a positive int or 'auto', got {self.batch_size!r}")
        return int(self.batch_size)

    def _max_epochs(self):
        if isinstance(self.max_epochs, bool) or \
                not isinstance(self.max_epochs, numbers.Integral) or self.max_epochs < 1:
            raise ValueError(f"max_epochs must be a positive int, got {self.max_epochs!r}")
        return int(self.max_epochs)

    def _check_early_stopping(self):
        if not 0.0 < self.validation_fraction < 1.0:
            raise ValueError("validation_fraction must be in (0, 1), "
                             f"got {self.validation_fraction!r}")

    def _make_optimizer(self):
        if not isinstance(self.optimizer, str):
            raise ValueError(f"optimizer must be one of {', '.join(NAMES)}, got {self.optimizer!r}")
        return from_settings(self.optimizer, self.learning_rate, self.momentum)

    def _build(self, n_outputs, x_dtype):
        model = MLP(hidden=self._hidden(), activation=self.activation, output=self._output,
                    n_outputs=n_outputs, batchnorm=self.batchnorm, dropout=self.dropout,
                    init=self.init, dtype=self.dtype or np.dtype(x_dtype).name)
        model.compile(optimizer=self._make_optimizer(), loss=self._loss, l2=self.l2,
                      metrics=[self._score_metric], normalize=self.normalize,
                      scale_targets=bool(getattr(self, "scale_targets", False)))
        return model

    # -- training ----------------------------------------------------------------
    def _continues(self, incremental):
        """Whether this call trains the existing network further."""
        return (incremental or self.warm_start) and hasattr(self, "model_")

    def _train(self, X, targets, n_outputs, incremental, sample_weight=None, class_weight=None):
        """Fit the network on validated X and encoded targets; set the fitted attributes."""
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64)
        continuing = self._continues(incremental)
        epochs = 1 if incremental else self._max_epochs()
        batch_size = self._batch_size(X.shape[0])
        early = bool(self.early_stopping) and not incremental
        if early:
            self._check_early_stopping()
        if continuing:
            model = self.model_
            if model.n_outputs != n_outputs:
                raise ValueError(f"the network has {model.n_outputs} outputs but the targets "
                                 f"need {n_outputs}; fit with warm_start=False to start anew")
            # The learning rate may be changed between calls (e.g. a manual schedule);
            # the optimiser's state (momentum, moment estimates) is kept.
            model.optimizer.lr = self._make_optimizer().lr
            done = self.n_iter_
            losses, scores = list(self.loss_curve_), self.validation_scores_
            scores = None if scores is None else list(scores)
        else:
            model = self._build(n_outputs, X.dtype)
            done, losses, scores = 0, [], None

        # One int seed per call: the same random_state repeats a fit exactly, while a
        # continuing call (partial_fit, warm start) gets fresh batch orders.
        draw = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        seed = int(np.random.SeedSequence([draw, done]).generate_state(1)[0])
        callbacks = []
        if early:
            callbacks.append(EarlyStopping(monitor="val_loss", patience=self.patience,
                                           restore_best_weights=True))
        try:
            history = model.fit(X, targets, epochs=epochs, batch_size=batch_size,
                                validation_split=self.validation_fraction if early else 0.0,
                                seed=seed, callbacks=callbacks, verbose=self.verbose,
                                sample_weight=sample_weight, class_weight=class_weight)
        except TrainingDivergedError as exc:  # word the fixes as this estimator's parameters
            raise TrainingDivergedError(exc.epoch, exc.batch, exc.loss, exc.fixes,
                                        _SKLEARN_FIXES) from None

        run = len(history.epoch)
        log = history.history
        if early:
            scores = (scores if scores is not None else [float("nan")] * done)
            scores += [float(v) for v in log[f"val_{self._score_metric}"]]
        elif scores is not None:
            scores += [float("nan")] * run
        self.model_ = model
        self.history_ = history
        self.n_iter_ = done + run
        self.loss_curve_ = losses + [float(v) for v in log["loss"]]
        self.validation_scores_ = scores
        self.best_epoch_ = done + history.best_epoch if history.best_epoch is not None else None
        return self

    def _forward(self, X):
        check_is_fitted(self)
        X = _validate_data(self, X, reset=False, dtype=_X_DTYPES)
        return self.model_.predict(X).astype(np.float64)


class NLayerClassifier(ClassifierMixin, _BaseNLayer):
    """Multilayer perceptron classifier trained with nlayer.

    The network is ``MLP(hidden_layer_sizes, activation)`` with a softmax output
    unit per class (two for binary problems) and categorical cross-entropy loss.

    Parameters
    ----------
    hidden_layer_sizes : int or tuple of int, default=(100,)
        Width of each hidden layer; ``()`` gives multinomial logistic regression.
    activation : {"relu", "leaky_relu", "tanh", "sigmoid", "linear"}, default="relu"
        Activation of the hidden layers.
    init : str, default="auto"
        Kernel initialiser (``"auto"``: He for the ReLU family, Glorot otherwise).
    batchnorm : bool, default=False
        Batch normalisation before each hidden activation.
    dropout : float, default=0.0
        Dropout rate after each hidden layer.
    optimizer : {"sgd", "adam", "rmsprop"}, default="sgd"
    learning_rate : float, default=0.01
    momentum : float, default=0.9
        Momentum of SGD (ignored by the other optimisers).
    l2 : float, default=1e-4
        L2 penalty strength lambda on the kernels.
    batch_size : int or "auto", default=32
        Rows per mini-batch; ``"auto"`` is ``min(200, n_samples)``.
    max_epochs : int, default=200
        Epochs (passes over the training rows) of ``fit``.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows (stratified), stop when the
        development loss has not improved for ``patience`` epochs and keep the
        best epoch's weights.
    patience : int, default=10
    validation_fraction : float, default=0.1
    normalize : {"standard", "minmax", None}, default="standard"
        Input normalisation learned on the training rows of the first fit.
    class_weight : None, "balanced" or dict {label: weight}, default=None
        Weights of the classes' rows ("balanced": n / (n_classes * rows of the
        class)), multiplied with ``fit(..., sample_weight=)``. scikit-learn's own
        MLPClassifier has no class_weight.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, the development split, shuffling and dropout.
    dtype : {"float32", "float64"} or None, default=None
        Precision of the network; None computes in the input's float precision, as
        scikit-learn's own MLP does (float32 X: float32, anything else: float64).
    warm_start : bool, default=False
        If True, ``fit`` continues training the previous network (same
        architecture, optimiser state and input normalisation) instead of
        starting anew.
    verbose : int, default=0
        ``fit``'s: 0 silent, 1 a progress bar redrawn in place, 2 one line per epoch.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Only when X had string column names.
    model_ : nlayer.Sequential
        The trained network.
    history_ : nlayer.History
        Record of the last ``fit``/``partial_fit`` call.
    n_iter_ : int
        Epochs trained since the network was created (warm starts and ``partial_fit`` add up).
    loss_curve_ : list of float
        Training loss (with the L2 term) of each of those epochs.
    validation_scores_ : list of float or None
        Development-set accuracy of each epoch once early stopping has been used (NaN for
        epochs trained without a development set), else None.
    best_epoch_ : int
        Epoch (counted like ``n_iter_``) with the lowest development loss in the last call
        with early stopping -- the weights kept -- or else the lowest training loss.

    Examples
    --------
    >>> import numpy as np, nlayer.sklearn as S
    >>> X = np.random.default_rng(0).normal(size=(80, 3)); y = np.where(X[:, 0] > 0, "a", "b")
    >>> clf = S.NLayerClassifier(hidden_layer_sizes=(8,), max_epochs=20, random_state=0)
    >>> clf.fit(X, y).score(X, y) > 0.9, clf.classes_.tolist()
    (True, ['a', 'b'])
    """

    def __init__(self, hidden_layer_sizes: int | Sequence[int] = (100,), activation: str = "relu",
                 init: str | dict[str, Any] = "auto", batchnorm: bool = False,
                 dropout: float = 0.0, optimizer: str = "sgd", learning_rate: float = 0.01,
                 momentum: float = 0.9, l2: float = 0.0001, batch_size: int | str = 32,
                 max_epochs: int = 200, early_stopping: bool = False, patience: int = 10,
                 validation_fraction: float = 0.1, normalize: str | None = "standard",
                 class_weight: str | Mapping[Any, float] | None = None,
                 random_state: int | np.random.RandomState | None = None,
                 dtype: DTypeLike | None = None, warm_start: bool = False,
                 verbose: int = 0) -> None:
        self._keep(locals())

    class_weight: str | Mapping[Any, float] | None
    _output = "softmax"
    _loss = "categorical_crossentropy"
    _score_metric = "accuracy"

    def fit(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None) -> Self:
        """Train on (X, y) for up to ``max_epochs`` epochs; returns self.

        ``sample_weight``: a row of weight w counts as w rows (see
        ``nlayer.training.sample_weights``).
        """
        return self._fit(X, y, incremental=False, sample_weight=sample_weight)

    def partial_fit(self, X: ArrayLike, y: ArrayLike, classes: ArrayLike | None = None,
                    sample_weight: ArrayLike | None = None) -> Self:
        """One epoch over (X, y), continuing from the previous call.

        ``classes`` (all labels that can ever appear) is required on the first call.
        """
        return self._fit(X, y, incremental=True, classes=classes, sample_weight=sample_weight)

    def _fit(self, X, y, incremental, classes=None, sample_weight=None):
        continuing = self._continues(incremental)
        X, y = _validate_data(self, X, y, reset=not continuing, dtype=_X_DTYPES)
        check_classification_targets(y)
        if continuing:
            if classes is not None and not np.array_equal(np.unique(classes), self.classes_):
                raise ValueError(f"classes={classes!r} differs from the classes of the first "
                                 f"call, {self.classes_!r}")
            if not incremental and not np.array_equal(np.unique(y), self.classes_):
                raise ValueError("warm_start can only be used when y has the same classes "
                                 "as in the previous call to fit")
            classes_ = self.classes_
        elif incremental:
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit")
            classes_ = np.unique(classes)
        else:
            classes_ = np.unique(y)
        if len(classes_) < 2:
            raise ValueError(f"{type(self).__name__} needs samples of at least 2 classes, but "
                             f"the data contains only one class: {classes_[0]!r}")
        unseen = ~np.isin(y, classes_)
        if unseen.any():
            raise ValueError(f"y contains labels not in classes: {np.unique(y[unseen])!r}")
        ids = np.searchsorted(classes_, y)
        self._train(X, ids, len(classes_), incremental, sample_weight,
                    self._class_weight_ids(classes_))
        self.classes_ = classes_
        return self

    def _class_weight_ids(self, classes):
        """``class_weight`` keyed by class id (the position in ``classes_``)."""
        cw = self.class_weight
        if cw is None or isinstance(cw, str):
            return cw
        if not isinstance(cw, dict):
            raise ValueError(f"class_weight must be None, 'balanced' or a dict {{label: weight}}, "
                             f"got {cw!r}")
        unknown = [label for label in cw if label not in set(classes.tolist())]
        if unknown:
            raise ValueError(f"class_weight names labels {unknown!r} that are not in the "
                             f"classes {classes.tolist()!r}")
        return {int(np.searchsorted(classes, label)): weight for label, weight in cw.items()}

    def predict_proba(self, X: ArrayLike) -> NDArray[Any]:
        """Class probabilities, shape (n_samples, n_classes), columns in ``classes_`` order."""
        P = self._forward(X)
        P /= P.sum(axis=1, keepdims=True)  # exact sums in float64
        return P

    def predict_log_proba(self, X: ArrayLike) -> NDArray[Any]:
        """Natural log of :meth:`predict_proba`."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X: ArrayLike) -> NDArray[Any]:
        """The most probable class of each row."""
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]


class NLayerRegressor(RegressorMixin, _BaseNLayer):
    """Multilayer perceptron regressor trained with nlayer.

    The network is ``MLP(hidden_layer_sizes, activation)`` with a linear output
    unit per target and mean squared error loss. A 1-D ``y`` gives 1-D
    predictions; a 2-D ``y`` (multi-output) gives 2-D predictions.

    Parameters and attributes are those of :class:`NLayerClassifier` (without
    ``classes_``), plus ``n_outputs_``; its optimiser defaults are scikit-learn's
    ``MLPRegressor``'s (``optimizer="adam"``, ``learning_rate=0.001``,
    ``batch_size="auto"``: min(200, rows)); its regularisation is its own.

    Parameters
    ----------
    hidden_layer_sizes, activation, init, batchnorm, dropout, momentum
        As in :class:`NLayerClassifier`.
    optimizer : {"sgd", "adam", "rmsprop"}, default="adam"
    learning_rate : float, default=0.001
    l2 : float, default=3.0
        lambda of the L2 term ``lambda/(2m) sum ||W||^2``. With the targets
        standardised (below) the data loss is near 1 instead of near var(y), and
        scikit-learn's 1e-4 let the network overfit small tables; 3.0 was chosen by
        cross-validation on diabetes and Friedman #1 (mean R^2 over seeds 0-5,
        cv=3: 0.485 and 0.910, against 0.447 and 0.865 with 1e-4 and 200 epochs,
        and 0.473 and 0.928 for StandardScaler + MLPRegressor(max_iter=2000)).
    batch_size : int or "auto", default="auto"
    max_epochs : int, default=400
        Epochs (scikit-learn's max_iter); the stronger L2 needs more of them.
    early_stopping, patience, validation_fraction, normalize
        As in :class:`NLayerClassifier`, the development rows drawn at random.
    scale_targets : bool, default=True
        Standardise each target with the training rows' mean and standard
        deviation inside the network (``compile(scale_targets=True)``), so targets
        in the hundreds train as well as targets near 1; predictions come back in
        the original units. ``validation_scores_`` holds the development-set R^2
        (averaged over outputs), which does not depend on this scaling.
    random_state, dtype, warm_start, verbose
        As in :class:`NLayerClassifier`.

    Attributes
    ----------
    n_outputs_ : int
        Number of targets (1 for a 1-D ``y``); the others are the classifier's.

    Examples
    --------
    >>> import numpy as np
    >>> from nlayer.sklearn import NLayerRegressor                    # doctest: +SKIP
    >>> X = np.random.default_rng(0).normal(size=(100, 3))
    >>> y = X @ [1.0, -2.0, 0.5]
    >>> reg = NLayerRegressor(hidden_layer_sizes=(16,), random_state=0)  # doctest: +SKIP
    >>> reg.fit(X, y).predict(X[:2]).shape                            # doctest: +SKIP
    (2,)
    """

    def __init__(self, hidden_layer_sizes: int | Sequence[int] = (100,), activation: str = "relu",
                 init: str | dict[str, Any] = "auto", batchnorm: bool = False,
                 dropout: float = 0.0, optimizer: str = "adam", learning_rate: float = 0.001,
                 momentum: float = 0.9, l2: float = 3.0, batch_size: int | str = "auto",
                 max_epochs: int = 400, early_stopping: bool = False, patience: int = 10,
                 validation_fraction: float = 0.1, normalize: str | None = "standard",
                 scale_targets: bool = True,
                 random_state: int | np.random.RandomState | None = None,
                 dtype: DTypeLike | None = None, warm_start: bool = False,
                 verbose: int = 0) -> None:
        self._keep(locals())

    scale_targets: bool
    _output = "linear"
    _loss = "mean_squared_error"
    _score_metric = "r2"

    def fit(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None) -> Self:
        """Train on (X, y) for up to ``max_epochs`` epochs; returns self.

        ``sample_weight``: a row of weight w counts as w rows (see
        ``nlayer.training.sample_weights``).
        """
        return self._fit(X, y, incremental=False, sample_weight=sample_weight)

    def partial_fit(self, X: ArrayLike, y: ArrayLike,
                    sample_weight: ArrayLike | None = None) -> Self:
        """One epoch over (X, y), continuing from the previous call."""
        return self._fit(X, y, incremental=True, sample_weight=sample_weight)

    def _fit(self, X, y, incremental, sample_weight=None):
        continuing = self._continues(incremental)
        X, y = _validate_data(self, X, y, reset=not continuing, dtype=_X_DTYPES,
                              multi_output=True, y_numeric=True)
        Y = y.reshape(-1, 1) if y.ndim == 1 else y
        if continuing and (y.ndim == 1) != self._y_1d:
            raise ValueError("y must have the same number of dimensions as in the first call")
        self._train(X, Y, Y.shape[1], incremental, sample_weight)
        self.n_outputs_ = Y.shape[1]
        self._y_1d = y.ndim == 1
        return self

    def predict(self, X: ArrayLike) -> NDArray[Any]:
        """Predicted targets: shape (n_samples,) if fit on 1-D y, else (n_samples, n_outputs)."""
        Y = self._forward(X)
        return Y.ravel() if self._y_1d else Y

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _more_tags(self):  # pragma: no cover - scikit-learn < 1.6
        return {"multioutput": True}
