"""``nl.MLP``: a multilayer perceptron's stack of layers in one line."""

from collections.abc import Iterable
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from .. import initializers, layers as layers_mod
from .sequential import Sequential

__all__ = ["MLP"]


def MLP(hidden: int | Iterable[int] = (100,), activation: str | dict[str, Any] = "relu",
        output: str | dict[str, Any] = "softmax", n_outputs: int | None = None,
        batchnorm: bool = False, dropout: float = 0.0,
        init: str | dict[str, Any] | initializers.Initializer = "auto",
        dtype: DTypeLike = "float32", name: str = "mlp") -> Sequential:
    """A multilayer perceptron in one line.

    Each hidden layer is ``Dense -> [BatchNorm] -> Activation -> [Dropout]``
    (with batch norm the Dense has no bias: BatchNorm's beta replaces it). The
    output layer is ``Dense(n_outputs, output)``; ``n_outputs=None`` takes the
    width from the targets at the first ``fit``. ``init="auto"`` is He for the
    ReLU family and Glorot for tanh/sigmoid.

    Parameters
    ----------
    hidden : int or iterable of int, default (100,)
        Units of each hidden layer.
    activation : str or dict, default "relu"
        The hidden layers' activation.
    output : str or dict, default "softmax"
        The output layer's activation (``"sigmoid"``, ``"linear"`` for regression, ...).
    n_outputs : int, optional
    batchnorm : bool, default False
    dropout : float, default 0.0
        Dropout rate after each hidden activation (0: no Dropout layers).
    init : str, dict or Initializer, default "auto"
    dtype : {"float32", "float64"}
    name : str, default "mlp"

    Returns
    -------
    Sequential
        Not compiled yet.

    Examples
    --------
    >>> import numpy as np, nlayer as nl
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(400, 4))
    >>> y = (X[:, 0] + X[:, 1] > 0).astype(int)         # two classes
    >>> model = nl.MLP(hidden=(16, 8))
    >>> model.compile(optimizer=nl.SGD(lr=0.1, momentum=0.9), metrics=["accuracy"])
    Sequential(3 layers, dtype=float32)
    >>> history = model.fit(X, y, epochs=20, batch_size=32, validation_split=0.2, seed=0)
    >>> model.predict(X[:3]).shape                       # class probabilities
    (3, 2)
    >>> model.evaluate(X, y)["accuracy"] > 0.95
    True
    """
    if isinstance(hidden, (int, np.integer)):
        hidden = (hidden,)
    stack: list[layers_mod.Layer] = []
    for units in hidden:
        if batchnorm:
            stack += [layers_mod.Dense(units, init=init, use_bias=False), layers_mod.BatchNorm(),
                      layers_mod.Activation(activation)]
        else:
            stack.append(layers_mod.Dense(units, activation=activation, init=init))
        if dropout:
            stack.append(layers_mod.Dropout(dropout))
    stack.append(layers_mod.Dense(n_outputs, activation=output, init=init))
    return Sequential(stack, dtype=dtype, name=name)
