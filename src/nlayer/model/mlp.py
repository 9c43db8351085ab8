"""``nl.MLP``: a multilayer perceptron's stack of layers in one line."""

import numpy as np

from .. import layers as layers_mod
from .sequential import Sequential

__all__ = ["MLP"]


def MLP(hidden=(100,), activation="relu", output="softmax", n_outputs=None, batchnorm=False,
        dropout=0.0, init="auto", dtype="float32", name="mlp"):
    """A multilayer perceptron in one line.

    Each hidden layer is ``Dense -> [BatchNorm] -> Activation -> [Dropout]``
    (with batch norm the Dense has no bias: BatchNorm's beta replaces it). The
    output layer is ``Dense(n_outputs, output)``; ``n_outputs=None`` takes the
    width from the targets at the first ``fit``. ``init="auto"`` is He for the
    ReLU family and Glorot for tanh/sigmoid.
    """
    if isinstance(hidden, (int, np.integer)):
        hidden = (hidden,)
    stack = []
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
