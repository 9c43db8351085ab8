"""RMSprop: a moving average of g squared scales each parameter's step."""

import numpy as np

from .base import Optimizer, check_number

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """RMSprop::

        s <- rho s + (1 - rho) g^2
        w <- w - lr g / (sqrt(s) + eps)

    ``weight_decay`` is coupled, ``g <- g + wd w`` (PyTorch ``RMSprop(weight_decay=)``).
    """

    name = "rmsprop"

    def __init__(self, lr=0.001, rho=0.9, epsilon=1e-7, weight_decay=0.0):
        super().__init__(lr, weight_decay)
        self.rho = check_number("RMSprop", "rho", rho, 0, 1)
        self.epsilon = check_number("RMSprop", "epsilon", epsilon, low_open=True)

    def _init_state(self, p):
        return {"s": self._zeros_like(p)}

    def _update(self, p, g, s):
        dt = p.dtype.type
        if self.weight_decay:
            g += dt(self.weight_decay) * p
        sq = s["s"]
        sq *= dt(self.rho)
        sq += dt(1 - self.rho) * (g * g)
        denom = np.sqrt(sq)
        denom += dt(self.epsilon)
        p -= dt(self.lr) * g / denom

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "epsilon": self.epsilon}
