"""Adam (Kingma & Ba) and AdamW (Adam with decoupled weight decay, Loshchilov & Hutter)."""

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .base import Optimizer, check_number
from .schedules import Schedule

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    """Adam (Kingma & Ba)::

        m <- b1 m + (1 - b1) g,   v <- b2 v + (1 - b2) g^2
        w <- w - lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)

    ``weight_decay`` is coupled, ``g <- g + wd w`` before the moments (PyTorch
    ``Adam(weight_decay=)``); for decoupled decay use :class:`AdamW`.

    Parameters
    ----------
    lr : float, Schedule or dict, default 0.001
        Learning rate > 0, or a schedule from :mod:`nlayer.schedules` (or its config dict).
    beta_1, beta_2 : float, default 0.9 and 0.999
        b1, b2, in [0, 1).
    epsilon : float, default 1e-7
        eps > 0.
    weight_decay : float, default 0.0
        wd >= 0.

    Raises
    ------
    ValueError, TypeError
        If a number is out of range or of the wrong type.

    Examples
    --------
    The first step moves each weight by about ``lr`` against its gradient's sign, whatever
    the gradient's size (the bias-corrected ``m / sqrt(v)`` is ``g / abs(g)``):

    >>> import numpy as np, nlayer as nl
    >>> w, g = np.array([1.0, 1.0]), np.array([1e-3, -50.0])
    >>> nl.Adam(lr=0.01).step([w], [g])
    >>> np.round(w, 4)
    array([0.99, 1.01])
    """

    name = "adam"
    decoupled = False

    def __init__(self, lr: float | Schedule | dict[str, Any] = 0.001, beta_1: float = 0.9,
                 beta_2: float = 0.999, epsilon: float = 1e-7,
                 weight_decay: float = 0.0) -> None:
        super().__init__(lr, weight_decay)
        owner = type(self).__name__
        self.beta_1 = check_number(owner, "beta_1", beta_1, 0, 1)
        self.beta_2 = check_number(owner, "beta_2", beta_2, 0, 1)
        self.epsilon = check_number(owner, "epsilon", epsilon, low_open=True)

    def _init_state(self, p: NDArray[Any]) -> dict[str, NDArray[Any]]:
        return {"m": self._zeros_like(p), "v": self._zeros_like(p)}

    def _update(self, p: NDArray[Any], g: NDArray[Any], s: dict[str, NDArray[Any]]) -> None:
        t, b1, b2 = self.iterations, self.beta_1, self.beta_2
        dt = p.dtype.type
        if self.weight_decay:
            if self.decoupled:
                p *= dt(1 - self.lr * self.weight_decay)
            else:
                g += dt(self.weight_decay) * p
        # in place, g as the only scratch: a temporary of a large p costs page faults
        m, v = s["m"], s["v"]
        m -= g                                  # m <- b1 m + (1 - b1) g, as b1 (m - g) + g
        m *= dt(b1)
        m += g
        g *= g                                  # g <- g^2
        g *= dt(1 - b2)
        v *= dt(b2)
        v += g
        # lr m_hat / (sqrt(v_hat) + eps) = lr_t m / (sqrt(v) + eps_t), with
        # c = sqrt(1 - b2^t), lr_t = lr c / (1 - b1^t), eps_t = eps c (one pass fewer)
        c = math.sqrt(1 - b2**t)
        np.sqrt(v, out=g)
        g += dt(self.epsilon * c)
        np.divide(m, g, out=g)
        g *= dt(self.lr * c / (1 - b1**t))
        p -= g

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon}


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter), PyTorch's ``AdamW``::

        w <- w (1 - lr wd),   then the Adam update of w

    The decay does not pass through the moments, so it is not scaled down where
    gradients are large.

    Parameters
    ----------
    lr, beta_1, beta_2, epsilon
        As :class:`Adam`.
    weight_decay : float, default 0.01
        wd >= 0 (PyTorch's default).

    Examples
    --------
    >>> import numpy as np, nlayer as nl
    >>> w, g = np.array([1.0, 1.0]), np.array([1e-3, -50.0])
    >>> nl.AdamW(lr=0.01, weight_decay=0.1).step([w], [g])   # w (1 - 0.001), then Adam's step
    >>> np.round(w, 4)
    array([0.989, 1.009])
    """

    name = "adamw"
    decoupled = True

    def __init__(self, lr: float | Schedule | dict[str, Any] = 0.001, beta_1: float = 0.9,
                 beta_2: float = 0.999, epsilon: float = 1e-7,
                 weight_decay: float = 0.01) -> None:
        super().__init__(lr, beta_1, beta_2, epsilon, weight_decay)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "weight_decay": self.weight_decay}
