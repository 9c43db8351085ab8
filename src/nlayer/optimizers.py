"""Optimisers: each owns its state and updates parameters in place from their gradients.

``step(params, grads)`` takes two lists of arrays in the same order; ``grads``
already contains the L2 term ``(lambda/m) W``, so weight decay is part of g.
A step consumes the gradients (it may scale them in place).

Gradient scale: every pass of back propagation is linear in the gradient it
starts from, so the model can start it from ``s dJ/dZ`` and get ``s g`` for
every parameter at no cost. An optimiser names the ``s`` it prefers in
``gradient_scale`` and ``step(..., scale=s)`` is told what the gradients carry.
SGD prefers its learning rate: ``lr g`` then arrives ready-made, which saves one
pass over every weight per step (the update is memory-bound, so that pass is a
quarter of its time).
"""

import math

import numpy as np

from ._fastpaths import zeros_on_huge_pages
from ._registry import build

__all__ = ["Optimizer", "SGD", "Adam", "RMSprop", "get", "NAMES"]


class Optimizer:
    """Base class: learning rate ``lr`` and per-parameter state made on first use."""

    name = "optimizer"

    def __init__(self, lr):
        lr = float(lr)
        if not lr > 0 or not math.isfinite(lr):
            raise ValueError(f"learning rate must be a positive number, got {lr}")
        self.lr = lr
        self.iterations = 0
        self.state = {}  # slot number -> that parameter's arrays (velocity, moments)

    @property
    def gradient_scale(self):
        """The factor ``s`` this optimiser would like its gradients to arrive multiplied by."""
        return 1.0

    def step(self, params, grads, scale=1.0):
        """Update every parameter in place from its gradient (slot i's state follows params[i]).

        ``grads[i]`` holds ``scale`` times the gradient of ``params[i]``.
        """
        scale = float(scale)
        if not scale > 0 or not math.isfinite(scale):  # math: np.isfinite costs 0.5 us a step
            raise ValueError(f"gradient scale must be a positive number, got {scale}")
        self.iterations += 1
        for slot, (p, g) in enumerate(zip(params, grads)):
            state = self.state.get(slot)
            if state is None:
                state = self.state[slot] = self._init_state(p)
            if scale != self.gradient_scale:  # bring g to the scale _update expects
                g *= p.dtype.type(self.gradient_scale / scale)
            self._update(p, g, state)

    def _init_state(self, p):
        return {}

    @staticmethod
    def _zeros_like(p):
        """State array for p (on huge pages when large: every step sweeps it)."""
        return zeros_on_huge_pages(p.size, p.dtype).reshape(p.shape)

    def _update(self, p, g, s):
        """One update of p from ``g = gradient_scale * dJ/dp`` (g may be overwritten)."""
        raise NotImplementedError

    def reset(self):
        self.state, self.iterations = {}, 0

    # -- state for checkpoints (plain arrays, no pickling) ----------------------
    def get_state(self):
        """Copies of the iteration count, learning rate and every slot's arrays."""
        slots = {i: {k: v.copy() for k, v in s.items()} for i, s in self.state.items()}
        return {"iterations": self.iterations, "lr": self.lr, "slots": slots}

    def set_state(self, state):
        self.iterations, self.lr = int(state["iterations"]), float(state["lr"])
        self.state = {int(i): {k: self._copy(v) for k, v in s.items()}
                      for i, s in state["slots"].items()}

    @classmethod
    def _copy(cls, a):
        a = np.asarray(a)
        out = cls._zeros_like(a)
        out[...] = a
        return out

    def get_config(self):
        return {"name": self.name, "lr": self.lr}

    def __repr__(self):
        args = ", ".join(f"{k}={v}" for k, v in self.get_config().items() if k != "name")
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    """Mini-batch gradient descent with (Nesterov) momentum, PyTorch/Keras form::

        v <- mu v - lr g
        w <- w + v                     (nesterov: w <- w + mu v - lr g)

    The article's moving-average form ``v <- beta v + (1 - beta) g; w <- w - alpha v``
    is the same update with ``mu = beta`` and ``lr = alpha (1 - beta)``: its v is this
    v scaled by ``-1 / (alpha (1 - beta))``. With ``momentum=0`` it is plain SGD.
    """

    name = "sgd"

    def __init__(self, lr=0.01, momentum=0.0, nesterov=False):
        super().__init__(lr)
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        if nesterov and momentum == 0:
            raise ValueError("nesterov=True needs momentum > 0")
        self.momentum, self.nesterov = float(momentum), bool(nesterov)

    @property
    def gradient_scale(self):
        return self.lr  # g arrives as lr * dJ/dp

    def _init_state(self, p):
        return {"velocity": self._zeros_like(p)} if self.momentum else {}

    def _update(self, p, g, s):
        # g is lr * dJ/dp here (see gradient_scale)
        if not self.momentum:
            p -= g
            return
        v, mu = s["velocity"], p.dtype.type(self.momentum)
        v *= mu
        v -= g
        if self.nesterov:
            p += mu * v
            p -= g
        else:
            p += v

    def get_config(self):
        return {"name": self.name, "lr": self.lr, "momentum": self.momentum, "nesterov": self.nesterov}


class Adam(Optimizer):
    """Adam (Kingma & Ba)::

        m <- b1 m + (1 - b1) g,   v <- b2 v + (1 - b2) g^2
        w <- w - lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
    """

    name = "adam"

    def __init__(self, lr=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
        super().__init__(lr)
        for label, b in (("beta_1", beta_1), ("beta_2", beta_2)):
            if not 0.0 <= b < 1.0:
                raise ValueError(f"Adam {label} must be in [0, 1), got {b}")
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)

    def _init_state(self, p):
        return {"m": self._zeros_like(p), "v": self._zeros_like(p)}

    def _update(self, p, g, s):
        t, b1, b2 = self.iterations, self.beta_1, self.beta_2
        dt = p.dtype.type
        m, v = s["m"], s["v"]
        m *= dt(b1)
        m += dt(1 - b1) * g
        v *= dt(b2)
        v += dt(1 - b2) * (g * g)
        denom = np.sqrt(v * dt(1.0 / (1 - b2**t)))
        denom += dt(self.epsilon)
        p -= dt(self.lr / (1 - b1**t)) * m / denom

    def get_config(self):
        return {"name": self.name, "lr": self.lr, "beta_1": self.beta_1,
                "beta_2": self.beta_2, "epsilon": self.epsilon}


class RMSprop(Optimizer):
    """RMSprop::

        s <- rho s + (1 - rho) g^2
        w <- w - lr g / (sqrt(s) + eps)
    """

    name = "rmsprop"

    def __init__(self, lr=0.001, rho=0.9, epsilon=1e-7):
        super().__init__(lr)
        if not 0.0 <= rho < 1.0:
            raise ValueError(f"RMSprop rho must be in [0, 1), got {rho}")
        self.rho, self.epsilon = float(rho), float(epsilon)

    def _init_state(self, p):
        return {"s": self._zeros_like(p)}

    def _update(self, p, g, s):
        dt = p.dtype.type
        sq = s["s"]
        sq *= dt(self.rho)
        sq += dt(1 - self.rho) * (g * g)
        denom = np.sqrt(sq)
        denom += dt(self.epsilon)
        p -= dt(self.lr) * g / denom

    def get_config(self):
        return {"name": self.name, "lr": self.lr, "rho": self.rho, "epsilon": self.epsilon}


_REGISTRY = {"sgd": SGD, "adam": Adam, "rmsprop": RMSprop}
NAMES = tuple(_REGISTRY)


def get(spec):
    """Return an :class:`Optimizer` from a name, a config dict or an instance."""
    return build(spec, Optimizer, _REGISTRY, "optimizer")


def from_settings(name, lr, momentum=0.0, nesterov=False):
    """The optimiser called ``name`` with learning rate ``lr``; momentum and nesterov are SGD's
    (the flat settings of the command line and the scikit-learn estimators)."""
    spec = {"name": name, "lr": lr}
    if str(name).lower() == "sgd":
        spec.update(momentum=momentum, nesterov=nesterov)
    return get(spec)
