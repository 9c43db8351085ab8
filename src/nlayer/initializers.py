"""Weight initialisers: how W of shape (n_in, n_out) is drawn before training.

The scale matters because each layer multiplies the variance of its input by
``n_in * Var(W)`` (times the activation's gain). Keeping that product near 1
keeps activations and gradients from vanishing or exploding with depth:

- ``he_normal`` / ``he_uniform``: Var(W) = 2 / n_in, for the ReLU family (ReLU
  zeroes half its inputs, hence the 2).
- ``xavier``: W ~ N(0, 1 / n_in), the classic choice for tanh.
- ``glorot_normal`` / ``glorot_uniform``: Var(W) = 2 / (n_in + n_out), balancing
  the forward and backward passes, for tanh and sigmoid.
- ``random_normal(stddev=0.01)``: the naive scheme; too small and deep nets
  vanish, too large and they explode. Kept so that users can watch it fail.

Biases always start at zero.
"""

import numpy as np

from .utils.registry import build

__all__ = ["Initializer", "get", "NAMES", "auto_for"]


class Initializer:
    """Draws a kernel: ``init(shape, rng, dtype) -> ndarray``."""

    name = "initializer"

    def __call__(self, shape, rng, dtype):
        raise NotImplementedError

    def get_config(self):
        return {"name": self.name}

    def __repr__(self):
        return f"{type(self).__name__}()"


class _Normal(Initializer):
    def __call__(self, shape, rng, dtype):
        # drawn in the model's dtype: no float64 temporary for a float32 model
        dtype = np.dtype(dtype)
        W = rng.standard_normal(shape, dtype=dtype)
        W *= dtype.type(self.stddev(shape))
        return W


class _Uniform(Initializer):
    def __call__(self, shape, rng, dtype):
        # Var(U(-l, l)) = l^2 / 3, so l = sqrt(3) * stddev; U(-l, l) = 2l U(0, 1) - l.
        dtype = np.dtype(dtype)
        limit = np.sqrt(3.0) * self.stddev(shape)
        W = rng.random(shape, dtype=dtype)
        W *= dtype.type(2 * limit)
        W -= dtype.type(limit)
        return W


class HeNormal(_Normal):
    """W ~ N(0, 2 / n_in)."""

    name = "he_normal"

    def stddev(self, shape):
        return np.sqrt(2.0 / shape[0])


class HeUniform(_Uniform):
    """W ~ U(-sqrt(6 / n_in), sqrt(6 / n_in))."""

    name = "he_uniform"

    def stddev(self, shape):
        return np.sqrt(2.0 / shape[0])


class Xavier(_Normal):
    """W ~ N(0, 1 / n_in)."""

    name = "xavier"

    def stddev(self, shape):
        return np.sqrt(1.0 / shape[0])


class GlorotNormal(_Normal):
    """W ~ N(0, 2 / (n_in + n_out))."""

    name = "glorot_normal"

    def stddev(self, shape):
        return np.sqrt(2.0 / (shape[0] + shape[1]))


class GlorotUniform(_Uniform):
    """W ~ U(-sqrt(6 / (n_in + n_out)), +sqrt(6 / (n_in + n_out)))."""

    name = "glorot_uniform"

    def stddev(self, shape):
        return np.sqrt(2.0 / (shape[0] + shape[1]))


class RandomNormal(_Normal):
    """W ~ N(0, stddev^2) with a fixed stddev: the naive scheme."""

    name = "random_normal"

    def __init__(self, stddev=0.01):
        stddev = float(stddev)
        if not stddev > 0:
            raise ValueError(f"random_normal stddev must be > 0, got {stddev}")
        self._stddev = stddev

    def stddev(self, shape):
        return self._stddev

    def get_config(self):
        return {"name": self.name, "stddev": self._stddev}

    def __repr__(self):
        return f"RandomNormal(stddev={self._stddev})"


_REGISTRY = {
    "he_normal": HeNormal,
    "he_uniform": HeUniform,
    "xavier": Xavier,
    "glorot_normal": GlorotNormal,
    "glorot_uniform": GlorotUniform,
    "random_normal": RandomNormal,
}
NAMES = tuple(_REGISTRY) + ("auto",)


def auto_for(activation_name):
    """The ``init="auto"`` rule: He for the ReLU family, Glorot (uniform) otherwise."""
    if activation_name in ("relu", "leaky_relu"):
        return HeNormal()
    return GlorotUniform()


def get(spec, activation_name="linear"):
    """Return an :class:`Initializer` from a name, a config dict, an instance or ``"auto"``."""
    if spec is None or spec == "auto":
        return auto_for(activation_name)
    return build(spec, Initializer, _REGISTRY, "initializer", NAMES)
