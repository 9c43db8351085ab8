"""The model: an ordered stack of layers, its prediction and evaluation.

Its passes and cost (the math: Z, A, dZ, dW, db, lambda) are in :mod:`nlayer.model.passes`;
the training loop that ``Sequential.fit`` runs lives in :mod:`nlayer.training`.
"""

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Self

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from .. import layers as layers_mod
from .. import losses, metrics as metrics_mod, optimizers, saving, training
from ..callbacks import Callback, History
from ..errors import NotFittedError
from ..preprocessing import Standardizer, _Normalizer, get_normalizer
from ..training import memory, sample_weights
from ..training.augmentation import Augmentation, Transform
from ..training.rows import Rows, RowSource
from ..training.state import Totals
from ..utils import checks, fastpaths
from . import file_contents, inference, passes
from .summary import summary_html, summary_text

__all__ = ["Sequential"]

_DTYPES = ("float32", "float64")
#: what X may be: an array, or an array-like with shape, dtype and row indexing (a memory
#: map, an h5py or zarr array; see nlayer.training.rows)
_Features = ArrayLike | RowSource
_Path = str | os.PathLike[str]


class Sequential:
    """A stack of layers trained by mini-batch gradient descent.

    Parameters
    ----------
    layers : iterable of Layer, optional
        The layers in order, input to output (more with :meth:`add`).
    dtype : {"float32", "float64"}
        Fixed when the model is made: weights, inputs, activations and gradients all use it.
    name : str, default "sequential"

    Raises
    ------
    ValueError
        If ``dtype`` is neither float32 nor float64 (TypeError: a layer is not an nlayer layer).

    Examples
    --------
    >>> import numpy as np, nlayer as nl
    >>> X = np.random.default_rng(0).normal(size=(200, 3)); y = (X[:, 0] > 0).astype(int)
    >>> model = nl.Sequential([nl.Dense(8, activation="relu"), nl.Dense(2, activation="softmax")])
    >>> model.compile(optimizer=nl.Adam(lr=0.01), metrics=["accuracy"])
    Sequential(2 layers, dtype=float32)
    >>> history = model.fit(X, y, epochs=10, batch_size=32, seed=0)
    >>> model.predict(X[:2]).shape
    (2, 2)
    >>> bool(model.evaluate(X, y)["accuracy"] > 0.9)
    True
    """

    #: called as ``tap(scale)`` between back propagation and the optimiser's step when set
    #: (nlayer.LayerMonitor sets it for the steps it samples; each fit starts without one)
    _step_tap: Callable[[float], None] | None = None
    #: an adversarial step's copy of the clean batch's gradients, kept for the next step
    _clean_grads: NDArray[Any] | None = None

    def __init__(self, layers: Iterable[layers_mod.Layer] | None = None,
                 dtype: DTypeLike = "float32", name: str = "sequential") -> None:
        dtype = np.dtype(dtype).name if dtype is not None else "float32"
        if dtype not in _DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(_DTYPES)}, got {dtype!r}")
        self.dtype = np.dtype(dtype)
        self.name = checks.name(name, "Sequential")
        self.layers: list[layers_mod.Layer] = []
        self.n_features: int | None = None
        self.compiled = False
        self.normalizer: _Normalizer | None = None
        # compile(scale_targets=True): y standardised inside the model
        self.target_scaler: Standardizer | None = None
        self.history: History | None = None
        self.metadata: dict[str, Any] = {}  # free JSON-serialisable notes saved with the model (e.g. CSV schema)
        self.stop_training = False
        self._fit_state: Any = None  # set during fit (see nlayer.training.state.FitState)
        for layer in layers or []:
            self.add(layer)

    # -- construction --------------------------------------------------------
    def add(self, layer: layers_mod.Layer) -> None:
        if not isinstance(layer, layers_mod.Layer):
            raise TypeError(f"expected an nlayer layer, got {type(layer).__name__}")
        if self.built:
            raise RuntimeError("cannot add layers to a built model")
        counts = self._type_counts()
        if layer.name is None:
            layer.name = f"{type(layer).__name__.lower()}_{counts.get(type(layer), 0) + 1}"
        self.layers.append(layer)
        counts[type(layer)] = counts.get(type(layer), 0) + 1
        self._counted += 1

    def _type_counts(self) -> dict[type, int]:
        """Layers per type, kept as layers are added so that naming n layers is linear in n
        (recounted if ``layers`` was changed directly)."""
        if self.__dict__.get("_counted") != len(self.layers):
            self._counts: dict[type, int] = {}
            for other in self.layers:
                self._counts[type(other)] = self._counts.get(type(other), 0) + 1
            self._counted = len(self.layers)
        return self._counts

    @property
    def built(self) -> bool:
        return self.n_features is not None

    def build(self, input_shape: int | Sequence[int | None],
              seed: int | np.random.Generator | None = None) -> Self:
        """Create every layer's weights for inputs of ``input_shape = (None, n_features)``."""
        n = input_shape[-1] if isinstance(input_shape, (tuple, list)) else input_shape
        if not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"input_shape must end in a positive feature count, got {input_shape!r}")
        if not self.layers:
            raise ValueError("the model has no layers; add at least one Dense layer")
        if len(self.layers) > saving.schema.MAX_LAYERS:
            raise ValueError(f"the model has {len(self.layers):,} layers; model files keep at "
                             f"most {saving.schema.MAX_LAYERS:,}, so it could not be saved")
        memory.check(self.layers, n, self.dtype,
                     optimizer=self.optimizer if self.compiled else None)
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        width = int(n)
        for i, layer in enumerate(self.layers):
            if isinstance(layer, layers_mod.Dense):
                width = layer.build(width, self.dtype, rng, self._next_activation(i))
            else:
                width = layer.build(width, self.dtype, rng)
        self.n_features = int(n)
        self._pack_parameters()
        return self

    def _pack_parameters(self) -> None:
        """Every trainable array into one buffer, its gradient into another (see
        :func:`nlayer.utils.fastpaths.pack`); the layers' dicts hold views into them."""
        self._flat_params, self._flat_grads = fastpaths.pack(self.layers, self.dtype)

    def __getstate__(self) -> dict[str, Any]:
        # copies (deepcopy, pickle) cannot keep the layers' arrays as views into the packed
        # buffers; they carry the layers' arrays and pack them again in __setstate__
        return {k: v for k, v in self.__dict__.items()
                if k not in ("_flat_params", "_flat_grads", "_step_tap", "_clean_grads")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        if self.built:
            self._pack_parameters()

    def _next_activation(self, i: int) -> str | None:
        """Name of the first activation after layer i (for init='auto' on a linear Dense)."""
        for layer in self.layers[i + 1:]:
            if isinstance(layer, layers_mod.Dense):
                return None
            if isinstance(layer, layers_mod.Activation):
                return layer.activation.name
        return None

    def compile(self, optimizer: str | dict[str, Any] | optimizers.Optimizer = "sgd",
                loss: str | losses.Loss | None = None, l2: float = 0.0,
                metrics: Sequence[str] | None = None, normalize: str | _Normalizer | None = None,
                scale_targets: bool = False) -> Self:
        """Choose the optimiser, the loss, the L2 strength lambda, metrics and input normalisation.

        Parameters
        ----------
        optimizer : str, dict or Optimizer, default "sgd"
        loss : str or Loss, optional
            None follows the output activation: softmax -> categorical_crossentropy,
            sigmoid -> binary_crossentropy, anything else -> mean_squared_error.
        l2 : float, default 0.0
            lambda >= 0, the L2 penalty on the Dense kernels.
        metrics : list of str, optional
        normalize : {"standard", "minmax"} or None
            Input normaliser, fit on the training rows at the first ``fit``, stored in the model.
        scale_targets : bool, default False
            Regression only (off by default, so a plain model is the method's math):
            standardise Y with the training rows' mean and standard deviation at the first
            ``fit``: the network learns ``(Y - mean) / std``, ``predict`` returns
            ``A * std + mean`` in the original units, and both are stored in the model file
            and the ONNX graph. J is then measured on standardised targets; the metrics
            (mse, mae, r2) stay in the original units.

        Returns
        -------
        Sequential

        Raises
        ------
        ValueError, TypeError
            For an unknown name, a negative ``l2``, ``metrics`` given as a string, or
            ``scale_targets`` with a classification loss.
        """
        self.optimizer = optimizers.get(optimizer)
        self.optimizer.bind(self)  # one model per optimiser: its state follows these weights
        self.loss = losses.get(loss if loss is not None else self._default_loss())
        self.l2 = checks.real(l2, "l2 (lambda)", low=0.0)
        for layer in self._dense_layers():
            layer.l2 = self.l2
        if isinstance(metrics, str):
            raise TypeError(f"metrics must be a list of names, e.g. metrics=[{metrics!r}]; "
                            f"got the string {metrics!r}")
        self.metrics = [metrics_mod.get(name, self.loss) for name in (metrics or [])]
        self.normalizer = get_normalizer(normalize)
        if not isinstance(scale_targets, (bool, np.bool_)):
            raise TypeError(f"scale_targets must be True or False, got {scale_targets!r}")
        if scale_targets and self.loss.classification:
            raise ValueError(f"scale_targets=True is for regression; the loss "
                             f"{self.loss.name!r} takes class labels, which are not rescaled")
        self.target_scaler = Standardizer() if scale_targets else None
        self.compiled = True
        return self

    def _default_loss(self) -> str:
        act = self.output_activation
        return {"softmax": "categorical_crossentropy", "sigmoid": "binary_crossentropy"}.get(
            act, "mean_squared_error")

    @property
    def output_activation(self) -> str:
        for layer in reversed(self.layers):
            if isinstance(layer, (layers_mod.Dense, layers_mod.Activation)):
                return layer.activation.name
        return "linear"

    def _dense_layers(self) -> list[layers_mod.Dense]:
        return [l for l in self.layers if isinstance(l, layers_mod.Dense)]

    @property
    def n_outputs(self) -> int | None:
        dense = self._dense_layers()
        return dense[-1].units if dense else None

    # -- passes ---------------------------------------------------------------
    def forward(self, X: NDArray[Any], training: bool = False,
                rng: np.random.Generator | None = None) -> NDArray[Any]:
        """A^[L] for inputs already normalised and of the model's dtype."""
        A = X
        for layer in self.layers:
            A = layer.forward(A, training=training, rng=rng)
        return A

    def _fused_start(self) -> int | None:
        """Index of the layer whose dZ the loss gives directly, or None (general path)."""
        return passes.fused_start(self)

    def _output_logits(self) -> NDArray[Any] | None:
        """Z of the fused output layer (for the loss), or None."""
        return passes.output_logits(self)

    def backward(self, A: NDArray[Any], Y: NDArray[Any], scale: float = 1.0,
                 weights: NDArray[Any] | None = None) -> None:
        """Back propagation from the output A and targets Y: fills every layer's ``grads``.

        The passes are linear in the loss gradient they start from, so starting from
        ``scale * dJ/dZ`` fills ``grads`` with ``scale`` times the gradients (the
        optimiser's :attr:`~nlayer.optimizers.Optimizer.gradient_scale`). ``weights``
        are the rows' weights w_i (see :meth:`cost`).
        """
        batch = None if weights is None else sample_weights.Batch(weights)
        passes.backward(self, A, Y, scale, batch)

    def cost(self, A: NDArray[Any], Y: NDArray[Any],
             weights: NDArray[Any] | None = None) -> float:
        """J = data loss + (lambda / (2m)) sum ||W||^2 for a batch of m rows.

        With row weights w_i a row counts w_i times: the data loss is the weighted
        mean sum w_i L_i / sum w_i and m in the L2 term is sum w_i.
        """
        return passes.cost(self, A, Y, None if weights is None else sample_weights.Batch(weights))

    def _l2_term(self, m: float) -> float:
        """(lambda / (2m)) sum over Dense kernels of ||W||^2 (0 without L2)."""
        return passes.l2_term(self, m)

    @property
    def trainable_params(self) -> list[NDArray[Any]]:
        return [l.params[k] for l in self.layers for k in l.trainable_names]

    @property
    def trainable_grads(self) -> list[NDArray[Any]]:
        return [l.grads[k] for l in self.layers for k in l.trainable_names]

    def train_step(self, Xb: NDArray[Any], Yb: NDArray[Any], rng: np.random.Generator | None,
                   Wb: NDArray[Any] | None = None,
                   adversarial: float | None = None) -> tuple[float, NDArray[Any]]:
        """One mini-batch: forward, cost, backward with the optimiser's update. Returns (J, A).

        ``Wb``: the rows' weights w_i, or None (every row counts once); ``adversarial``:
        fit's epsilon (:func:`nlayer.model.passes.train_step`).
        """
        return passes.train_step(self, Xb, Yb, rng, Wb, adversarial)

    # -- training ---------------------------------------------------------------
    def fit(self, X: _Features, y: ArrayLike, epochs: int = 1, batch_size: int = 32,
            validation_split: float = 0.0,
            validation_data: tuple[_Features, ArrayLike] | None = None, shuffle: bool | str = True,
            seed: int | None = None, callbacks: Iterable[Callback] | None = None,
            verbose: int = 0, resume_from: _Path | None = None,
            sample_weight: ArrayLike | None = None,
            class_weight: str | Mapping[int, float] | None = None,
            augment: Augmentation | Transform | list[Transform] | None = None,
            adversarial: float | None = None) -> History:
        """Train on (X, y) by mini-batch gradient descent and return a :class:`History`.

        Parameters
        ----------
        X : array_like, shape (m, n_features)
            An array or an array-like such as ``np.load(path, mmap_mode="r")``, read a
            batch at a time, never copied whole (``nlayer.training.rows``).
        y : array_like
        epochs, batch_size : int, default 1 and 32
            Rows are reshuffled every epoch from the seeded generator; the last partial batch is used.
        validation_split : float, default 0.0
            Share of the rows held out (at random, stratified for classification) as the
            development set; not with ``validation_data`` ``(X_dev, y_dev)``.
        shuffle : bool or "blocks", default True
            ``"blocks"`` reads runs of rows in random order, for a slow disk or an X bigger
            than memory (:func:`nlayer.training.order.epoch_order`).
        seed : int, optional
        callbacks : list of Callback, optional
        verbose : {0, 1, 2}, default 0
            0 silent; 1 one progress bar redrawn in place (Jupyter, terminals; tqdm's when
            installed); 2 a line per epoch.
        resume_from : path, optional
            Continue from a checkpoint (:class:`~nlayer.ModelCheckpoint`) with the same data,
            settings and callbacks as the interrupted run: it ends with the weights and
            history that run would have had (``epochs`` may grow).
        sample_weight : array_like, optional
            One number >= 0 per row. With ``class_weight`` (``"balanced"``: n / (k n_c) as in
            scikit-learn, or ``{class id: weight}``) it weights the rows: the loss, its
            gradient and the metrics become weighted means (see :meth:`cost`); both may be
            given (they multiply). The development rows keep their weights.
        class_weight : "balanced", dict or None
        augment : Augmentation, transform or list of transforms, optional
            E.g. ``[nl.RandomTranslation(2), nl.RandomFlip()]``: transforms each training batch anew.
        adversarial : float, optional
            Adversarial training (Goodfellow et al. 2015): each step descends the mean cost
            of the batch and of its rows moved by this epsilon (> 0, in the units of the
            normalised inputs) along the sign of the cost's gradient; twice the passes.

        Returns
        -------
        History

        Raises
        ------
        RuntimeError
            If the model is not compiled (ValueError: malformed data or settings).
        TrainingDivergedError
            If the cost stops being a finite number.
        """
        return training.fit(self, X, y, epochs, batch_size, validation_split, validation_data,
                            shuffle, seed, callbacks, verbose, resume_from, sample_weight,
                            class_weight, augment, adversarial)

    def _totals(self, penalised: bool = True) -> Totals:
        """Running sums of loss (with the L2 penalty apart when there is one and
        ``penalised``) and metrics; metrics in the targets' original units."""
        return Totals(self.metrics, self._unscale_targets if self.target_scaler is not None
                      else None, penalised=penalised and bool(self.l2))

    def _scale_targets(self, Y: NDArray[Any] | None) -> NDArray[Any] | None:
        """(Y - mean) / std in the model's dtype (compile(scale_targets=True))."""
        # called only with a target scaler (compile(scale_targets=True)), hence not None
        return None if Y is None else self.target_scaler.transform(Y)  # type: ignore[union-attr]

    def _unscale_targets(self, A: NDArray[Any]) -> NDArray[Any]:
        """Outputs or standardised targets back in the original units (or A itself)."""
        if self.target_scaler is None or not self.target_scaler.fitted:
            return A
        return self.target_scaler.inverse_transform(A)

    # -- inference --------------------------------------------------------------
    def predict(self, X: _Features, batch_size: int | None = None) -> NDArray[Any]:
        """Outputs A^[L] for raw inputs X: class probabilities, or values for regression.

        An unbuilt model with known layer sizes builds its (untrained) weights here, as in Keras.

        Parameters
        ----------
        X : array_like, shape (m, n_features)
        batch_size : int, optional
            Rows per forward pass (default 4096).

        Returns
        -------
        ndarray, shape (m, n_outputs)

        Raises
        ------
        NotFittedError
            If the model has no weights or its input normaliser is not fitted yet.
        """
        return inference.predict(self, X, batch_size)

    def evaluate(self, X: _Features, y: ArrayLike, batch_size: int | None = None,
                 sample_weight: ArrayLike | None = None) -> dict[str, float]:
        """``{"loss": J, <metric>: value, ...}`` on (X, y); J includes the L2 term.

        Parameters
        ----------
        X, y : array_like
        batch_size : int, optional
        sample_weight : array_like, optional
            Makes the loss and metrics weighted means over the rows.

        Returns
        -------
        dict of str to float
        """
        return inference.evaluate(self, X, y, batch_size, sample_weight)

    def _evaluate_arrays(self, X: Rows, Y: NDArray[Any], batch_size: int | None = None,
                         W: NDArray[Any] | None = None, parts: bool = False) -> dict[str, float]:
        """``evaluate``'s logs on X's Rows and prepared targets; ``parts``: with an L2 penalty,
        also ``data_loss`` and ``l2_penalty`` (fit records them for the development set)."""
        return inference.evaluate_arrays(self, X, Y, batch_size, W, parts)

    def _rows(self, X: _Features, what: str = "X") -> Rows:
        """X's rows as the model reads them (:class:`nlayer.training.rows.Rows`)."""
        X = checks.feature_table(X, self.n_features if self.built else None, what)
        return Rows(X, self.dtype, self.normalizer, what=what)

    def _normalize(self, X: NDArray[Any] | None) -> NDArray[Any] | None:
        return X if X is None or self.normalizer is None else self.normalizer.transform(X)

    def _require_compiled(self) -> None:
        if not self.compiled:
            raise RuntimeError("the model is not compiled; call model.compile(optimizer=..., loss=...) first")

    def _require_built(self) -> None:
        if not self.built:
            raise NotFittedError("the model has no weights yet; call fit() or build((None, n_features)) first")

    # -- weights ----------------------------------------------------------------
    def get_weights(self) -> list[NDArray[Any]]:
        """Copies of every array in Keras order: Dense kernel, bias; BatchNorm gamma, beta, moving mean/variance."""
        self._require_built()
        return [w for layer in self.layers for w in layer.get_weights()]

    def set_weights(self, weights: Iterable[ArrayLike]) -> None:
        """Load arrays in :meth:`get_weights` order (cast to the model's dtype)."""
        self._require_built()
        weights = list(weights)
        expected = sum(len(l.weight_names) for l in self.layers)
        if len(weights) != expected:
            raise ValueError(f"expected {expected} weight arrays, got {len(weights)}")
        i = 0
        for layer in self.layers:
            k = len(layer.weight_names)
            layer.set_weights([np.asarray(w) for w in weights[i:i + k]])
            i += k

    def count_params(self) -> int:
        return sum(layer.count_params() for layer in self.layers) if self.built else 0

    def summary(self, print_fn: Callable[[str], object] = print) -> None:
        """Print the layers and compile settings (see :mod:`nlayer.model.summary`)."""
        print_fn(summary_text(self))

    _repr_html_ = summary_html  # Jupyter shows a model as the summary's HTML table

    # -- configuration and files ----------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        """The layers and compile settings as JSON-ready data (saved in the model file)."""
        return file_contents.config(self)

    @classmethod
    def from_config(cls, config: Mapping[str, Any], dtype: DTypeLike | None = None) -> Self:
        """An unbuilt model with the same layers (and compile settings) as ``config``."""
        return file_contents.from_config(cls, config, dtype)

    def save(self, path: _Path) -> None:
        """Write the model to one file, atomically (see :mod:`nlayer.saving.modelfile`)."""
        saving.save(self, path)

    @classmethod
    def from_file_contents(cls, path: _Path, header: Mapping[str, Any],
                           arrays: Mapping[str, NDArray[Any]]) -> Self:
        """The model a checked file's header and arrays describe (:func:`nlayer.saving.read`)."""
        return file_contents.build(cls, path, header, arrays)

    def to_onnx(self, path: _Path, **options: Any) -> _Path:
        """Export for inference with ONNX Runtime (see :func:`nlayer.onnx.export_onnx`)."""
        from ..onnx import export_onnx  # the optional onnx package, imported on use
        return export_onnx(self, path, **options)

    def __repr__(self) -> str:
        return f"Sequential({len(self.layers)} layers, dtype={self.dtype.name})"
