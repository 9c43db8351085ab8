"""RMSprop: a moving average of g squared scales each parameter's step."""

from typing import Any

import numpy as np
from numpy.typing import NDArray

from .base import Optimizer, check_number
from .schedules import Schedule

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """RMSprop::

        s <- rho s + (1 - rho) g^2
        w <- w - lr g / (sqrt(s) + eps)

    ``weight_decay`` is coupled, ``g <- g + wd w`` (PyTorch ``RMSprop(weight_decay=)``).

    Parameters
    ----------
    lr : float, Schedule or dict, default 0.001
        A number > 0 or a schedule, as for :class:`~nlayer.Adam`.
    rho : float, default 0.9
        In [0, 1).
    epsilon, weight_decay : float, default 1e-7 and 0.0
        eps > 0 and wd >= 0 (a ValueError or TypeError otherwise).

    Examples
    --------
    The first step moves w by about ``lr / sqrt(1 - rho)`` against the gradient's sign:

    >>> import numpy as np, nlayer as nl
    >>> w, g = np.array([1.0, 1.0]), np.array([1e-3, -50.0])
    >>> nl.RMSprop(lr=0.01).step([w], [g])
    >>> np.round(w, 4)
    array([0.9684, 1.0316])
    """

    name = "rmsprop"

    def __init__(self, lr: float | Schedule | dict[str, Any] = 0.001, rho: float = 0.9,
                 epsilon: float = 1e-7, weight_decay: float = 0.0) -> None:
        super().__init__(lr, weight_decay)
        self.rho = check_number("RMSprop", "rho", rho, 0, 1)
        self.epsilon = check_number("RMSprop", "epsilon", epsilon, low_open=True)

    def _init_state(self, p: NDArray[Any]) -> dict[str, NDArray[Any]]:
        return {"s": self._zeros_like(p)}

    def _update(self, p: NDArray[Any], g: NDArray[Any], s: dict[str, NDArray[Any]]) -> None:
        dt = p.dtype.type
        if self.weight_decay:
            g += dt(self.weight_decay) * p
        sq = s["s"]
        sq *= dt(self.rho)
        sq += dt(1 - self.rho) * (g * g)
        denom = np.sqrt(sq)
        denom += dt(self.epsilon)
        p -= dt(self.lr) * g / denom

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rho": self.rho, "epsilon": self.epsilon}
