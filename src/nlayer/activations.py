"""Activation functions g and their derivatives, as used in ``A = g(Z)``.

Every activation has a forward ``g(Z)`` and a backward that turns the upstream
gradient ``dA`` into ``dZ = dA * g'(Z)`` (softmax: the Jacobian-vector product).
They are written to stay finite in float32 for ``|z|`` up to 1e4.

For speed, ``forward`` may write into a given ``out`` array and ``backward``
overwrites ``dA`` (the layers hand it a buffer nobody else reads), so a
training step allocates no new arrays for activations.

Why each helps or hurts gradients:

- ``sigmoid``  g(z) = 1 / (1 + e^-z),  g' = A (1 - A) <= 0.25: every layer
  shrinks the gradient by at least 4x, so deep sigmoid stacks vanish.
- ``tanh``     g' = 1 - A^2 <= 1: zero-centred, still saturates for large |z|.
- ``relu``     g(z) = max(0, z), g' in {0, 1}: no shrinking for active units,
  the default for deep nets; units stuck at z < 0 get no gradient ("dead").
- ``leaky_relu``  g(z) = z if z > 0 else alpha z: a small slope keeps dead units alive.
- ``softmax``  A_k = e^{z_k} / sum_j e^{z_j}: class probabilities; paired with
  cross-entropy its gradient fuses to ``dZ = A - Y``.
- ``linear``   g(z) = z: the output of regression.
"""

import numpy as np

from .utils import fastpaths
from .utils.registry import build

__all__ = ["Activation", "get", "NAMES"]


class Activation:
    """Base class: ``forward(Z, out=None) -> A`` and ``backward(Z, A, dA) -> dZ`` (in place in dA)."""

    name = "activation"

    def forward(self, Z, out=None):
        raise NotImplementedError

    def backward(self, Z, A, dA):
        raise NotImplementedError

    def get_config(self):
        return {"name": self.name}

    def __repr__(self):
        return f"{type(self).__name__}()"


class Linear(Activation):
    """g(z) = z, g'(z) = 1."""

    name = "linear"

    def forward(self, Z, out=None):
        return Z

    def backward(self, Z, A, dA):
        return dA


class Sigmoid(Activation):
    """g(z) = 1 / (1 + e^-z); g'(z) = A (1 - A)."""

    name = "sigmoid"

    def forward(self, Z, out=None):
        # 0.5 * (1 + tanh(z/2)) is the logistic function without exp overflow.
        A = np.multiply(Z, 0.5, out=out)
        np.tanh(A, out=A)
        A += 1.0
        A *= 0.5
        return A

    def backward(self, Z, A, dA):
        dA *= A
        dA *= 1.0 - A
        return dA


class Tanh(Activation):
    """g(z) = tanh(z); g'(z) = 1 - A^2."""

    name = "tanh"

    def forward(self, Z, out=None):
        return np.tanh(Z, out=out)

    def backward(self, Z, A, dA):
        dA *= 1.0 - A * A
        return dA


class ReLU(Activation):
    """g(z) = max(0, z); g'(z) = 1 if z > 0 else 0."""

    name = "relu"

    def forward(self, Z, out=None):
        # against an array of zeros rather than the scalar 0: NumPy's two-array loop is
        # vectorised, the scalar-broadcast one is not (3x slower on float32)
        return np.maximum(Z, fastpaths.zeros(Z.shape, Z.dtype), out=out)

    def backward(self, Z, A, dA):
        # dZ = dA where the unit was active (z > 0), 0 elsewhere
        np.multiply(dA, Z > 0, out=dA)
        return dA


class LeakyReLU(Activation):
    """g(z) = z if z > 0 else alpha z; g'(z) = 1 or alpha."""

    name = "leaky_relu"

    def __init__(self, alpha=0.01):
        alpha = float(alpha)
        if not 0.0 <= alpha < 1.0:
            raise ValueError(f"leaky_relu alpha must be in [0, 1), got {alpha}")
        self.alpha = alpha

    def forward(self, Z, out=None):
        # for 0 <= alpha < 1, max(z, alpha z) is z when z > 0 and alpha z otherwise
        A = np.multiply(Z, Z.dtype.type(self.alpha), out=out)
        return np.maximum(Z, A, out=A)

    def backward(self, Z, A, dA):
        dA[Z <= 0] *= dA.dtype.type(self.alpha)
        return dA

    def get_config(self):
        return {"name": self.name, "alpha": self.alpha}

    def __repr__(self):
        return f"LeakyReLU(alpha={self.alpha})"


class Softmax(Activation):
    """A_k = e^{z_k - max z} / sum_j e^{z_j - max z} (row-wise).

    Backward is the Jacobian-vector product dZ = A * (dA - sum_k dA_k A_k).
    With cross-entropy the loss bypasses this and uses the fused ``A - Y``.
    """

    name = "softmax"

    def forward(self, Z, out=None):
        A = np.subtract(Z, fastpaths.row_max(Z)[:, None], out=out)
        np.exp(A, out=A)
        A /= (A @ fastpaths.ones(A.shape[1], A.dtype))[:, None]  # row sums, as A 1
        return A

    def backward(self, Z, A, dA):
        dA -= np.sum(dA * A, axis=1, keepdims=True)
        dA *= A
        return dA


_REGISTRY = {
    "linear": Linear,
    "sigmoid": Sigmoid,
    "tanh": Tanh,
    "relu": ReLU,
    "leaky_relu": LeakyReLU,
    "softmax": Softmax,
}
NAMES = tuple(_REGISTRY)


def get(spec):
    """Return an :class:`Activation` from a name, a config dict or an instance (None is linear)."""
    if spec is None:
        return Linear()
    return build(spec, Activation, _REGISTRY, "activation")
