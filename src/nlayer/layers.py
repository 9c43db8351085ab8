"""Layers: each owns its forward pass, its backward pass, its parameters and their gradients.

Shapes are row-major: a batch ``A_prev`` has shape (m, n_in), one row per sample.
Gradients arriving from the loss already carry the cost's 1/m (see ``losses``), so
the article's ``dW = A_prev^T dZ / m`` is written here as ``A_prev^T dZ``.

Speed without changing the math: forward passes write into per-layer buffers
reused from batch to batch (``Layer.buffer``), so the arrays a layer returns are
only valid until its next forward pass; backward passes overwrite the incoming
``dA``, which no other code reads. ``dA`` may carry a constant factor (the
optimiser's gradient scale, see ``Sequential.backward``); every gradient a layer
derives from it carries the same factor, and Dense multiplies its L2 term by it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from . import activations, initializers
from .utils import checks, fastpaths

__all__ = ["Layer", "Dense", "Activation", "BatchNorm", "Dropout", "from_config"]

#: ``([(name, shape), ...], output width)``; None where the width is not known yet
WeightShapes = tuple[list[tuple[str, tuple[int | None, ...]]], int | None]


class Layer:
    """Base class. ``params`` and ``grads`` map the same names to arrays of one shape; the
    optimiser updates ``params`` in place from ``grads``. ``weight_names`` lists every array
    of ``get_weights()`` in Keras order (trainable or not).

    Parameters
    ----------
    name : str, optional
        At most 256 characters: a TypeError if not a string, a ValueError if longer.

    Examples
    --------
    :class:`Dense`'s builds a layer and checks its forward and backward pass by hand.
    """

    weight_names: tuple[str, ...] = ()
    trainable_names: tuple[str, ...] = ()
    _buffers: dict[tuple[str, tuple[int, ...], DTypeLike], NDArray[Any]]  # made on first use

    def __init__(self, name: str | None = None) -> None:
        self.name = checks.name(name, type(self).__name__, optional=True)
        self.params: dict[str, NDArray[Any]] = {}
        self.grads: dict[str, NDArray[Any]] = {}
        self.built = False
        self.n_in: int | None = None
        self.n_out: int | None = None

    # -- building -----------------------------------------------------------
    def build(self, n_in: int, dtype: DTypeLike, rng: np.random.Generator) -> int:
        """Create parameters for inputs of width ``n_in``; return the output width."""
        self.n_in = self.n_out = n_in
        self.built = True
        return n_in

    def weight_shapes(self, n_in: int) -> WeightShapes:
        """``([(name, shape), ...] in weight_names order, output width)`` for inputs of width
        ``n_in``, without allocating anything (a loaded file's arrays are checked against it)."""
        return [], n_in

    def _alloc_grads(self) -> None:
        self.grads = {k: np.zeros_like(self.params[k]) for k in self.trainable_names}

    def buffer(self, name: str, shape: tuple[int, ...], dtype: DTypeLike) -> NDArray[Any]:
        """A work array reused across batches of the same shape (uninitialised)."""
        try:
            store = self._buffers
        except AttributeError:  # first use, or a copy (copies do not carry buffers)
            store = self._buffers = {}
        key = (name, shape, dtype)
        buf = store.get(key)
        if buf is None:
            if len(store) >= 24:  # many batch sizes seen (predict on varied inputs): start over
                store.clear()
            buf = store[key] = np.empty(shape, dtype=dtype)
        return buf

    def __getstate__(self) -> dict[str, Any]:
        # copies (deepcopy, pickle by third-party tools) carry parameters, not the last batch
        transient = ("_buffers", "A_prev", "Z", "A", "dZ", "Z_hat", "inv_std", "mask")
        return {k: v for k, v in self.__dict__.items() if k not in transient}

    # -- passes -------------------------------------------------------------
    def forward(self, A_prev: NDArray[Any], training: bool = False,
                rng: np.random.Generator | None = None) -> NDArray[Any]:
        raise NotImplementedError

    def backward(self, dA: NDArray[Any], need_dA_prev: bool = True,
                 scale: float = 1.0) -> NDArray[Any] | None:
        """dA_prev from dA, filling ``grads``. ``dA`` carries the factor ``scale``
        (see ``Sequential.backward``); only terms not derived from dA need it."""
        raise NotImplementedError

    # -- weights ------------------------------------------------------------
    def get_weights(self) -> list[NDArray[Any]]:
        return [self.params[k].copy() for k in self.weight_names]

    def set_weights(self, weights: Sequence[ArrayLike]) -> None:
        if len(weights) != len(self.weight_names):
            raise ValueError(
                f"layer {self.name!r} expects {len(self.weight_names)} arrays "
                f"({', '.join(self.weight_names)}), got {len(weights)}"
            )
        for key, w in zip(self.weight_names, weights):
            target = self.params[key]
            w = np.asarray(w)
            if w.shape != target.shape:
                raise ValueError(
                    f"layer {self.name!r} {key}: expected shape {target.shape}, got {w.shape}"
                )
            target[...] = w  # in place: the optimiser keeps references to these arrays

    def count_params(self) -> int:
        """Parameters (trainable or not) once built; 0 before."""
        return int(sum(self.params[k].size for k in self.weight_names)) if self.built else 0

    def get_config(self) -> dict[str, Any]:
        return {"class": type(self).__name__, "name": self.name}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class Dense(Layer):
    """Fully connected layer ``Z = A_prev @ W + b``, ``A = g(Z)``.

    Backward, from ``dA`` (or directly from ``dZ`` when the loss is fused with g)::

        dZ      = dA * g'(Z)
        dW      = A_prev^T dZ + (lambda / m) W      (L2 weight decay, lambda = ``l2``;
                                                 weighted rows: m = sum of weights)
        db      = sum over rows of dZ
        dA_prev = dZ W^T

    Kernel shape (n_in, units), bias shape (units,), as in Keras.

    Parameters
    ----------
    units : int or None
        Width; None (last layer only) takes the width of the targets at the first ``fit``.
    activation : str, dict or None
        g, e.g. ``"relu"``, ``"softmax"``; None is linear.
    init : str, dict or Initializer, default "auto"
        Kernel initialiser; ``"auto"``: He for the ReLU family, Glorot otherwise.
    use_bias : bool, default True
    name : str, optional
        Default: ``dense_<k>`` when added to a model.

    Raises
    ------
    ValueError
        If ``units`` is not a positive integer or None, or the activation is unknown.

    Examples
    --------
    >>> import numpy as np, nlayer as nl
    >>> layer = nl.Dense(3, activation="relu")
    >>> layer.build(4, np.float64, np.random.default_rng(0))
    3
    >>> A_prev = np.random.default_rng(1).normal(size=(5, 4))
    >>> A = layer.forward(A_prev, training=True)
    >>> A.shape, bool(np.allclose(layer.Z, A_prev @ layer.params["kernel"]))  # b starts at 0
    ((5, 3), True)
    >>> dA_prev = layer.backward(np.ones((5, 3)))        # dZ = dA * relu'(Z)
    >>> bool(np.allclose(layer.grads["kernel"], A_prev.T @ layer.dZ))   # dW = A_prev^T dZ
    True
    """

    weight_names: tuple[str, ...] = ("kernel", "bias")
    trainable_names: tuple[str, ...] = ("kernel", "bias")

    def __init__(self, units: int | None, activation: str | dict[str, Any] | None = None,
                 init: Any = "auto", use_bias: bool = True, name: str | None = None) -> None:
        super().__init__(name)
        if units is not None and (isinstance(units, (bool, np.bool_)) or
                                  not isinstance(units, (int, np.integer)) or units < 1):
            raise ValueError(f"Dense units must be a positive integer, got {units!r}")
        self.units = None if units is None else int(units)
        self.activation = activations.get(activation)
        self.init = init
        self.use_bias = bool(use_bias)
        if not use_bias:
            self.weight_names = self.trainable_names = ("kernel",)
        self.l2 = 0.0
        # m of the L2 term when rows are weighted: sum w (see Sequential)
        self.l2_rows: float | None = None
        # resolved at build time ("auto" looks at the following activation)
        self.initializer: initializers.Initializer | None = None

    def build(self, n_in: int, dtype: DTypeLike, rng: np.random.Generator,
              next_activation: str | None = None) -> int:
        if self.units is None:
            raise ValueError(
                f"layer {self.name!r} has units=None: the output width is only known from the "
                "targets; call fit() first or give Dense an explicit number of units"
            )
        act = self.activation.name if self.activation.name != "linear" else next_activation
        self.initializer = initializers.get(self.init, act or "linear")
        self.params = {"kernel": self.initializer((n_in, self.units), rng, dtype)}
        if self.use_bias:
            self.params["bias"] = np.zeros(self.units, dtype=dtype)
        self._alloc_grads()
        self.n_in, self.n_out, self.built = n_in, self.units, True
        return self.units

    def weight_shapes(self, n_in: int) -> WeightShapes:
        shapes: dict[str, tuple[int | None, ...]] = {"kernel": (n_in, self.units),
                                                     "bias": (self.units,)}
        return [(k, shapes[k]) for k in self.weight_names], self.units

    def forward(self, A_prev: NDArray[Any], training: bool = False,
                rng: np.random.Generator | None = None) -> NDArray[Any]:
        W = self.params["kernel"]
        shape = (A_prev.shape[0], W.shape[1])
        Z = np.matmul(A_prev, W, out=self.buffer("Z", shape, W.dtype))
        if self.use_bias:
            Z += self.params["bias"]
        A = self.activation.forward(Z, out=self.buffer("A", shape, W.dtype))
        # Z is kept after inference too: fused losses evaluate from the logits.
        self.A_prev, self.Z, self.A = A_prev, Z, A
        return A

    def backward(self, dA: NDArray[Any], need_dA_prev: bool = True, scale: float = 1.0,
                 is_dZ: bool = False) -> NDArray[Any] | None:
        W, dW = self.params["kernel"], self.grads["kernel"]
        dZ = dA if is_dZ else self.activation.backward(self.Z, self.A, dA)
        self.dZ = dZ  # kept until the next batch, for nlayer.LayerMonitor
        m = dZ.shape[0]
        np.matmul(self.A_prev.T, dZ, out=dW)
        if self.l2:  # dZ carries `scale`, so the decay term must too
            decay = W.dtype.type(scale * self.l2 / (self.l2_rows or m))
            dW += np.multiply(W, decay, out=self.buffer("decay", W.shape, W.dtype))
        if self.use_bias:
            fastpaths.column_sums(dZ, out=self.grads["bias"])  # db = 1^T dZ
        if not need_dA_prev:
            return None
        return np.matmul(dZ, W.T, out=self.buffer("dA_prev", self.A_prev.shape, W.dtype))

    def l2_penalty(self) -> float:
        """Sum of squared kernel entries, ||W||^2 (biases are not regularised)."""
        w = self.params["kernel"].ravel()
        return float(np.dot(w, w))

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "units": self.units,
            "activation": self.activation.get_config(),
            "init": self.initializer.get_config() if self.initializer else _init_config(self.init),
            "use_bias": self.use_bias,
        }

    def __repr__(self) -> str:
        return f"Dense({self.units}, activation={self.activation.name!r})"


def _init_config(init: Any) -> Any:
    if init is None or isinstance(init, (str, dict)):
        return init
    return init.get_config()


class Activation(Layer):
    """Element-wise ``A = g(Z)`` as its own layer; backward ``dZ = dA * g'(Z)``.

    Parameters
    ----------
    activation : str, dict or None
        g by name (``"relu"``, ``"tanh"``, ...), config dict or instance; None is linear.
    name : str, optional

    Examples
    --------
    >>> import numpy as np, nlayer as nl
    >>> layer = nl.Activation("relu")
    >>> layer.forward(np.array([[-1.0, 2.0]]))
    array([[0., 2.]])
    >>> layer.backward(np.array([[5.0, 5.0]]))         # dZ = dA * relu'(Z)
    array([[0., 5.]])
    """

    def __init__(self, activation: str | dict[str, Any] | None, name: str | None = None) -> None:
        super().__init__(name)
        self.activation = activations.get(activation)

    def forward(self, A_prev: NDArray[Any], training: bool = False,
                rng: np.random.Generator | None = None) -> NDArray[Any]:
        A = self.activation.forward(A_prev, out=self.buffer("A", A_prev.shape, A_prev.dtype))
        self.Z, self.A = A_prev, A
        return A

    def backward(self, dA: NDArray[Any], need_dA_prev: bool = True,
                 scale: float = 1.0) -> NDArray[Any] | None:
        return self.activation.backward(self.Z, self.A, dA)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "activation": self.activation.get_config()}

    def __repr__(self) -> str:
        return f"Activation({self.activation.name!r})"


class BatchNorm(Layer):
    """Batch normalisation of Z, placed before the activation.

    Training, per feature j over the m rows of the batch::

        mu = mean(Z), var = mean((Z - mu)^2), Z_hat = (Z - mu) / sqrt(var + eps)
        out = gamma * Z_hat + beta
        moving_mean     <- momentum * moving_mean     + (1 - momentum) * mu
        moving_variance <- momentum * moving_variance + (1 - momentum) * var

    Inference uses the moving averages instead of the batch statistics.
    Backward (exact, through mu and var)::

        dgamma = sum(dout * Z_hat),  dbeta = sum(dout),  dZ_hat = dout * gamma
        dZ = (1/m) / sqrt(var + eps) * (m dZ_hat - sum(dZ_hat) - Z_hat sum(dZ_hat * Z_hat))
           = gamma / sqrt(var + eps) * (dout - (dbeta + Z_hat dgamma) / m)

    Parameters
    ----------
    momentum : float, default 0.99
        In [0, 1).
    epsilon : float, default 1e-3
        > 0. The defaults are Keras's.
    name : str, optional

    Raises
    ------
    ValueError
        If ``momentum`` or ``epsilon`` is out of range.

    Examples
    --------
    >>> import numpy as np, nlayer as nl
    >>> bn = nl.BatchNorm()
    >>> bn.build(2, np.float64, None)
    2
    >>> Z = np.random.default_rng(0).normal(loc=5.0, scale=3.0, size=(256, 2))
    >>> out = bn.forward(Z, training=True)     # gamma = 1, beta = 0 at the start
    >>> np.round(out.mean(axis=0), 6) + 0.0, np.round(out.std(axis=0), 3)
    (array([0., 0.]), array([1., 1.]))
    """

    weight_names: tuple[str, ...] = ("gamma", "beta", "moving_mean", "moving_variance")
    trainable_names: tuple[str, ...] = ("gamma", "beta")

    def __init__(self, momentum: float = 0.99, epsilon: float = 1e-3,
                 name: str | None = None) -> None:
        super().__init__(name)
        self.momentum = checks.real(momentum, "BatchNorm momentum", 0.0, 1.0, high_open=True)
        self.epsilon = checks.real(epsilon, "BatchNorm epsilon", 0.0, low_open=True)

    def build(self, n_in: int, dtype: DTypeLike, rng: np.random.Generator) -> int:
        self.params = {
            "gamma": np.ones(n_in, dtype=dtype),
            "beta": np.zeros(n_in, dtype=dtype),
            "moving_mean": np.zeros(n_in, dtype=dtype),
            "moving_variance": np.ones(n_in, dtype=dtype),
        }
        self._alloc_grads()
        return super().build(n_in, dtype, rng)

    def weight_shapes(self, n_in: int) -> WeightShapes:
        return [(k, (n_in,)) for k in self.weight_names], n_in

    def forward(self, Z: NDArray[Any], training: bool = False,
                rng: np.random.Generator | None = None) -> NDArray[Any]:
        p, dt = self.params, Z.dtype.type
        out = self.buffer("out", Z.shape, Z.dtype)
        if not training:
            scale = p["gamma"] / np.sqrt(p["moving_variance"] + dt(self.epsilon))
            np.subtract(Z, p["moving_mean"], out=out)
            out *= scale
            out += p["beta"]
            return out
        mu = fastpaths.column_means(Z)
        Z_hat = np.subtract(Z, mu, out=self.buffer("Z_hat", Z.shape, Z.dtype))
        squares = np.multiply(Z_hat, Z_hat, out=self.buffer("tmp", Z.shape, Z.dtype))
        var = fastpaths.column_means(squares)
        inv_std = 1.0 / np.sqrt(var + dt(self.epsilon))
        Z_hat *= inv_std
        self.Z_hat, self.inv_std = Z_hat, inv_std
        mom = dt(self.momentum)
        p["moving_mean"] *= mom
        p["moving_mean"] += (1 - mom) * mu
        p["moving_variance"] *= mom
        p["moving_variance"] += (1 - mom) * var
        np.multiply(Z_hat, p["gamma"], out=out)
        out += p["beta"]
        return out

    def backward(self, dout: NDArray[Any], need_dA_prev: bool = True,
                 scale: float = 1.0) -> NDArray[Any] | None:
        Z_hat, tmp = self.Z_hat, self.buffer("tmp", self.Z_hat.shape, self.Z_hat.dtype)
        dgamma, dbeta = self.grads["gamma"], self.grads["beta"]
        fastpaths.column_sums(np.multiply(dout, Z_hat, out=tmp), out=dgamma)
        fastpaths.column_sums(dout, out=dbeta)
        # With dZ_hat = dout * gamma, the means over the batch in the formula above are
        # mean(dZ_hat) = gamma dbeta / m and mean(dZ_hat Z_hat) = gamma dgamma / m, so
        #   dZ = gamma inv_std (dout - (dbeta + Z_hat dgamma) / m)
        inv_m = Z_hat.dtype.type(1.0 / Z_hat.shape[0])
        dZ = dout
        dZ -= dbeta * inv_m
        dZ -= np.multiply(Z_hat, dgamma * inv_m, out=tmp)
        dZ *= self.params["gamma"] * self.inv_std
        return dZ

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "momentum": self.momentum, "epsilon": self.epsilon}


class Dropout(Layer):
    """Inverted dropout: in training ``A = A_prev * mask / (1 - rate)``; identity at inference.

    Backward: ``dA_prev = dA * mask / (1 - rate)``. Each unit is dropped when a
    16-bit random integer falls below ``round(rate * 65536)``, so the rate is
    applied at 1/65536 resolution and the scale uses that exact rate (the
    expected activation is unchanged). Drawing raw bits is 3x faster than
    drawing floats, and dropout's random numbers are most of its cost.

    Parameters
    ----------
    rate : float
        Share of units dropped, in [0, 1).
    name : str, optional

    Raises
    ------
    ValueError
        If ``rate`` is outside [0, 1) or rounds to 1.

    Examples
    --------
    >>> import numpy as np, nlayer as nl
    >>> drop = nl.Dropout(0.5)
    >>> A = drop.forward(np.ones((1000, 4)), training=True, rng=np.random.default_rng(0))
    >>> sorted(set(A.ravel().tolist()))                 # dropped, or scaled by 1 / (1 - rate)
    [0.0, 2.0]
    >>> bool(np.array_equal(drop.forward(np.ones((2, 4))), np.ones((2, 4))))  # inference
    True
    """

    def __init__(self, rate: float, name: str | None = None) -> None:
        super().__init__(name)
        rate = checks.real(rate, "Dropout rate", low=0.0, high=1.0, high_open=True)
        self.rate = rate
        self._threshold = round(rate * 65536)
        if self._threshold >= 65536:  # every unit dropped: nothing would pass
            raise ValueError(f"Dropout rate {rate!r} rounds to 1 at dropout's resolution of "
                             f"1/65536 (every unit dropped); use a rate of at most "
                             f"{65535 / 65536:.6f}")

    def forward(self, A_prev: NDArray[Any], training: bool = False,
                rng: np.random.Generator | None = None) -> NDArray[Any]:
        if not training or self._threshold == 0:
            self.mask: NDArray[Any] | None = None
            return A_prev
        if rng is None:
            raise ValueError("Dropout needs a random generator in training")
        shape, dt, size = A_prev.shape, A_prev.dtype, A_prev.size
        bits = rng.bit_generator.random_raw(-(-size // 4)).view(np.uint16)[:size].reshape(shape)
        keep = np.greater_equal(bits, self._threshold, out=self.buffer("keep", shape, np.bool_))
        scale = dt.type(65536 / (65536 - self._threshold))
        self.mask = np.multiply(keep, scale, out=self.buffer("mask", shape, dt))
        return np.multiply(A_prev, self.mask, out=self.buffer("out", shape, dt))

    def backward(self, dA: NDArray[Any], need_dA_prev: bool = True,
                 scale: float = 1.0) -> NDArray[Any] | None:
        if self.mask is not None:
            dA *= self.mask
        return dA

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rate": self.rate}

    def __repr__(self) -> str:
        return f"Dropout({self.rate})"


_CLASSES = {cls.__name__: cls for cls in (Dense, Activation, BatchNorm, Dropout)}


def from_config(config: dict[str, Any]) -> Layer:
    """Rebuild an (unbuilt) layer from ``get_config()`` output."""
    config = dict(config)
    cls_name = config.pop("class", None)
    if cls_name not in _CLASSES:
        raise ValueError(f"unknown layer class {cls_name!r}; known: {', '.join(_CLASSES)}")
    return _CLASSES[cls_name](**config)
